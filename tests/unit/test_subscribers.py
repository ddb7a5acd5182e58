"""subscriber.subscribed / subscriber.updated against the fake store: tags replaced,
added, removed and cleared; attributes merged; flags untouched; bad details raise."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeStore
from mailstep.domain.errors import InvalidEmail, InvalidInput
from mailstep.domain.subscribers import apply_update

EMAIL = "jane@example.com"
NOW = "2025-03-10T09:00:00.000Z"


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    store.given_profile(
        EMAIL, first_name="Jane", attributes={"plan": "pro", "seats": 5}, tags=("beta", "vip"),
        unsubscribed=True, suppressed=True,
    )  # fmt: skip
    return store


def update(store: FakeStore, **detail: Any) -> tuple[str, ...]:
    apply_update(store, {"email": "Jane@Example.com", **detail}, NOW)
    return store.profiles[EMAIL].tags


def test_tags_replace_add_remove_and_clear(store: FakeStore) -> None:
    assert update(store, tags=["new", " beta "]) == ("beta", "new")
    assert update(store, add_tags=["x", "beta"]) == ("beta", "new", "x")
    assert update(store, remove_tags=["new", "never-had"]) == ("beta", "x")
    assert update(store, tags=["a"], add_tags=["b"], remove_tags=["a"]) == ("b",)
    assert update(store, add_tags=["c"], remove_tags=["c"]) == ("b",)  # removal wins
    assert update(store, tags=[]) == ()
    assert update(store, add_tags=[], remove_tags=[]) == ()


def test_without_tag_fields_the_tags_stay(store: FakeStore) -> None:
    result = apply_update(store, {"email": EMAIL, "attributes": {"plan": "team"}}, NOW)

    assert result == {"status": "updated", "email": EMAIL, "tags": ["beta", "vip"]}
    assert store.calls["get_profile"] == 0


def test_attributes_merge_and_flags_stay(store: FakeStore) -> None:
    update(store, firstName="Janet", attributes={"plan": "team", "a-b": 1}, add_tags=["x"])

    profile = store.profiles[EMAIL]
    assert profile.first_name == "Janet"
    assert profile.attributes == {"plan": "team", "seats": 5, "a-b": 1}
    assert (profile.unsubscribed, profile.suppressed) == (True, True)
    assert profile.updated_at == NOW


def test_unknown_email_creates_the_profile() -> None:
    store = FakeStore()

    result = apply_update(store, {"email": "NEW@example.com", "add_tags": ["trial"]}, NOW)

    assert result == {"status": "updated", "email": "new@example.com", "tags": ["trial"]}
    profile = store.profiles["new@example.com"]
    assert (profile.unsubscribed, profile.suppressed, profile.created_at) == (False, False, NOW)


@pytest.mark.parametrize(
    ("detail", "error"),
    [
        (None, InvalidInput),
        ("jane@example.com", InvalidInput),
        ({}, InvalidInput),
        ({"email": "not-an-address"}, InvalidEmail),
        ({"firstName": "Jane"}, InvalidEmail),
        ({"email": EMAIL, "tags": "vip"}, InvalidInput),
        ({"email": EMAIL, "add_tags": [1]}, InvalidInput),
        ({"email": EMAIL, "remove_tags": {"vip": True}}, InvalidInput),
        ({"email": EMAIL, "attributes": ["plan"]}, InvalidInput),
        ({"email": EMAIL, "add_tags": ["x" * 129]}, InvalidInput),
    ],
)
def test_bad_details_raise_and_write_nothing(store: FakeStore, detail: Any, error: type) -> None:
    before = dict(store.profiles)

    with pytest.raises(error):
        apply_update(store, detail, NOW)

    assert store.profiles == before
    assert store.calls["upsert_profile"] == 0
