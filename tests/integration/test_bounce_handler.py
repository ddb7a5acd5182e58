"""bounce-handler under moto, fed SNS envelopes around the documented SES records
(DESIGN 4.6): permanent bounces and complaints suppress and stop every run."""

from __future__ import annotations

import json

import pytest
from handler_kit import (
    EMAIL,
    SEQUENCE,
    WELCOME,
    exec_rows,
    item,
    published,
    register_payload,
    send_payload,
)
from mailstep.domain.errors import InvalidInput
from mailstep.handlers import bounce_handler, send_email
from support import Aws, LambdaContext, load_event, sns_event

PK = f"SUB#{EMAIL}"


@pytest.fixture
def runs(aws: Aws, context: LambdaContext) -> dict[str, str]:
    """Jane in a marketing run and in a transactional run of another sequence."""
    marketing, receipts = aws.start_execution("marketing"), aws.start_execution("receipts")
    send_email.handler(register_payload(marketing), context)
    send_email.handler(
        register_payload(receipts, sequence_id="receipts", transactional=True), context
    )
    return {"marketing": marketing, "receipts": receipts}


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ("ses_event_bounce_permanent.json", "bounce"),
        ("ses_notification_bounce_permanent.json", "bounce"),
        ("ses_event_complaint.json", "complaint"),
        ("ses_notification_complaint.json", "complaint"),
    ],
)
def test_permanent_bounce_or_complaint_suppresses_and_stops_every_run(
    aws: Aws,
    runs: dict[str, str],
    context: LambdaContext,
    sample: str,
    reason: str,
) -> None:
    result = bounce_handler.handler(sns_event(load_event(sample)), context)

    assert result == {"results": [[{"action": "suppressed", "stopped": 2}]]}
    suppression = item(aws, PK, "SUPPRESSION")
    assert suppression is not None
    detail = {"bounce": "General", "complaint": "abuse"}[reason]  # sub-type / feedback type
    assert (suppression["reason"], suppression["detail"]) == (reason, detail)
    assert suppression["feedback_id"].endswith("-000000")
    assert item(aws, PK, "PROFILE")["suppressed"] is True  # type: ignore[index]
    assert sorted(aws.stopped) == sorted(runs.values())  # transactional too
    assert exec_rows(aws, sequence=SEQUENCE) == []
    assert exec_rows(aws, sequence="receipts") == []
    assert published(aws, "subscriber.suppressed") == [
        {"email": EMAIL, "reason": reason, "stopped_runs": 2}
    ]


def test_transient_bounce_suppresses_nothing(
    aws: Aws, runs: dict[str, str], context: LambdaContext
) -> None:
    before = aws.all_items()

    result = bounce_handler.handler(
        sns_event(load_event("ses_event_bounce_transient.json")), context
    )

    assert result == {"results": [[{"action": "recorded", "stopped": 0}]]}
    assert aws.all_items() == before
    assert aws.stopped == []


def test_an_unknown_address_is_suppressed_without_a_profile(
    aws: Aws, context: LambdaContext
) -> None:
    bounce_handler.handler(sns_event(load_event("ses_event_bounce_permanent.json")), context)

    assert [i["SK"] for i in aws.all_items()] == ["SUPPRESSION"]


def test_after_suppression_register_and_send_are_skipped(aws: Aws, context: LambdaContext) -> None:
    aws.put_template(f"{WELCOME}.html", "<p>Hi</p>")
    bounce_handler.handler(sns_event(load_event("ses_event_complaint.json")), context)
    arn = aws.start_execution()

    registered = send_email.handler(register_payload(arn, transactional=True), context)
    sent = send_email.handler(send_payload(arn, transactional=True), context)

    assert registered == {"status": "skipped", "reason": "suppressed"}
    assert sent == {"status": "skipped", "reason": "suppressed", "template": WELCOME}
    assert aws.sent == []
    assert item(aws, PK, "PROFILE")["suppressed"] is False  # type: ignore[index]
    assert exec_rows(aws) == []


def test_a_malformed_record_fails_the_invocation_after_the_good_ones(
    aws: Aws, context: LambdaContext
) -> None:
    other = load_event("ses_event_complaint.json")
    other["complaint"]["complainedRecipients"] = [{"emailAddress": "bob@example.com"}]
    event = sns_event(load_event("ses_event_bounce_permanent.json"), {"eventType": "Bounce"}, other)
    not_json = json.loads(json.dumps(event["Records"][0]))
    not_json["Sns"]["Message"] = "{not json"
    event["Records"].append(not_json)

    with pytest.raises(InvalidInput):
        bounce_handler.handler(event, context)

    assert item(aws, PK, "SUPPRESSION") is not None
    assert item(aws, "SUB#bob@example.com", "SUPPRESSION") is not None


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": "x"}])
def test_an_event_without_records_is_rejected(
    aws: Aws, context: LambdaContext, event: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        bounce_handler.handler(event, context)

    assert aws.all_items() == []
