"""subscribe under moto: EventBridge events upsert the profile and keep the TAG# index
exactly in step with the stored tags."""

from __future__ import annotations

from typing import Any

import pytest
from handler_kit import EMAIL, item, update_profile
from mailstep.adapters import wiring
from mailstep.domain.errors import ConcurrentUpdate, InvalidEmail, InvalidInput
from mailstep.handlers import subscribe
from support import Aws, LambdaContext, load_event


def event(detail_type: str = "subscriber.updated", **detail: Any) -> dict[str, Any]:
    sample = load_event("eventbridge_trial_started.json")
    sample["detail-type"] = detail_type
    sample["detail"] = {"email": "Jane@Example.com", **detail}
    return sample


def tag_index(aws: Aws) -> dict[str, list[str]]:
    """tag -> emails, from every TAG# row in the main table."""
    index: dict[str, list[str]] = {}
    for row in aws.all_items():
        if row["PK"].startswith("TAG#"):
            assert row["SK"] == f"SUB#{row['email']}"
            index.setdefault(row["PK"].removeprefix("TAG#"), []).append(row["email"])
    return {tag: sorted(emails) for tag, emails in sorted(index.items())}


def profile(aws: Aws) -> dict[str, Any]:
    found = item(aws, f"SUB#{EMAIL}", "PROFILE")
    assert found is not None
    return found


def test_tags_and_their_index_stay_in_step(aws: Aws, context: LambdaContext) -> None:
    steps: list[tuple[dict[str, Any], list[str]]] = [
        ({"tags": ["beta", "vip"], "firstName": "Jane"}, ["beta", "vip"]),
        ({"add_tags": ["trial", "vip"]}, ["beta", "trial", "vip"]),
        ({"remove_tags": ["beta", "unknown"]}, ["trial", "vip"]),
        ({"tags": ["pro"], "add_tags": ["annual"]}, ["annual", "pro"]),
        ({"attributes": {"plan": "pro"}}, ["annual", "pro"]),
        ({"tags": []}, []),
    ]
    other = event("subscriber.subscribed", tags=["vip"])
    other["detail"]["email"] = "bob@example.com"
    subscribe.handler(other, context)

    for index, (detail, tags) in enumerate(steps):
        kind = "subscriber.subscribed" if index == 0 else "subscriber.updated"
        result = subscribe.handler(event(kind, **detail), context)

        assert result == {"status": "updated", "email": EMAIL, "tags": tags}, detail
        assert sorted(profile(aws).get("tags") or []) == tags
        expected = {tag: [EMAIL] for tag in tags}
        expected["vip"] = sorted([*expected.get("vip", []), "bob@example.com"])
        assert tag_index(aws) == dict(sorted(expected.items())), detail


def test_attributes_merge_and_flags_stay(aws: Aws, context: LambdaContext) -> None:
    subscribe.handler(
        event("subscriber.subscribed", firstName="Jane", attributes={"plan": "pro", "a-b": 1}),
        context,
    )
    update_profile(aws, unsubscribed=True, suppressed=True)

    subscribe.handler(event(attributes={"plan": "team", "x.y": "dot"}, add_tags=["t"]), context)

    stored = profile(aws)
    assert stored["attributes"] == {"plan": "team", "a-b": 1, "x.y": "dot"}
    assert (stored["first_name"], stored["unsubscribed"], stored["suppressed"]) == (
        "Jane", True, True,
    )  # fmt: skip
    assert aws.published == []  # no lifecycle events: nothing to loop on


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"detail-type": "trial.started"}, InvalidInput),
        ({"detail": "jane@example.com"}, InvalidInput),
        ({"detail": {"email": "nope"}}, InvalidEmail),
        ({"detail": {"email": EMAIL, "tags": "vip"}}, InvalidInput),
    ],
)
def test_bad_events_raise_for_retry_and_dlq(
    aws: Aws, context: LambdaContext, bad: dict[str, Any], error: type
) -> None:
    with pytest.raises(error):
        subscribe.handler({**event(), **bad}, context)

    assert aws.all_items() == []


def test_a_concurrent_tag_change_is_retried_not_lost(aws: Aws, context: LambdaContext) -> None:
    subscribe.handler(event("subscriber.subscribed", tags=["a"]), context)
    store = wiring.store()
    calls: list[tuple[str, ...]] = []

    def add_b(current: tuple[str, ...]) -> tuple[str, ...]:
        calls.append(current)
        if len(calls) == 1:  # another writer gets in between our read and our write
            store.change_tags(EMAIL, lambda tags: (*tags, "c"), "2025-03-10T09:00:00.000Z")
        return (*current, "b")

    assert store.change_tags(EMAIL, add_b, "2025-03-10T09:00:01.000Z") == ("a", "b", "c")
    assert calls == [("a",), ("a", "c")]
    assert tag_index(aws) == {"a": [EMAIL], "b": [EMAIL], "c": [EMAIL]}


def test_many_tags_at_once_stay_in_step(aws: Aws, context: LambdaContext) -> None:
    many = [f"t{n:03d}" for n in range(150)]  # more than one transaction holds
    subscribe.handler(event("subscriber.subscribed", tags=many), context)
    assert tag_index(aws) == {tag: [EMAIL] for tag in many}

    subscribe.handler(event(remove_tags=many[:120]), context)
    assert tag_index(aws) == {tag: [EMAIL] for tag in many[120:]}
    assert sorted(profile(aws)["tags"]) == many[120:]


def test_tags_that_keep_changing_raise_for_a_later_retry(aws: Aws, context: LambdaContext) -> None:
    subscribe.handler(event("subscriber.subscribed", tags=["a"]), context)
    store = wiring.store()

    def always_raced(current: tuple[str, ...]) -> tuple[str, ...]:
        store.change_tags(EMAIL, lambda tags: (*tags, f"x{len(tags)}"), "2025-03-10T09:00:00.000Z")
        return (*current, "b")

    with pytest.raises(ConcurrentUpdate):
        store.change_tags(EMAIL, always_raced, "2025-03-10T09:00:01.000Z")

    stored = sorted(profile(aws)["tags"])
    assert "b" not in stored
    assert tag_index(aws) == {tag: [EMAIL] for tag in stored}
