"""reply under moto: SES inbound notifications into the events table, the counters and
email.replied, once however often SNS delivers them; forwarding when configured."""

from __future__ import annotations

import copy
import email
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from handler_kit import EMAIL, EVENTS_TABLE, SEQUENCE, WELCOME, item, published, set_config
from mailstep.adapters.dynamo import DynamoSubscriberStore
from mailstep.adapters.wiring import store
from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import SendRecord, Subscriber
from mailstep.handlers import reply
from support import Aws, LambdaContext, sns_event

SES_ID = "0100018c3a9e5b7f-2d1c4e6a-8b3f-4c5d-9e7a-1f2b3c4d5e6f-000000"
INBOUND_ID = "o3vbq3l1hlm4d2ipc8s9fvk2ucgnfme0m0sq0s81"
RECEIVED_AT = "2025-03-12T09:59:59.000Z"


def received(sender: str = "Jane <jane@example.com>", in_reply_to: str = SES_ID) -> dict[str, Any]:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@acme.test"
    message["Subject"] = "Re: Welcome to Acme"
    message["DKIM-Signature"] = "v=1; a=rsa-sha256; d=example.com; b=abc"
    message.set_content("Thanks, that helps!")
    content = message.as_string().replace(
        "MIME-Version", f"In-Reply-To: <{in_reply_to}@us-east-1.amazonses.com>\nMIME-Version", 1
    )
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2025-03-12T09:59:58.000Z",
            "source": "jane@example.com",
            "messageId": INBOUND_ID,
            "destination": ["support@acme.test"],
        },
        "receipt": {
            "timestamp": RECEIVED_AT,
            "recipients": ["support@acme.test"],
            "action": {"type": "SNS", "topicArn": "arn:aws:sns:us-east-1:1:r", "encoding": "UTF8"},
        },
        "content": content,
    }


def given_jane_got_emails(*message_ids: str) -> None:
    db = store()
    db.upsert_profile(Subscriber(email=EMAIL, first_name="Jane"), "2025-03-01T00:00:00.000Z")
    for day, message_id in enumerate(message_ids, start=1):
        record = SendRecord(SEQUENCE, WELCOME, "Welcome", message_id,
                            f"2025-03-{day:02d}T09:00:00.000Z", "welcome")  # fmt: skip
        db.record_send(EMAIL, record, None)


def replies(aws: Aws) -> list[dict[str, Any]]:
    return [e for e in aws.all_items(EVENTS_TABLE) if e["event_type"] == "reply"]


def test_a_reply_is_recorded_counted_and_published(aws: Aws, context: LambdaContext) -> None:
    given_jane_got_emails("older-1", "older-2", SES_ID)  # the match is the newest row

    result = reply.handler(sns_event(received()), context)

    assert result == {"results": [{"status": "recorded", "correlated": True}]}
    [stored] = replies(aws)
    assert stored["SK"] == f"EVT#{RECEIVED_AT}#reply#{INBOUND_ID}"
    assert (stored["sequence_id"], stored["template_key"], stored["in_reply_to"]) == (
        SEQUENCE, WELCOME, SES_ID,
    )  # fmt: skip
    assert stored["body"] == "Thanks, that helps!"
    assert item(aws, f"STATS#{SEQUENCE}", "COUNTERS")["replied"] == 1  # type: ignore[index]
    assert item(aws, f"STATS#{SEQUENCE}", "STEP#welcome")["replied"] == 1  # type: ignore[index]
    [detail] = published(aws, "email.replied")
    assert detail == {"email": EMAIL, "message_id": SES_ID, "sequence_id": SEQUENCE,
                      "step_id": "welcome", "template": WELCOME,
                      "subject": "Re: Welcome to Acme"}  # fmt: skip
    assert aws.sent == []  # no forwarding unless configured


def test_sns_redelivery_records_counts_and_publishes_once(aws: Aws, context: LambdaContext) -> None:
    given_jane_got_emails(SES_ID)
    message = received()
    reply.handler(sns_event(message), context)

    again = reply.handler(sns_event(message, copy.deepcopy(message)), context)

    assert again == {"results": [{"status": "duplicate", "correlated": True}] * 2}
    assert len(replies(aws)) == 1
    assert item(aws, f"STATS#{SEQUENCE}", "COUNTERS")["replied"] == 1  # type: ignore[index]
    assert len(published(aws, "email.replied")) == 1


def test_an_uncorrelated_reply_is_stored_without_index_keys(
    aws: Aws, context: LambdaContext
) -> None:
    given_jane_got_emails(SES_ID)

    reply.handler(sns_event(received(in_reply_to="not-one-of-ours")), context)

    [stored] = replies(aws)
    assert "sequence_id" not in stored
    assert "template_key" not in stored
    assert item(aws, f"STATS#{SEQUENCE}", "COUNTERS") is None
    assert published(aws, "email.replied")[0]["message_id"] is None


def test_unknown_senders_and_other_notifications_are_skipped(
    aws: Aws, context: LambdaContext
) -> None:
    stranger = received(sender="stranger@example.org")
    stranger["mail"]["source"] = "stranger@example.org"
    bounce = {"notificationType": "Bounce", "mail": {"messageId": "x"}}

    result = reply.handler(sns_event(stranger, bounce), context)

    assert result == {"results": [{"status": "skipped", "reason": "unknown_sender"},
                                  {"status": "skipped", "reason": "not_received"}]}  # fmt: skip
    assert aws.all_items(EVENTS_TABLE) == []
    assert aws.all_items() == []  # no stub profile
    assert aws.published == []


def test_a_malformed_record_fails_after_the_good_ones(aws: Aws, context: LambdaContext) -> None:
    given_jane_got_emails(SES_ID)
    bad = received()
    del bad["content"]

    with pytest.raises(InvalidInput):
        reply.handler(sns_event(bad, received()), context)

    assert len(replies(aws)) == 1


def test_a_configured_forward_sends_the_rewritten_message(aws: Aws, context: LambdaContext) -> None:
    given_jane_got_emails(SES_ID)
    set_config(aws, reply_forward_to="team@acme.test")

    result = reply.handler(sns_event(received()), context)

    assert result["results"][0]["forwarded"] is True
    [params] = aws.sent
    assert params["FromEmailAddress"] == "support@acme.test"
    assert params["Destination"] == {"ToAddresses": ["team@acme.test"]}
    assert "ConfigurationSetName" not in params  # a forward is not a tracked mailstep email
    forwarded = email.message_from_bytes(params["Content"]["Raw"]["Data"], policy=policy.default)
    assert forwarded["From"] == '"Reply from jane@example.com" <support@acme.test>'
    assert forwarded["Reply-To"] == EMAIL
    assert "DKIM-Signature" not in forwarded


def test_a_failed_forward_keeps_the_recorded_reply(aws: Aws, context: LambdaContext) -> None:
    given_jane_got_emails(SES_ID)
    set_config(aws, reply_forward_to="not an address")

    result = reply.handler(sns_event(received()), context)

    assert result == {"results": [{"status": "recorded", "correlated": True, "forwarded": False}]}
    assert len(replies(aws)) == 1
    assert len(published(aws, "email.replied")) == 1


class PagedDb:
    """A DynamoDB client whose Query returns one row per page, filter applied per page,
    as DynamoDB does (Limit and the 1 MB page come before the FilterExpression)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.calls: list[dict[str, Any]] = []

    def query(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        assert "Limit" not in params
        start = int(params.get("ExclusiveStartKey", {}).get("i", {}).get("N", "0"))
        row = self.rows[start]
        wanted = params["ExpressionAttributeValues"][":id"]["S"]
        page: dict[str, Any] = {"Items": [row] if row["message_id"]["S"] == wanted else []}
        if start + 1 < len(self.rows):
            page["LastEvaluatedKey"] = {"i": {"N": str(start + 1)}}
        return page


def test_find_send_reads_every_page_until_the_row_matches() -> None:
    rows = [{"PK": {"S": f"SUB#{EMAIL}"}, "SK": {"S": f"SENT#{i}"}, "message_id": {"S": f"m{i}"}}
            for i in range(4)]  # fmt: skip
    db = PagedDb(rows)

    found = DynamoSubscriberStore(db, "t").find_send(EMAIL, "m3")

    assert found is not None
    assert found["SK"] == "SENT#3"
    assert len(db.calls) == 4
    assert db.calls[0]["FilterExpression"] == "message_id = :id"
    assert DynamoSubscriberStore(PagedDb(rows), "t").find_send(EMAIL, "nope") is None
