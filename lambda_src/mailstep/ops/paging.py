"""Paginated DynamoDB reads with opaque cursors (base64 of the next start key).

A page holds up to ``limit`` matching items: DynamoDB's ``Limit`` counts items *read*
(before any filter), so we keep reading until the page is full or the data ends, and the
cursor then points at the last item returned (a valid ExclusiveStartKey), not at the end
of DynamoDB's page, so nothing is skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from mailstep.adapters.dynamo import deserialize
from mailstep.domain.errors import InvalidInput

MAX_LIMIT = 1000
Page = dict[str, Any]


def encode_cursor(start_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(start_key, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("cursor is not one this tool returned") from exc
    if not isinstance(value, dict) or not value:
        raise InvalidInput("cursor is not one this tool returned")
    return value


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit!r}")
    return limit


def read_page(
    call: Callable[..., dict[str, Any]],
    params: dict[str, Any],
    *,
    limit: int,
    cursor: str | None,
    key_attributes: tuple[str, ...] = ("PK", "SK"),
) -> Page:
    """Items (plain dicts) of a Query or Scan, up to ``limit``, and the next cursor."""
    check_limit(limit)
    request = dict(params)
    start = decode_cursor(cursor)
    if start:
        request["ExclusiveStartKey"] = start
    items: list[dict[str, Any]] = []
    while True:
        request["Limit"] = max(limit - len(items), 1) if "FilterExpression" not in request else 100
        response = call(**request)
        raw_items = response.get("Items", [])
        more = "LastEvaluatedKey" in response
        for index, raw in enumerate(raw_items):
            items.append(deserialize(raw))
            if len(items) == limit:
                last = index == len(raw_items) - 1
                if last and not more:
                    return {"items": items, "next_cursor": None}
                start_key = {a: raw[a] for a in key_attributes if a in raw}
                return {"items": items, "next_cursor": encode_cursor(start_key)}
        if not more:
            return {"items": items, "next_cursor": None}
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
