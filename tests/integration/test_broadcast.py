"""Broadcasts against moto: the dry run, the paged send loop, the queue consumer, cancel,
the rate limiter. The state machine is played by the test (``drive``), which calls
``resolve`` exactly as the ASL loop does; the system test runs the real one."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_kit import item, published, sent_headers, token_for, update_profile
from mailstep.adapters import wiring
from mailstep.adapters.broadcasts import DynamoSendSlots
from mailstep.adapters.dynamo import DynamoSubscriberStore
from mailstep.domain import broadcasts as domain
from mailstep.domain.broadcasts import BroadcastError
from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import Subscriber
from mailstep.handlers import broadcast, broadcast_send, unsubscribe
from support import (
    BROADCAST_MACHINE,
    ENV,
    SENDER,
    Aws,
    LambdaContext,
    broadcast_resources,
    drive_broadcast,
    function_url_event,
)

TEMPLATE = "news/spring"
MACHINE = BROADCAST_MACHINE


@pytest.fixture
def bc(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The account plus the broadcast queue, state machine and a template."""
    broadcast_resources(aws, monkeypatch)
    aws.put_template(f"{TEMPLATE}.html", "<p>Hi {{ first_name | default: 'there' }}</p>")
    return aws


def store() -> DynamoSubscriberStore:
    return wiring.store()


def people(count: int, **kwargs: Any) -> list[str]:
    emails = []
    for n in range(count):
        email = f"user{n:04d}@example.com"
        store().upsert_profile(
            Subscriber(email=email, first_name=f"U{n}", **kwargs), "2025-01-01T00:00:00Z"
        )
        emails.append(email)
    return emails


def invoke(context: LambdaContext, **payload: Any) -> dict[str, Any]:
    return broadcast.handler(payload, context)


def create(context: LambdaContext, broadcast_id: str = "spring", **extra: Any) -> dict[str, Any]:
    payload = {"broadcast_id": broadcast_id, "template": TEMPLATE, "sender": {"from": SENDER},
               "subject": "News for {{ first_name }}"}  # fmt: skip
    return invoke(context, action="create", **payload, **extra)


def drive(aws: Aws, context: LambdaContext) -> list[dict[str, Any]]:
    return drive_broadcast(aws)


def consume(aws: Aws, context: LambdaContext, *, redeliver: bool = False) -> list[dict[str, Any]]:
    """Feed the queue to broadcast-send in batches of 10, as the event source mapping does."""
    sqs = aws.client("sqs")
    url = (
        ENV.get("MAILSTEP_BROADCAST_QUEUE_URL")
        or sqs.get_queue_url(QueueName="mailstep-broadcast")["QueueUrl"]
    )
    results = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return results
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
        result = broadcast_send.handler({"Records": records}, context)
        results.append(result)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if redeliver:  # SQS is at-least-once: the same batch again must send nothing
            again = broadcast_send.handler({"Records": records}, context)
            assert again["batchItemFailures"] == []


def recipients(aws: Aws) -> Counter[str]:
    return Counter(p["Destination"]["ToAddresses"][0] for p in aws.sent)


def counters(aws: Aws, broadcast_id: str = "spring") -> dict[str, Any]:
    return item(aws, f"STATS#broadcast#{broadcast_id}", "COUNTERS") or {}


def test_dry_run_then_send_reaches_every_eligible_subscriber_exactly_once(
    bc: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(domain, "PAGE_LIMIT", 7)  # many pages
    monkeypatch.setattr(domain, "PACE_SECONDS", 0.03)  # chunks of 30 at 1000/s
    eligible = people(95)
    gone = people(105)[95:]
    for email in gone[:5]:
        store().set_unsubscribed(email, "2025-01-02T00:00:00Z")
    for email in gone[5:]:
        store().upsert_profile(Subscriber(email=email), "2025-01-02T00:00:00Z")
        update_profile(bc, email, suppressed=True)

    created = create(context)
    assert created["status"] == "counting"
    assert created["audience_size"] is None
    drive(bc, context)
    ready = invoke(context, action="get", broadcast_id="spring")
    assert (ready["status"], ready["audience_size"]) == ("ready", 95)
    assert bc.sent == []  # a dry run sends nothing

    with pytest.raises(BroadcastError, match="counted 95 recipients, not 96"):
        invoke(context, action="start", broadcast_id="spring", expected_audience=96)
    started = invoke(context, action="start", broadcast_id="spring", expected_audience=95)
    assert started["status"] == "sending"
    steps = drive(bc, context)
    assert len(steps) > 3
    assert all(s["wait_seconds"] >= 0 for s in steps)
    queued = invoke(context, action="get", broadcast_id="spring")
    assert (queued["status"], queued["queued"], queued["counters"]) == ("sending", 95, {})
    assert queued["queued_at"]
    again = invoke(context, action="resolve", **{**steps[-2], "iteration": 9})  # a retry
    assert (again["done"], again["cursor"]) == (True, None)
    consume(bc, context, redeliver=True)

    assert recipients(bc) == Counter(eligible)
    done = invoke(context, action="get", broadcast_id="spring")
    assert (done["status"], done["queued"], done["counters"]["sent"]) == ("sent", 95, 95)
    assert done["finished_at"]
    headers = sent_headers(bc.sent[0])
    assert headers["X-Mailstep-Broadcast"] == "spring"
    assert "X-Mailstep-Sequence" not in headers
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert bc.sent[0]["EmailTags"] == [
        {"Name": "mailstep_broadcast", "Value": "spring"},
        {"Name": "mailstep_template", "Value": "news--spring"},
    ]
    assert published(bc, "email.sent")[0]["broadcast_id"] == "spring"


def test_the_audience_filters_by_every_tag_and_attribute(bc: Aws, context: LambdaContext) -> None:
    pros = people(12, tags=("customer", "beta"), attributes={"plan": "pro", "seats": 3})
    store().upsert_profile(
        Subscriber(
            email="free@example.com", tags=("customer", "beta"), attributes={"plan": "free"}
        ),
        "2025-01-01T00:00:00Z",
    )
    store().upsert_profile(
        Subscriber(email="nobeta@example.com", tags=("customer",), attributes={"plan": "pro"}),
        "2025-01-01T00:00:00Z",
    )
    audience = {"tags": ["customer", "beta"], "attributes": {"plan": "pro"}}

    create(context, audience=audience)
    drive(bc, context)
    assert invoke(context, action="get", broadcast_id="spring")["audience_size"] == 12
    invoke(context, action="start", broadcast_id="spring")
    drive(bc, context)
    consume(bc, context)

    assert recipients(bc) == Counter(pros)


def test_recipients_who_opt_out_after_queueing_are_skipped_and_counted(
    bc: Aws, context: LambdaContext
) -> None:
    emails = people(4)
    create(context)
    drive(bc, context)
    invoke(context, action="start", broadcast_id="spring")
    drive(bc, context)
    store().set_unsubscribed(emails[0], "2025-01-03T00:00:00Z")
    store().upsert_profile(Subscriber(email=emails[1], tags=()), "2025-01-03T00:00:00Z")
    bc.client("dynamodb").delete_item(
        TableName=ENV["MAILSTEP_TABLE"],
        Key={"PK": {"S": f"SUB#{emails[2]}"}, "SK": {"S": "PROFILE"}},
    )

    consume(bc, context)

    assert recipients(bc) == Counter(emails[1:2] + emails[3:])
    assert counters(bc)["skipped_unsubscribed"] == 1
    assert counters(bc)["skipped_left_audience"] == 1


def test_an_unsubscribe_from_a_broadcast_email_counts_for_the_broadcast(
    bc: Aws, context: LambdaContext
) -> None:
    [email] = people(1)
    create(context)
    drive(bc, context)
    invoke(context, action="start", broadcast_id="spring")
    drive(bc, context)
    consume(bc, context)

    page = unsubscribe.handler(
        function_url_event("function_url_post_form.json", token_for(email)), context
    )

    assert page["statusCode"] == 200
    assert counters(bc)["unsubscribed"] == 1


def test_cancel_stops_the_loop_and_drops_queued_emails(
    bc: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(domain, "PACE_SECONDS", 0.01)  # chunks of 10 at 1000/s
    people(30)
    create(context)
    drive(bc, context)
    started = invoke(context, action="start", broadcast_id="spring")
    first = invoke(
        context, action="resolve", broadcast_id="spring", mode="send", cursor=None, iteration=0
    )
    assert first["done"] is False

    cancelled = invoke(context, action="cancel", broadcast_id="spring")
    broadcast_send._cache.clear()  # a consumer sees the cancel within BROADCAST_CACHE_SECONDS
    consume(bc, context)

    assert cancelled["status"] == "cancelled"
    assert started["execution_arn"] in bc.stopped
    assert bc.sent == []
    after = invoke(context, action="resolve", broadcast_id="spring", mode="send",
                   cursor=first["cursor"], iteration=1)  # fmt: skip
    assert (after["done"], after["stopped"]) == (True, "cancelled")
    with pytest.raises(BroadcastError, match="already cancelled"):
        invoke(context, action="cancel", broadcast_id="spring")


def test_only_a_finished_dry_run_can_be_started_and_ids_are_unique(
    bc: Aws, context: LambdaContext
) -> None:
    people(3)
    create(context)
    with pytest.raises(BroadcastError, match="counting: only a broadcast whose dry run"):
        invoke(context, action="start", broadcast_id="spring")
    with pytest.raises(BroadcastError, match="already exists"):
        create(context)
    with pytest.raises(BroadcastError, match="no broadcast 'other'"):
        invoke(context, action="get", broadcast_id="other")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"template": "news/missing"}, "news/missing"),
        ({"broadcast_id": "Spring Sale"}, "broadcast_id must be lowercase"),
        ({"audience": {"tag": ["x"]}}, "unknown keys: tag"),
        ({"audience": {"attributes": {"plan": ["a"]}}}, "must be a plain value"),
        ({"sender": {}}, "sender.from is missing"),
    ],
)
def test_bad_broadcasts_are_refused_before_anything_is_written(
    bc: Aws, context: LambdaContext, change: dict[str, Any], error: str
) -> None:
    payload = {"action": "create", "broadcast_id": "spring", "template": TEMPLATE,
               "subject": "Hi", "sender": {"from": SENDER}, **change}  # fmt: skip

    with pytest.raises(Exception, match=error):
        broadcast.handler(payload, context)

    assert bc.client("stepfunctions").list_executions(stateMachineArn=MACHINE)["executions"] == []
    assert bc.items("BROADCASTS") == []


def test_a_failed_record_is_reported_alone(bc: Aws, context: LambdaContext) -> None:
    [email] = people(1)
    create(context)
    drive(bc, context)
    invoke(context, action="start", broadcast_id="spring")
    records = [
        {"messageId": "bad", "body": "not json"},
        {"messageId": "good", "body": json.dumps({"broadcast_id": "spring", "email": email})},
    ]

    result = broadcast_send.handler({"Records": records}, context)

    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert recipients(bc) == Counter([email])


def test_a_long_audience_continues_in_a_fresh_execution(
    bc: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(domain, "PAGE_LIMIT", 2)
    monkeypatch.setattr(domain, "COUNT_CHUNK", 2)
    monkeypatch.setattr(domain, "MAX_ITERATIONS", 3)
    people(10)
    create(context)

    first = drive(bc, context)
    assert first[-1].get("continued") is True
    drive(bc, context)  # the new execution picks up the cursor

    record = invoke(context, action="get", broadcast_id="spring")
    assert (record["status"], record["audience_size"]) == ("ready", 10)
    names = [e["name"] for e in bc.client("stepfunctions").list_executions(
        stateMachineArn=MACHINE)["executions"]]  # fmt: skip
    assert sorted(names) == ["spring-count-1", "spring-count-2"]


def test_a_retried_resolve_does_not_count_twice(bc: Aws, context: LambdaContext) -> None:
    people(5)
    create(context)
    payload = {"action": "resolve", "broadcast_id": "spring", "mode": "count", "cursor": None,
               "iteration": 0}  # fmt: skip
    invoke(context, **payload)
    again = invoke(context, **payload)  # Step Functions retried the same input

    assert again["done"] is True
    assert invoke(context, action="get", broadcast_id="spring")["audience_size"] == 5


def test_the_catch_path_marks_the_broadcast_failed(bc: Aws, context: LambdaContext) -> None:
    create(context)

    result = invoke(context, action="fail", broadcast_id="spring",
                    error={"Error": "Lambda.Unknown", "Cause": "boom"})  # fmt: skip

    assert result == {"status": "failed"}
    record = invoke(context, action="get", broadcast_id="spring")
    assert record["status"] == "failed"
    assert "Lambda.Unknown" in record["error"]


def test_unknown_actions_and_bad_modes_are_refused(bc: Aws, context: LambdaContext) -> None:
    with pytest.raises(InvalidInput, match="action must be one of"):
        invoke(context, action="explode")
    with pytest.raises(InvalidInput, match="mode must be one of"):
        invoke(context, action="resolve", broadcast_id="spring", mode="fast")


def test_the_rate_limiter_spaces_sends_across_consumers(bc: Aws) -> None:
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        now[0] += seconds

    def limiter(rate: float) -> DynamoSendSlots:
        return DynamoSendSlots(bc.client("dynamodb"), ENV["MAILSTEP_TABLE"], rate,
                               clock=lambda: now[0], sleep=sleep)  # fmt: skip

    a, b = limiter(4), limiter(4)  # two consumers share the slots (0.25 s each)
    starts = []
    for slots in (a, b, a, b, a, b):
        slots.acquire()
        starts.append(now[0])

    assert starts == [1000.0, 1000.25, 1000.5, 1000.75, 1001.0, 1001.25]
    assert sleeps == [0.25] * 5
    slow = limiter(0.5)  # one email every two seconds
    slow.acquire()
    slow.acquire()
    assert now[0] == 1004.0
    with pytest.raises(ValueError, match="positive"):
        limiter(0)


def test_a_loop_aborted_by_hand_marks_the_broadcast_failed_but_not_a_cancelled_one(
    bc: Aws, context: LambdaContext
) -> None:
    from mailstep.handlers import send_email  # noqa: PLC0415

    people(2)
    created = create(context)

    def ended(broadcast_id: str, status: str) -> dict[str, Any]:
        event = {
            "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
            "detail": {"status": status, "executionArn": created["execution_arn"],
                       "stateMachineArn": MACHINE,
                       "input": json.dumps({"broadcast_id": broadcast_id, "mode": "count"})},
        }  # fmt: skip
        return send_email.handler(event, context)

    assert ended("spring", "SUCCEEDED")["status"] == "skipped"
    assert ended("spring", "ABORTED") == {"status": "failed"}
    record = invoke(context, action="get", broadcast_id="spring")
    assert record["status"] == "failed"
    assert "ended ABORTED" in record["error"]

    create(context, broadcast_id="autumn")
    invoke(context, action="cancel", broadcast_id="autumn")
    assert ended("autumn", "ABORTED") == {"status": "unchanged"}
    assert invoke(context, action="get", broadcast_id="autumn")["status"] == "cancelled"


def test_a_loop_that_cannot_start_leaves_the_broadcast_in_a_state_that_says_so(
    bc: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    people(2)
    create(context, broadcast_id="ok")
    drive(bc, context)
    monkeypatch.setenv("MAILSTEP_BROADCAST_STATE_MACHINE", MACHINE + "-gone")
    wiring.environment.cache_clear()
    wiring.broadcast_services.cache_clear()

    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        create(context, broadcast_id="never")
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        invoke(context, action="start", broadcast_id="ok")

    never = invoke(context, action="get", broadcast_id="never")
    assert never["status"] == "failed"
    assert "could not start" in never["error"]
    ok = invoke(context, action="get", broadcast_id="ok")
    assert (ok["status"], ok["started_at"]) == ("ready", None)  # can be started again
