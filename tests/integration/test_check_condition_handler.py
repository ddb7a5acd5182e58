"""check-condition under moto: the three checks read live DynamoDB state."""

from __future__ import annotations

from typing import Any

import pytest
from handler_kit import EMAIL, WELCOME, register_payload, send_payload, subscriber
from mailstep.adapters.dynamo import serialize
from mailstep.domain.errors import InvalidEmail, InvalidInput
from mailstep.handlers import check_condition, send_email
from support import ENV, Aws, LambdaContext

ATTRIBUTES = {"plan": "pro", "seats": 5, "trial": True, "ratio": 0.5, "a-b": "dash", "empty": ""}


def check(context: LambdaContext, **payload: Any) -> dict[str, bool]:
    payload.setdefault("subscriber", {"email": "JANE@example.com"})
    return check_condition.handler(payload, context)


@pytest.fixture
def registered(aws: Aws, context: LambdaContext) -> Aws:
    arn = aws.start_execution()
    send_email.handler(register_payload(arn, subscriber=subscriber(attributes=ATTRIBUTES)), context)
    return aws


FIELD_EXISTS = {"plan": True, "seats": True, "a-b": True, "first_name": True, "empty": False,
                "missing": False}  # fmt: skip
FIELD_EQUALS = [
    ("plan", "pro", True),
    ("plan", "basic", False),
    ("seats", 5, True),  # stored as a DynamoDB number
    ("seats", "5", True),
    ("trial", "true", True),
    ("trial", False, False),
    ("ratio", 0.5, True),
    ("a-b", "dash", True),
    ("missing", "pro", False),
]


# One moto account per test is the slow part, so each test checks a table of cases.
def test_field_exists(registered: Aws, context: LambdaContext) -> None:
    results = {
        field: check(context, check="field_exists", field=field)["result"] for field in FIELD_EXISTS
    }

    assert results == FIELD_EXISTS


def test_field_equals(registered: Aws, context: LambdaContext) -> None:
    results = [
        (field, value, check(context, check="field_equals", field=field, value=value)["result"])
        for field, value, _ in FIELD_EQUALS
    ]

    assert results == FIELD_EQUALS


def test_field_checks_for_an_unknown_address_are_false(aws: Aws, context: LambdaContext) -> None:
    assert check(context, check="field_exists", field="plan") == {"result": False}
    assert check(context, check="field_equals", field="plan", value="pro") == {"result": False}
    assert aws.all_items() == []


def test_has_been_sent_is_true_after_a_send_despite_many_older_sends(
    aws: Aws, context: LambdaContext
) -> None:
    # GIVEN 50 earlier sends of other templates (a Limit+Filter query would miss ours)
    db = aws.client("dynamodb")
    for i in range(50):
        sent_at = f"2024-01-01T00:00:{i:02d}.000Z"
        for row in (
            {"PK": f"SUB#{EMAIL}", "SK": f"SENT#{sent_at}#m-{i}", "template_key": f"other/t{i}"},
            {"PK": f"SUB#{EMAIL}", "SK": f"TPL#other/t{i}", "last_sent_at": sent_at},
        ):
            db.put_item(TableName=ENV["MAILSTEP_TABLE"], Item=serialize(row))
    aws.put_template(f"{WELCOME}.html", "<p>Hi</p>")
    assert check(context, check="has_been_sent", template=WELCOME) == {"result": False}

    # WHEN the welcome email is sent
    send_email.handler(send_payload(aws.start_execution()), context)

    # THEN
    assert check(context, check="has_been_sent", template=WELCOME) == {"result": True}
    assert check(context, check="has_been_sent", template="onboarding/nudge") == {"result": False}
    assert check(context, check="has_been_sent", template="other/t0") == {"result": True}


BAD_INPUT: list[tuple[dict[str, Any], type[Exception]]] = [
    ({"check": "field_like", "field": "plan"}, InvalidInput),
    ({"field": "plan"}, InvalidInput),
    ({"check": "field_exists"}, InvalidInput),
    ({"check": "field_equals", "field": "plan"}, InvalidInput),
    ({"check": "has_been_sent"}, InvalidInput),
    ({"check": "field_exists", "field": "plan", "subscriber": None}, InvalidInput),
    ({"check": "field_exists", "field": "plan", "subscriber": {}}, InvalidEmail),
    ({"check": "field_exists", "field": "plan", "subscriber": {"email": "a@b"}}, InvalidEmail),
]


def test_bad_input_raises(registered: Aws, context: LambdaContext) -> None:
    raised: list[type[Exception] | None] = []
    for payload, _ in BAD_INPUT:
        try:
            check(context, **payload)
        except Exception as exc:
            raised.append(type(exc))
        else:
            raised.append(None)

    assert raised == [error for _, error in BAD_INPUT]
