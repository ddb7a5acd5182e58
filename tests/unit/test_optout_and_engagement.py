"""Opting out and engagement, against fakes: unsubscribes stop marketing runs only,
suppressions stop everything, engagement events are recorded and counted once."""

from __future__ import annotations

import pytest
from fakes import SECRET, FakeEngagementStore, World
from mailstep.domain.attribution import HEADER_BROADCAST, HEADER_SEQUENCE, HEADER_STEP
from mailstep.domain.engagement import event_item, record_engagement
from mailstep.domain.errors import InvalidToken
from mailstep.domain.models import Execution, SendRecord
from mailstep.domain.optout import handle_bounce_or_complaint, unsubscribe_with_token
from mailstep.domain.ses_events import parse_ses_message
from mailstep.domain.tokens import issue_token
from support import load_event

EMAIL = "jane@example.com"


def arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:mailstep-{name}:run"


@pytest.fixture
def world() -> World:
    world = World()
    world.store.given_profile(EMAIL, first_name="Jane")
    for sequence, transactional in (("onboarding", False), ("receipts", True), ("promo", False)):
        world.store.executions[(EMAIL, sequence)] = Execution(
            sequence, arn(sequence), "2025-03-01T00:00:00.000Z", transactional
        )
    return world


def token_for(world: World, email: str = EMAIL) -> str:
    return issue_token(SECRET, email, int(world.now.timestamp()), 3600)


def test_unsubscribe_stops_marketing_runs_and_keeps_transactional_ones(world: World) -> None:
    result = unsubscribe_with_token(world.services, token_for(world))

    assert (result.email, result.known, result.stopped) == (EMAIL, True, 2)
    assert world.store.profiles[EMAIL].unsubscribed is True
    assert sorted(world.stopper.arns) == [arn("onboarding"), arn("promo")]
    assert list(world.store.executions) == [(EMAIL, "receipts")]
    assert world.publisher.of_type("subscriber.unsubscribed") == [
        {"email": EMAIL, "stopped_runs": 2}
    ]


def test_unsubscribe_twice_is_idempotent(world: World) -> None:
    unsubscribe_with_token(world.services, token_for(world))

    again = unsubscribe_with_token(world.services, token_for(world))

    assert (again.known, again.stopped) == (True, 0)
    assert len(world.stopper.stopped) == 2


def test_unsubscribe_of_an_unknown_address_creates_nothing(world: World) -> None:
    result = unsubscribe_with_token(world.services, token_for(world, "nobody@example.com"))

    assert result.known is False
    assert "nobody@example.com" not in world.store.profiles
    assert world.stopper.stopped == []
    assert world.publisher.events == []


@pytest.mark.parametrize("token", [None, "", "v1.garbage"])
def test_unsubscribe_with_a_bad_token_raises_and_changes_nothing(
    world: World, token: str | None
) -> None:
    with pytest.raises(InvalidToken):
        unsubscribe_with_token(world.services, token)

    assert world.store.profiles[EMAIL].unsubscribed is False
    assert world.stopper.stopped == []


@pytest.mark.parametrize(
    "sample",
    [
        "ses_event_bounce_permanent.json",
        "ses_notification_bounce_permanent.json",
        "ses_event_complaint.json",
        "ses_notification_complaint.json",
    ],
)
def test_permanent_bounce_or_complaint_suppresses_and_stops_every_run(
    world: World, sample: str
) -> None:
    event = parse_ses_message(load_event(sample))

    [outcome] = handle_bounce_or_complaint(world.services, event)

    assert (outcome.email, outcome.action, outcome.stopped) == (EMAIL, "suppressed", 3)
    assert world.store.suppressions[EMAIL].reason == event.kind
    assert world.store.profiles[EMAIL].suppressed is True
    assert world.store.executions == {}
    assert arn("receipts") in world.stopper.arns  # transactional runs stop too
    [published] = world.publisher.of_type("subscriber.suppressed")
    assert published["reason"] == event.kind


def test_transient_bounce_is_recorded_not_suppressed(world: World) -> None:
    event = parse_ses_message(load_event("ses_event_bounce_transient.json"))

    [outcome] = handle_bounce_or_complaint(world.services, event)

    assert outcome.action == "recorded"
    assert world.store.suppressions == {}
    assert len(world.store.executions) == 3


def test_other_events_are_not_opt_outs(world: World) -> None:
    event = parse_ses_message(load_event("ses_event_delivery.json"))

    assert handle_bounce_or_complaint(world.services, event) == []
    assert world.store.suppressions == {}


def test_event_item_leaves_unknown_index_keys_out() -> None:
    message = load_event("ses_notification_bounce_permanent.json")
    del message["mail"]["headers"]
    event = parse_ses_message(message)

    item = event_item(event, EMAIL, ttl=123)

    assert "template_key" not in item
    assert "sequence_id" not in item
    assert item["SK"] == f"EVT#{event.timestamp}#bounce#{event.message_id}"


def test_engagement_is_recorded_and_counted_once(world: World) -> None:

    events = FakeEngagementStore()
    event = parse_ses_message(load_event("ses_event_open.json"))

    def record() -> dict[str, object]:
        return record_engagement(
            events, world.store, world.publisher, event, now_epoch=1000, now_iso="now"
        )

    assert record() == {"recorded": 1, "duplicates": 0}
    assert record() == {"recorded": 0, "duplicates": 1}
    [item] = events.items.values()
    assert item["ttl"] == 1000 + 365 * 86400
    assert world.store.counts[("onboarding", "COUNTERS")]["opened"] == 1
    assert world.store.counts[("onboarding", "STEP#welcome")]["opened"] == 1
    assert len(world.publisher.of_type("email.opened")) == 1


def test_send_events_are_ignored(world: World) -> None:

    events = FakeEngagementStore()
    event = parse_ses_message(load_event("ses_event_send.json"))

    result = record_engagement(
        events, world.store, world.publisher, event, now_epoch=1, now_iso="n"
    )

    assert result == {"recorded": 0, "duplicates": 0, "ignored": "send"}
    assert events.items == {}
    assert world.store.counts == {}


def sent(world: World, sent_at: str, **attribution: str) -> None:
    world.store.record_send(
        EMAIL, SendRecord(template="t/x", subject="Hi", message_id=sent_at, sent_at=sent_at,
                          **{"sequence_id": None, **attribution}), None,
    )  # fmt: skip


def test_an_unsubscribe_is_counted_once_against_the_latest_email(world: World) -> None:
    sent(world, "2025-03-01T00:00:00.000Z", sequence_id="onboarding", step_id="welcome")
    sent(world, "2025-03-05T00:00:00.000Z", sequence_id="promo", step_id="offer")

    unsubscribe_with_token(world.services, token_for(world))
    unsubscribe_with_token(world.services, token_for(world))  # already unsubscribed

    assert world.store.counts == {
        ("promo", "COUNTERS"): {"unsubscribed": 1},
        ("promo", "STEP#offer"): {"unsubscribed": 1},
    }


def test_an_unsubscribe_after_a_broadcast_counts_for_the_broadcast(world: World) -> None:
    sent(world, "2025-03-01T00:00:00.000Z", sequence_id="onboarding", step_id="welcome")
    sent(world, "2025-03-09T00:00:00.000Z", broadcast_id="spring-sale")

    unsubscribe_with_token(world.services, token_for(world))

    assert world.store.counts == {("broadcast#spring-sale", "COUNTERS"): {"unsubscribed": 1}}


def test_an_unsubscribe_with_no_email_sent_counts_nothing(world: World) -> None:
    unsubscribe_with_token(world.services, token_for(world))

    assert world.store.profiles[EMAIL].unsubscribed is True
    assert world.store.counts == {}


def test_engagement_with_a_broadcast_email_counts_for_the_broadcast(world: World) -> None:
    message = load_event("ses_event_click.json")
    message["mail"]["headers"] = [
        h for h in message["mail"]["headers"] if h["name"] not in (HEADER_SEQUENCE, HEADER_STEP)
    ] + [{"name": HEADER_BROADCAST, "value": "spring-sale"}]
    message["mail"].pop("tags", None)
    event = parse_ses_message(message)

    record_engagement(
        FakeEngagementStore(), world.store, world.publisher, event, now_epoch=1, now_iso="n"
    )

    assert world.store.counts == {("broadcast#spring-sale", "COUNTERS"): {"clicked": 1}}
    [detail] = world.publisher.of_type("email.clicked")
    assert detail["broadcast_id"] == "spring-sale"
    assert detail["sequence_id"] is None
