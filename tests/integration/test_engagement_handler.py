"""engagement-handler under moto: SES events into the events table, indexed by template
and sequence when known, counted once however often SNS delivers them."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from handler_kit import EMAIL, EVENTS_TABLE, SEQUENCE, WELCOME, item, published, set_config
from mailstep.adapters.dynamo import deserialize
from mailstep.domain.errors import InvalidInput
from mailstep.handlers import engagement_handler
from support import Aws, LambdaContext, load_event, sns_event

MESSAGE_ID = "0100018c3a9e5b7f-2d1c4e6a-8b3f-4c5d-9e7a-1f2b3c4d5e6f-000000"
SAMPLES = {
    "delivery": ("ses_event_delivery.json", "delivered", "2025-03-10T09:00:01.789Z"),
    "open": ("ses_event_open.json", "opened", "2025-03-10T09:05:12.456Z"),
    "click": ("ses_event_click.json", "clicked", "2025-03-10T09:06:40.789Z"),
    "bounce": ("ses_event_bounce_permanent.json", "bounced", "2025-03-10T09:00:02.345Z"),
    "complaint": ("ses_event_complaint.json", "complained", "2025-03-10T10:15:30.000Z"),
}


def events(aws: Aws) -> list[dict[str, Any]]:
    return aws.all_items(EVENTS_TABLE)


def by_index(aws: Aws, index: str, attribute: str, value: str) -> list[dict[str, Any]]:
    response = aws.client("dynamodb").query(
        TableName=EVENTS_TABLE,
        IndexName=index,
        KeyConditionExpression="#k = :v",
        ExpressionAttributeNames={"#k": attribute},
        ExpressionAttributeValues={":v": {"S": value}},
    )
    return [deserialize(i) for i in response["Items"]]


def counters(aws: Aws) -> dict[str, Any] | None:
    return item(aws, f"STATS#{SEQUENCE}", "COUNTERS")


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_each_event_is_stored_indexed_and_counted(
    aws: Aws, context: LambdaContext, kind: str
) -> None:
    sample, counter, timestamp = SAMPLES[kind]
    now = int(time.time())

    result = engagement_handler.handler(sns_event(load_event(sample)), context)

    assert result == {"results": [{"recorded": 1, "duplicates": 0}]}
    [stored] = events(aws)
    assert stored["PK"] == f"SUB#{EMAIL}"
    assert stored["SK"] == f"EVT#{timestamp}#{kind}#{MESSAGE_ID}"
    assert (stored["event_type"], stored["message_id"]) == (kind, MESSAGE_ID)
    assert (stored["template_key"], stored["sequence_id"]) == (WELCOME, SEQUENCE)
    assert stored["step_id"] == "welcome"
    assert abs(stored["ttl"] - (now + 365 * 86400)) < 60
    assert by_index(aws, "by_template", "template_key", WELCOME) == [stored]
    assert by_index(aws, "by_sequence", "sequence_id", SEQUENCE) == [stored]
    stats = counters(aws)
    assert stats is not None
    assert stats[counter] == 1
    assert item(aws, f"STATS#{SEQUENCE}", "STEP#welcome")[counter] == 1  # type: ignore[index]
    [detail] = published(aws, f"email.{counter}")
    assert (detail["email"], detail["template"]) == (EMAIL, WELCOME)


def test_click_keeps_the_link(aws: Aws, context: LambdaContext) -> None:
    message = load_event("ses_event_click.json")

    engagement_handler.handler(sns_event(message), context)

    [stored] = events(aws)
    assert stored["link"] == message["click"]["link"]
    assert published(aws, "email.clicked")[0]["link"] == message["click"]["link"]


def test_unattributed_events_have_no_index_keys_at_all(aws: Aws, context: LambdaContext) -> None:
    message = load_event("ses_event_open.json")
    del message["mail"]["headers"]
    del message["mail"]["tags"]
    classic = load_event("ses_notification_bounce_permanent.json")
    del classic["mail"]["headers"]

    engagement_handler.handler(sns_event(message, classic), context)

    stored = events(aws)
    assert len(stored) == 2
    for event in stored:
        assert "template_key" not in event  # absent, not "" (DynamoDB rejects "" index keys)
        assert "sequence_id" not in event
    assert by_index(aws, "by_template", "template_key", WELCOME) == []
    assert counters(aws) is None


def test_attribution_from_tags_alone_is_indexed(aws: Aws, context: LambdaContext) -> None:
    message = load_event("ses_event_delivery.json")
    del message["mail"]["headers"]

    engagement_handler.handler(sns_event(message), context)

    [stored] = by_index(aws, "by_template", "template_key", WELCOME)
    assert stored["sequence_id"] == SEQUENCE
    assert "step_id" not in stored


def test_the_same_message_delivered_twice_is_stored_and_counted_once(
    aws: Aws, context: LambdaContext
) -> None:
    message = load_event("ses_event_open.json")
    engagement_handler.handler(sns_event(message), context)

    again = engagement_handler.handler(sns_event(message, copy.deepcopy(message)), context)

    assert again == {"results": [{"recorded": 0, "duplicates": 1}] * 2}
    assert len(events(aws)) == 1
    assert counters(aws)["opened"] == 1  # type: ignore[index]
    assert len(published(aws, "email.opened")) == 1


def test_two_opens_at_different_times_are_two_events(aws: Aws, context: LambdaContext) -> None:
    first = load_event("ses_event_open.json")
    second = copy.deepcopy(first)
    second["open"]["timestamp"] = "2025-03-11T07:00:00.000Z"

    engagement_handler.handler(sns_event(first, second), context)

    assert len(events(aws)) == 2
    assert counters(aws)["opened"] == 2  # type: ignore[index]


def test_send_events_are_ignored(aws: Aws, context: LambdaContext) -> None:
    result = engagement_handler.handler(sns_event(load_event("ses_event_send.json")), context)

    assert result == {"results": [{"recorded": 0, "duplicates": 0, "ignored": "send"}]}
    assert events(aws) == []
    assert aws.all_items() == []
    assert aws.published == []


def test_events_ttl_days_comes_from_the_runtime_config(aws: Aws, context: LambdaContext) -> None:
    set_config(aws, events_ttl_days=30)
    now = int(time.time())

    engagement_handler.handler(sns_event(load_event("ses_event_delivery.json")), context)

    [stored] = events(aws)
    assert abs(stored["ttl"] - (now + 30 * 86400)) < 60


def test_a_malformed_record_fails_after_the_good_ones(aws: Aws, context: LambdaContext) -> None:
    bad = load_event("ses_event_delivery.json")
    del bad["mail"]["messageId"]

    with pytest.raises(InvalidInput):
        engagement_handler.handler(sns_event(bad, load_event("ses_event_open.json")), context)

    assert [e["event_type"] for e in events(aws)] == ["open"]
