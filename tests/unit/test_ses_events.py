"""SES notifications in both shapes (DESIGN 4.6), parsed from the documented samples."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mailstep.domain.errors import InvalidInput
from mailstep.domain.ses_events import parse_ses_message
from support import load_event

MESSAGE_ID = "0100018c3a9e5b7f-2d1c4e6a-8b3f-4c5d-9e7a-1f2b3c4d5e6f-000000"


@pytest.mark.parametrize(
    ("sample", "kind", "timestamp"),
    [
        ("ses_event_send.json", "send", "2025-03-10T09:00:00.123Z"),
        ("ses_event_delivery.json", "delivery", "2025-03-10T09:00:01.789Z"),
        ("ses_event_bounce_permanent.json", "bounce", "2025-03-10T09:00:02.345Z"),
        ("ses_event_bounce_transient.json", "bounce", "2025-03-10T09:00:02.345Z"),
        ("ses_event_complaint.json", "complaint", "2025-03-10T10:15:30.000Z"),
        ("ses_event_open.json", "open", "2025-03-10T09:05:12.456Z"),
        ("ses_event_click.json", "click", "2025-03-10T09:06:40.789Z"),
        ("ses_notification_bounce_permanent.json", "bounce", "2025-03-10T09:00:02.345Z"),
        ("ses_notification_complaint.json", "complaint", "2025-03-10T10:15:30.000Z"),
    ],
)
def test_every_sample_parses_with_recipient_and_attribution(
    sample: str, kind: str, timestamp: str
) -> None:
    message = load_event(sample)

    event = parse_ses_message(message)

    assert event.kind == kind
    assert event.message_id == MESSAGE_ID
    assert event.recipients == ("jane@example.com",)
    assert event.invalid_recipients == ()
    assert event.timestamp == timestamp  # the event's own time, else the send time
    assert event.sequence_id == "onboarding"
    assert event.template == "onboarding/welcome"
    assert event.step_id == "welcome"
    assert event.subject == "Welcome to Acme, Jane"


def test_permanent_bounce_details() -> None:
    event = parse_ses_message(load_event("ses_event_bounce_permanent.json"))

    assert event.permanent_bounce
    assert (event.bounce_type, event.bounce_sub_type) == ("Permanent", "General")
    assert event.feedback_id == "0100018c3a9e6a11-5c2e7f90-1a2b-4c3d-8e9f-0a1b2c3d4e5f-000000"


def test_transient_bounce_is_not_permanent() -> None:
    event = parse_ses_message(load_event("ses_event_bounce_transient.json"))

    assert not event.permanent_bounce
    assert (event.bounce_type, event.bounce_sub_type) == ("Transient", "MailboxFull")


def test_classic_complaint_carries_the_feedback_type() -> None:
    event = parse_ses_message(load_event("ses_notification_complaint.json"))

    assert event.complaint_type == "abuse"
    assert not event.permanent_bounce


def test_click_carries_link_and_user_agent() -> None:
    message = load_event("ses_event_click.json")

    event = parse_ses_message(message)

    assert event.link == message["click"]["link"]
    assert event.user_agent == message["click"]["userAgent"]


def without_headers(message: dict[str, Any]) -> dict[str, Any]:
    message = copy.deepcopy(message)
    del message["mail"]["headers"]
    del message["mail"]["commonHeaders"]
    return message


def test_attribution_falls_back_to_tags_when_headers_are_missing() -> None:
    event = parse_ses_message(without_headers(load_event("ses_event_delivery.json")))

    assert event.sequence_id == "onboarding"
    assert event.template == "onboarding/welcome"  # the tag says onboarding--welcome
    assert event.step_id is None  # no step tag on the sample
    assert event.subject is None


def test_headers_win_over_tags() -> None:
    message = load_event("ses_event_open.json")
    message["mail"]["tags"]["mailstep_sequence"] = ["from-tags"]

    assert parse_ses_message(message).sequence_id == "onboarding"


def test_classic_notification_without_headers_has_no_attribution() -> None:
    event = parse_ses_message(without_headers(load_event("ses_notification_bounce_permanent.json")))

    assert (event.sequence_id, event.template, event.step_id) == (None, None, None)
    assert event.recipients == ("jane@example.com",)


def test_invalid_recipients_are_kept_apart_and_valid_ones_normalised() -> None:
    message = load_event("ses_event_bounce_permanent.json")
    message["bounce"]["bouncedRecipients"] = [
        {"emailAddress": "not-an-address"},
        {"emailAddress": " JANE@Example.com "},
        {"emailAddress": ""},
    ]

    event = parse_ses_message(message)

    assert event.recipients == ("jane@example.com",)
    assert event.invalid_recipients == ("not-an-address", "")


def test_event_type_is_case_insensitive_and_multi_word_types_are_known() -> None:
    message = load_event("ses_event_delivery.json")
    message["eventType"] = "DELIVERY"
    assert parse_ses_message(message).kind == "delivery"
    message["eventType"] = "DeliveryDelay"
    assert parse_ses_message(message).kind == "delivery_delay"
    message["eventType"] = "Rendering Failure"
    assert parse_ses_message(message).kind == "rendering_failure"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda m: m.update(eventType="Teleport"), id="unknown-event-type"),
        pytest.param(lambda m: m.pop("eventType"), id="no-type-at-all"),
        pytest.param(lambda m: m.update(eventType=7), id="type-not-a-string"),
        pytest.param(lambda m: m["mail"].pop("messageId"), id="no-message-id"),
        pytest.param(lambda m: m["mail"].update(messageId=""), id="empty-message-id"),
        pytest.param(lambda m: m.pop("mail"), id="no-mail"),
        pytest.param(lambda m: m.update(mail="a string"), id="mail-not-an-object"),
    ],
)
def test_malformed_messages_raise_invalid_input(mangle: Any) -> None:
    message = load_event("ses_event_delivery.json")
    mangle(message)

    with pytest.raises(InvalidInput):
        parse_ses_message(message)
