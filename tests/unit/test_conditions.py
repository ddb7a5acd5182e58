"""Condition steps read live state (DESIGN 4.3): field_exists, field_equals, has_been_sent."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeStore
from mailstep.domain.conditions import check_condition
from mailstep.domain.errors import InvalidEmail, InvalidInput
from mailstep.domain.models import SendRecord

EMAIL = "jane@example.com"
ATTRIBUTES = {"plan": "pro", "seats": 5, "trial": True, "empty": "", "zero": 0, "tags": []}


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.given_profile(EMAIL, first_name="Jane", attributes=ATTRIBUTES)
    return store


def check(store: FakeStore, **payload: Any) -> bool:
    payload.setdefault("subscriber", {"email": EMAIL})
    return check_condition(store, payload)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("plan", True),
        ("seats", True),
        ("zero", True),  # 0 is a value
        ("trial", True),
        ("first_name", True),
        ("empty", False),  # an empty string is no value
        ("tags", False),
        ("missing", False),
    ],
)
def test_field_exists(store: FakeStore, field: str, expected: bool) -> None:
    assert check(store, check="field_exists", field=field) is expected


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("plan", "pro", True),
        ("plan", "basic", False),
        ("plan", "PRO", False),
        ("seats", 5, True),
        ("seats", "5", True),  # Step Functions may hand numbers over as strings
        ("seats", "6", False),
        ("trial", True, True),
        ("trial", "true", True),
        ("trial", "false", False),
        ("trial", False, False),
        ("first_name", "Jane", True),
        ("missing", "anything", False),
    ],
)
def test_field_equals_coerces_numbers_and_booleans(
    store: FakeStore, field: str, value: Any, expected: bool
) -> None:
    assert check(store, check="field_equals", field=field, value=value) is expected


def test_field_checks_on_an_unknown_subscriber_are_false() -> None:
    store = FakeStore()

    assert check(store, check="field_exists", field="plan") is False
    assert check(store, check="field_equals", field="plan", value="pro") is False


def test_the_subscriber_address_is_normalised_before_the_lookup(store: FakeStore) -> None:
    assert check(store, check="field_equals", field="plan", value="pro",
                 subscriber={"email": "  JANE@Example.com "})  # fmt: skip


def test_has_been_sent(store: FakeStore) -> None:
    assert check(store, check="has_been_sent", template="onboarding/welcome") is False

    store.record_send(
        EMAIL,
        SendRecord("onboarding", "onboarding/welcome", "Hi", "m-1", "2025-03-10T09:00:00Z"),
        None,
    )

    assert check(store, check="has_been_sent", template="onboarding/welcome") is True
    assert check(store, check="has_been_sent", template="onboarding/nudge") is False


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"check": "field_matches", "field": "plan"}, InvalidInput),
        ({"field": "plan"}, InvalidInput),
        ({"check": "field_exists"}, InvalidInput),
        ({"check": "field_exists", "field": ""}, InvalidInput),
        ({"check": "field_equals", "field": "plan"}, InvalidInput),
        ({"check": "field_equals", "value": "pro"}, InvalidInput),
        ({"check": "has_been_sent"}, InvalidInput),
        ({"check": "has_been_sent", "template": "../etc/passwd"}, InvalidInput),
        ({"check": "field_exists", "field": "plan", "subscriber": None}, InvalidInput),
        ({"check": "field_exists", "field": "plan", "subscriber": "jane"}, InvalidInput),
        ({"check": "field_exists", "field": "plan", "subscriber": {}}, InvalidEmail),
        ({"check": "field_exists", "field": "plan", "subscriber": {"email": "x"}}, InvalidEmail),
    ],
)
def test_bad_payloads_raise(
    store: FakeStore, payload: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        check(store, **payload)


def test_missing_value_is_an_error_even_for_an_unknown_subscriber() -> None:
    with pytest.raises(InvalidInput, match="value"):
        check(FakeStore(), check="field_equals", field="plan")
