"""Replies: parsing SES inbound notifications, correlating them with the send log,
recording them once, and rewriting headers for forwarding."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from fakes import FakeEngagementStore, FakePublisher, FakeRawMailer, FakeStore
from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import SendRecord
from mailstep.domain.replies import (
    MAX_BODY_CHARS,
    forward_reply,
    forwarded_message,
    parse_inbound,
    record_reply,
    referenced_ses_ids,
)

SES_ID = "0100018c3a9e5b7f-2d1c4e6a-8b3f-4c5d-9e7a-1f2b3c4d5e6f-000000"
OLDER_ID = "0100018c3a9e5b7f-aaaaaaaa-8b3f-4c5d-9e7a-1f2b3c4d5e6f-000000"
INBOUND_ID = "o3vbq3l1hlm4d2ipc8s9fvk2ucgnfme0m0sq0s81"
JANE = "jane@example.com"
NOW_ISO = "2025-03-12T10:00:00.000Z"


def mime(
    *,
    sender: str = "Jane <Jane@Example.com>",
    subject: str = "Re: Welcome to Acme",
    text: str | None = "Thanks, that helps!\n\n> quoted",
    html: str | None = None,
    in_reply_to: str | None = f"<{SES_ID}@us-east-1.amazonses.com>",
    references: str | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@acme.test"
    message["Subject"] = subject
    message["Message-ID"] = "<CAF=abc@mail.example.com>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (extra or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return message.as_string()


def notification(content: str, **overrides: Any) -> dict[str, Any]:
    """An SES Received notification as an SNS receipt action (UTF-8) publishes it."""
    value: dict[str, Any] = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2025-03-12T09:59:58.000Z",
            "source": "jane@example.com",
            "messageId": INBOUND_ID,
            "destination": ["support@acme.test"],
            "commonHeaders": {"from": ["Jane <jane@example.com>"], "subject": "Re: Welcome"},
        },
        "receipt": {
            "timestamp": "2025-03-12T09:59:59.000Z",
            "recipients": ["support@acme.test"],
            "action": {
                "type": "SNS",
                "topicArn": "arn:aws:sns:us-east-1:1:replies",
                "encoding": "UTF8",
            },
        },
        "content": content,
    }
    value.update(overrides)
    return value


def world(*sends: tuple[str, SendRecord]) -> tuple[FakeStore, FakeEngagementStore, FakePublisher]:
    store = FakeStore()
    store.given_profile(JANE)
    for email_address, record in sends:
        store.record_send(email_address, record, None)
    return store, FakeEngagementStore(), FakePublisher()


def sent(message_id: str = SES_ID, **overrides: Any) -> SendRecord:
    fields: dict[str, Any] = {
        "sequence_id": "onboarding",
        "template": "onboarding/welcome",
        "subject": "Welcome to Acme",
        "message_id": message_id,
        "sent_at": "2025-03-10T09:00:00.000Z",
        "step_id": "welcome",
        **overrides,
    }
    return SendRecord(**fields)


def record(store: FakeStore, events: FakeEngagementStore, publisher: FakePublisher,
           content: str, **overrides: Any) -> dict[str, Any]:  # fmt: skip
    reply = parse_inbound(notification(content, **overrides))
    assert reply is not None
    return record_reply(events, store, publisher, reply, now_epoch=1_000, now_iso=NOW_ISO)


# --------------------------------------------------------------------------- parsing


def test_a_received_notification_gives_sender_subject_text_and_referenced_ids() -> None:
    reply = parse_inbound(notification(mime()))

    assert reply is not None
    assert reply.sender == JANE  # normalised from the From header
    assert reply.subject == "Re: Welcome to Acme"
    assert reply.text.startswith("Thanks, that helps!")
    assert reply.referenced_ids == (SES_ID,)
    assert reply.message_id == INBOUND_ID
    assert reply.timestamp == "2025-03-12T09:59:59.000Z"
    assert reply.recipients == ("support@acme.test",)


@pytest.mark.parametrize("kind", ["Bounce", "Complaint", "AmazonSnsSubscriptionSucceeded", None])
def test_other_notification_types_are_not_replies(kind: str | None) -> None:
    assert parse_inbound(notification(mime(), notificationType=kind)) is None


def test_a_received_notification_without_content_is_invalid() -> None:
    with pytest.raises(InvalidInput, match="content"):
        parse_inbound(notification(""))


def test_both_ses_message_id_domains_are_recognised_and_others_ignored() -> None:
    ids = referenced_ses_ids(
        f"<{SES_ID}@email.amazonses.com>",
        f"<x@mail.gmail.com> <{OLDER_ID}@eu-west-1.amazonses.com> <y@amazonses.com.evil.io>",
    )

    assert ids == (SES_ID, OLDER_ID)


def test_references_are_read_from_the_end_after_in_reply_to_without_duplicates() -> None:
    refs = f"<{OLDER_ID}@us-east-1.amazonses.com> <{SES_ID}@us-east-1.amazonses.com>"

    assert referenced_ses_ids("", refs) == (SES_ID, OLDER_ID)
    assert referenced_ses_ids(f"<{OLDER_ID}@email.amazonses.com>", refs) == (OLDER_ID, SES_ID)


def test_the_sender_falls_back_to_the_envelope_source() -> None:
    reply = parse_inbound(notification(mime(sender="undisclosed-recipients:;")))

    assert reply is not None
    assert reply.sender == JANE


def test_an_html_only_reply_is_stored_as_text() -> None:
    html = "<html><style>p{color:red}</style><body><p>Yes &amp; thanks</p><p>Jane</p></body></html>"

    reply = parse_inbound(notification(mime(text=None, html=html)))

    assert reply is not None
    assert reply.text == "Yes & thanks\nJane"


def test_plain_text_is_preferred_over_html() -> None:
    reply = parse_inbound(notification(mime(text="plain words", html="<p>html words</p>")))

    assert reply is not None
    assert reply.text == "plain words"


def test_a_body_in_an_unknown_charset_falls_back_to_the_html_part() -> None:
    content = mime(text="plain words", html="<p>html words</p>").replace(
        'text/plain; charset="utf-8"', 'text/plain; charset="x-no-such-charset"', 1
    )

    reply = parse_inbound(notification(content))

    assert reply is not None
    assert reply.text == "html words"


def test_a_huge_body_is_capped() -> None:
    reply = parse_inbound(notification(mime(text="x" * (MAX_BODY_CHARS * 3))))

    assert reply is not None
    assert len(reply.text) == MAX_BODY_CHARS


# --------------------------------------------------------------------------- recording


def test_a_correlated_reply_is_recorded_counted_and_published() -> None:
    store, events, publisher = world((JANE, sent(OLDER_ID)), (JANE, sent()))

    result = record(store, events, publisher, mime())

    assert result == {"status": "recorded", "correlated": True}
    [item] = events.items.values()
    assert item["PK"] == f"SUB#{JANE}"
    assert item["SK"] == f"EVT#2025-03-12T09:59:59.000Z#reply#{INBOUND_ID}"
    assert (item["event_type"], item["template_key"], item["sequence_id"]) == (
        "reply", "onboarding/welcome", "onboarding",
    )  # fmt: skip
    assert item["in_reply_to"] == SES_ID
    assert item["body"].startswith("Thanks")
    assert store.counts[("onboarding", "COUNTERS")]["replied"] == 1
    assert store.counts[("onboarding", "STEP#welcome")]["replied"] == 1
    assert publisher.of_type("email.replied") == [
        {
            "email": JANE,
            "message_id": SES_ID,
            "sequence_id": "onboarding",
            "step_id": "welcome",
            "template": "onboarding/welcome",
            "subject": "Re: Welcome to Acme",
        }
    ]


def test_correlation_falls_back_to_references() -> None:
    store, events, publisher = world((JANE, sent(OLDER_ID, step_id="check-in")))
    content = mime(
        in_reply_to="<CAF=other@mail.example.com>",
        references=f"<{OLDER_ID}@us-east-1.amazonses.com> <CAF=other@mail.example.com>",
    )

    record(store, events, publisher, content)

    assert publisher.of_type("email.replied")[0]["message_id"] == OLDER_ID
    assert store.counts[("onboarding", "STEP#check-in")]["replied"] == 1


def test_a_message_id_of_another_subscriber_does_not_correlate() -> None:
    store, events, publisher = world(("someone@example.com", sent()))

    result = record(store, events, publisher, mime())

    assert result == {"status": "recorded", "correlated": False}


def test_an_uncorrelated_reply_is_recorded_without_index_keys_or_counters() -> None:
    store, events, publisher = world()

    result = record(store, events, publisher, mime(in_reply_to=None))

    assert result == {"status": "recorded", "correlated": False}
    [item] = events.items.values()
    assert "template_key" not in item  # absent, never "" (mailshot defect D)
    assert "sequence_id" not in item
    assert store.counts == {}
    assert publisher.of_type("email.replied") == [
        {"email": JANE, "message_id": None, "subject": "Re: Welcome to Acme"}
    ]


def test_a_reply_to_a_broadcast_counts_under_the_broadcast() -> None:
    store, events, publisher = world((JANE, sent(sequence_id="", step_id=None)))
    store.send_extras[SES_ID] = {"broadcast_id": "spring-sale"}

    record(store, events, publisher, mime())

    assert store.counts == {("broadcast#spring-sale", "COUNTERS"): {"replied": 1}}
    [detail] = publisher.of_type("email.replied")
    assert detail["broadcast_id"] == "spring-sale"
    assert "sequence_id" not in detail
    [item] = events.items.values()
    assert item["broadcast_id"] == "spring-sale"
    assert "sequence_id" not in item


def test_replies_from_unknown_senders_are_skipped_without_a_stub_profile() -> None:
    store, events, publisher = world()

    result = record(store, events, publisher, mime(sender="stranger@example.org"),
                    mail={"messageId": INBOUND_ID, "source": "stranger@example.org"})  # fmt: skip

    assert result == {"status": "skipped", "reason": "unknown_sender"}
    assert "stranger@example.org" not in store.profiles
    assert events.items == {}
    assert publisher.events == []


def test_the_same_reply_delivered_twice_counts_and_publishes_once() -> None:
    store, events, publisher = world((JANE, sent()))
    record(store, events, publisher, mime())

    again = record(store, events, publisher, mime())

    assert again == {"status": "duplicate", "correlated": True}
    assert store.counts[("onboarding", "COUNTERS")]["replied"] == 1
    assert len(publisher.of_type("email.replied")) == 1


# --------------------------------------------------------------------------- forwarding


def forwarded(content: str) -> EmailMessage:
    reply = parse_inbound(notification(content))
    assert reply is not None
    raw = forwarded_message(reply, "support@acme.test")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_forwarding_rewrites_from_and_drops_headers_ses_would_reject() -> None:
    content = mime(
        extra={
            "DKIM-Signature": "v=1; a=rsa-sha256; d=example.com; b=abc",
            "Return-Path": "<bounce@example.com>",
            "Sender": "list@example.com",
            "Reply-To": "elsewhere@example.com",
            "X-SES-Spam-Verdict": "PASS",
            "X-SES-Virus-Verdict": "PASS",
        }
    )

    message = forwarded(content)

    assert message["From"] == '"Reply from jane@example.com" <support@acme.test>'
    assert len(message.get_all("From") or []) == 1
    assert message["Reply-To"] == JANE
    assert message["X-Original-From"] == JANE
    for dropped in ("DKIM-Signature", "Return-Path", "Sender", "Message-ID", "X-SES-Spam-Verdict",
                    "X-SES-Virus-Verdict"):  # fmt: skip
        assert dropped not in message, dropped
    assert message.get_all("Reply-To") == [JANE]
    assert message["Subject"] == "Re: Welcome to Acme"
    assert message.get_body(preferencelist=("plain",)).get_content().startswith("Thanks")  # type: ignore[union-attr]


def test_a_from_header_cannot_inject_headers_into_the_forwarded_copy() -> None:
    # An RFC 2047 display name that decodes to CR LF + a Bcc header.
    hostile = mime(sender="PLACEHOLDER <jane@example.com>").replace(
        "PLACEHOLDER", "=?utf-8?q?Jane=0D=0ABcc=3A_victim=40example=2Enet?="
    )
    reply = parse_inbound(notification(hostile))
    assert reply is not None

    raw = forwarded_message(reply, "support@acme.test")

    header_block = raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0].lower() for line in header_block.split(b"\r\n")
             if line and not line[:1].isspace()]  # fmt: skip
    assert b"bcc" not in names
    assert names.count(b"from") == 1
    assert b'From: "Reply from jane@example.com" <support@acme.test>\r\n' in header_block


def test_forward_reply_sends_from_the_receiving_address_to_the_configured_one() -> None:
    reply = parse_inbound(notification(mime()))
    assert reply is not None
    mailer = FakeRawMailer()

    result = forward_reply(mailer, reply, "Team@Acme.test")

    assert result == {"forwarded": True, "forward_message_id": "raw-1"}
    [(source, to, raw)] = mailer.sent
    assert (source, to) == ("support@acme.test", "team@acme.test")
    assert b"Reply from jane@example.com" in raw


def test_forward_reply_needs_a_receiving_address() -> None:
    reply = parse_inbound(notification(mime(), receipt={"recipients": []}, mail={
        "messageId": INBOUND_ID, "source": JANE}))  # fmt: skip
    assert reply is not None

    with pytest.raises(InvalidInput):
        forward_reply(FakeRawMailer(), reply, "team@acme.test")
