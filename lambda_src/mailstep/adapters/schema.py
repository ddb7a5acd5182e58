"""The two tables' key schemas, as CreateTable arguments.

Terraform (modules/core) declares the same tables; a Terraform test checks they agree.
Tests and the local sandbox create tables from here.
"""

from __future__ import annotations

from typing import Any

_KEYS = [
    {"AttributeName": "PK", "KeyType": "HASH"},
    {"AttributeName": "SK", "KeyType": "RANGE"},
]

MAIN_TABLE: dict[str, Any] = {
    "KeySchema": _KEYS,
    "AttributeDefinitions": [
        {"AttributeName": "PK", "AttributeType": "S"},
        {"AttributeName": "SK", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

EVENTS_INDEXES = {"by_template": "template_key", "by_sequence": "sequence_id"}

EVENTS_TABLE: dict[str, Any] = {
    "KeySchema": _KEYS,
    "AttributeDefinitions": [
        {"AttributeName": "PK", "AttributeType": "S"},
        {"AttributeName": "SK", "AttributeType": "S"},
        *({"AttributeName": a, "AttributeType": "S"} for a in EVENTS_INDEXES.values()),
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": attribute, "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        for name, attribute in EVENTS_INDEXES.items()
    ],
    "BillingMode": "PAY_PER_REQUEST",
}

TTL_ATTRIBUTE = "ttl"
