"""Payload builders and small helpers shared by the handler integration tests."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from mailstep.adapters import config
from mailstep.adapters.dynamo import key, serialize
from mailstep.domain.tokens import issue_token
from support import ENV, SECRET, SENDER, Aws, load_event

EMAIL = "jane@example.com"
SEQUENCE = "onboarding"
WELCOME = "onboarding/welcome"
EVENTS_TABLE = ENV["MAILSTEP_EVENTS_TABLE"]


def subscriber(**extra: Any) -> dict[str, Any]:
    return {"email": "Jane@Example.com", "first_name": "Jane", "attributes": {"plan": "pro"},
            **extra}  # fmt: skip


def register_payload(arn: str, **overrides: Any) -> dict[str, Any]:
    payload = {"action": "register", "sequence_id": SEQUENCE, "execution_arn": arn,
               "subscriber": subscriber()}  # fmt: skip
    payload.update(overrides)
    return payload


def send_payload(arn: str, **overrides: Any) -> dict[str, Any]:
    payload = {
        "action": "send",
        "sequence_id": SEQUENCE,
        "step_id": "welcome",
        "execution_arn": arn,
        "template": WELCOME,
        "subject": "Welcome, {{ first_name }}",
        "sender": {"from": SENDER, "reply_to": "support@acme.test"},
        "subscriber": subscriber(),
    }
    payload.update(overrides)
    return payload


def fire_payload(**overrides: Any) -> dict[str, Any]:
    payload = {
        "action": "fire_and_forget",
        "sequence_id": SEQUENCE,
        "template": "onboarding/payment-failed",
        "subject": "Your payment failed",
        "sender": {"from": SENDER},
        "subscriber": subscriber(),
    }
    payload.update(overrides)
    return payload


def complete_payload(arn: str, email: str = EMAIL) -> dict[str, Any]:
    return {"action": "complete", "sequence_id": SEQUENCE, "execution_arn": arn,
            "subscriber": {"email": email}}  # fmt: skip


def status_change(arn: str, email: str = EMAIL, status: str = "TIMED_OUT") -> dict[str, Any]:
    """The documented status-change sample, adapted to one of our runs."""
    event = load_event("sfn_status_change_timed_out.json")
    event["resources"] = [arn]
    event["detail"].update(
        executionArn=arn,
        name=arn.rsplit(":", 1)[-1],
        status=status,
        input=json.dumps({"subscriber": {"email": email}, "event_id": "evt-1"}),
    )
    return event


def set_config(aws: Aws, **settings: Any) -> None:
    """Replace the runtime config JSON in SSM and drop the 5-minute cache."""
    aws.client("ssm").put_parameter(
        Name=ENV["MAILSTEP_CONFIG_PARAMETER"], Type="String", Overwrite=True,
        Value=json.dumps({"unsubscribe_url": "https://unsub.example.test/", **settings}),
    )  # fmt: skip
    config.reset()


def item(aws: Aws, pk: str, sk: str, table: str = ENV["MAILSTEP_TABLE"]) -> dict[str, Any] | None:
    return next((i for i in aws.items(pk, table) if i["SK"] == sk), None)


def sks(aws: Aws, pk: str, table: str = ENV["MAILSTEP_TABLE"]) -> list[str]:
    return sorted(i["SK"] for i in aws.items(pk, table))


def exec_rows(aws: Aws, email: str = EMAIL, sequence: str = SEQUENCE) -> list[dict[str, Any]]:
    """Both rows of a run: subscriber side and sequence side (whichever exist)."""
    rows = [
        item(aws, f"SUB#{email}", f"EXEC#{sequence}"),
        item(aws, f"SEQ#{sequence}", f"SUB#{email}"),
    ]
    return [r for r in rows if r is not None]


def update_profile(aws: Aws, email: str = EMAIL, **fields: Any) -> None:
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = serialize({f":f{i}": value for i, value in enumerate(fields.values())})
    aws.client("dynamodb").update_item(
        TableName=ENV["MAILSTEP_TABLE"], Key=key(f"SUB#{email}", "PROFILE"),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names, ExpressionAttributeValues=values,
    )  # fmt: skip


def token_for(email: str = EMAIL, *, issued: int | None = None, ttl: int = 3600) -> str:
    now = int(time.time()) if issued is None else issued
    return issue_token(SECRET.encode(), email, now, ttl)


def strings(value: Any) -> Iterator[str]:
    """Every string inside a nested structure (keys and values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v)


def sent_headers(params: dict[str, Any]) -> dict[str, str]:
    return {h["Name"]: h["Value"] for h in params["Content"]["Simple"]["Headers"]}


def published(aws: Aws, detail_type: str) -> list[dict[str, Any]]:
    return [e["Detail"] for e in aws.published if e["DetailType"] == detail_type]
