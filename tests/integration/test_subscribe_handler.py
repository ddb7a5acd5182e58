"""subscribe under moto: EventBridge events upsert the profile and keep the TAG# index
exactly in step with the stored tags."""

from __future__ import annotations

from typing import Any

import pytest
from handler_kit import EMAIL, item, update_profile
from mailstep.domain.errors import InvalidEmail, InvalidInput
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
