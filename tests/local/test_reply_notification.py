"""`mailstep local reply` builds what SES receiving would publish: a Received
notification whose MIME reply correlates with the outbox email it answers."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from mailstep.domain.replies import parse_inbound
from mailstep.local.shims import OutboxMessage, _raw_as_simple, inbound_notification

SES_ID = "0100018c3a9e5b7f-2d1c4e6a-8b3f-4c5d-9e7a-1f2b3c4d5e6f-000000"
TOPIC = "arn:aws:sns:us-east-1:123456789012:mailstep-replies"
NOW = datetime(2025, 3, 12, 10, 0, tzinfo=UTC)


def sent() -> OutboxMessage:
    return OutboxMessage(
        message_id=SES_ID, to=["jane@example.com"], from_address="Acme <hello@acme.test>",
        reply_to=["support@acme.test"], subject="Welcome to Acme", html="<p>Hi</p>",
        text="Hi Jane\nWelcome.", headers={}, tags={}, configuration_set="c",
        sent_at="2025-03-10T09:00:00.000Z", real_time=0.0,
    )  # fmt: skip


def test_the_notification_has_the_shape_ses_receiving_publishes() -> None:
    notification = inbound_notification(sent(), TOPIC, "us-east-1", NOW)

    assert notification["notificationType"] == "Received"
    assert notification["receipt"]["action"] == {"type": "SNS", "topicArn": TOPIC,
                                                 "encoding": "UTF8"}  # fmt: skip
    assert notification["receipt"]["recipients"] == ["support@acme.test"]
    assert notification["mail"]["source"] == "jane@example.com"
    assert notification["mail"]["destination"] == ["support@acme.test"]
    assert notification["mail"]["commonHeaders"]["subject"] == "Re: Welcome to Acme"
    assert f"In-Reply-To: <{SES_ID}@us-east-1.amazonses.com>" in notification["content"]


def test_the_reply_correlates_with_the_email_it_answers() -> None:
    notification = inbound_notification(
        sent(), TOPIC, "us-east-1", NOW, sender="Other@Example.com", text="Stop please"
    )

    reply = parse_inbound(notification)

    assert reply is not None
    assert reply.sender == "other@example.com"
    assert reply.referenced_ids == (SES_ID,)
    assert reply.text.startswith("Stop please")
    assert "> Welcome." in reply.text


def test_a_raw_message_is_recorded_with_its_subject_and_parts() -> None:
    content = inbound_notification(sent(), TOPIC, "us-east-1", NOW)["content"]

    simple = _raw_as_simple(base64.b64encode(content.encode()).decode())

    assert simple["Subject"] == {"Data": "Re: Welcome to Acme"}
    assert simple["Body"]["Text"]["Data"].startswith("Thanks, this helps!")
    assert "Html" not in simple["Body"]
    assert {"Name": "To", "Value": "support@acme.test"} in simple["Headers"]
