"""The sandbox's SQS event source mappings behave like Lambda's poller.

GIVEN a queue with a dead-letter queue, a function (tests/local/stub_handlers.py) and
an event source mapping reporting batch item failures, WHEN messages arrive, THEN the
function gets them in batches of the real event shape, successes are deleted, failures
come back, a message that always fails ends in the DLQ, and a disabled mapping
delivers nothing.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import stub_handlers
from mailstep.local.sandbox import LocalAws
from mailstep.local.shims import failed_records

MAX_RECEIVES = 3


@dataclass
class Consumer:
    queue_url: str
    queue_arn: str
    dlq_url: str
    mapping_uuid: str


class Sandbox:
    def __init__(self, local: LocalAws, endpoint: str) -> None:
        self.local, self.endpoint = local, endpoint

    def client(self, name: str) -> Any:
        return boto3.client(
            name,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

    def consumer(self, name: str, *, enabled: bool = True, bodies: list[str] = ()) -> Consumer:  # type: ignore[assignment]
        """A queue (+ DLQ after MAX_RECEIVES) holding ``bodies``, then its mapping."""
        sqs = self.client("sqs")
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
        queue_url = sqs.create_queue(
            QueueName=name,
            Attributes={"VisibilityTimeout": "360", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        if bodies:  # queued before the mapping exists: the first poll takes one full batch
            sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
            )
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("placeholder.py", "")
        role = self.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument="{}")
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="stub_handlers.sqs_batch",
            Code={"ZipFile": code.getvalue()},
        )
        mapping = self.client("lambda").create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=name,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            Enabled=enabled,
        )
        return Consumer(queue_url, queue_arn, dlq_url, mapping["UUID"])

    def depth(self, queue_url: str) -> int:
        attributes = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    local = LocalAws(tmp_path_factory.mktemp("sqs"), scale=0.0)
    endpoints = local.start()
    try:
        yield Sandbox(local, endpoints.aws)
    finally:
        local.stop()


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def records_of(queue_arn: str) -> list[dict[str, Any]]:
    return [r for r in stub_handlers.SEEN if r.get("eventSourceARN") == queue_arn]


def test_partial_failures_are_redelivered_and_the_hopeless_one_dead_letters(
    sandbox: Sandbox,
) -> None:
    # GIVEN 7 good messages, 2 that fail once and 1 that always fails
    bodies = [json.dumps({"n": n}) for n in range(7)]
    bodies += [json.dumps({"n": 7, "fail": "once"}), json.dumps({"n": 8, "fail": "once"})]
    bodies += [json.dumps({"n": 9, "fail": "always"})]

    # WHEN a mapping with ReportBatchItemFailures consumes the queue
    consumer = sandbox.consumer("batches", bodies=bodies)
    dlq_bodies: list[str] = []

    def dead_lettered() -> bool:
        sqs = sandbox.client("sqs")
        dlq_bodies.extend(
            m["Body"]
            for m in sqs.receive_message(QueueUrl=consumer.dlq_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
        )
        return bool(dlq_bodies) and sandbox.depth(consumer.queue_url) == 0

    wait_for(dead_lettered, "the always-failing message to reach the DLQ")

    # THEN the first invocation got the whole batch, in the SQS event shape
    records = records_of(consumer.queue_arn)
    first = records[:10]
    assert sorted(r["body"] for r in first) == sorted(bodies)
    assert {r["attributes"]["ApproximateReceiveCount"] for r in first} == {"1"}
    assert {(r["eventSource"], r["awsRegion"]) for r in first} == {("aws:sqs", "us-east-1")}
    assert all(r["receiptHandle"] and r["messageId"] and r["md5OfBody"] for r in first)

    # AND successes ran once, failures came back until they succeeded or dead-lettered
    runs: dict[int, list[str]] = {}
    for r in records:
        runs.setdefault(json.loads(r["body"])["n"], []).append(
            r["attributes"]["ApproximateReceiveCount"]
        )
    assert {n: runs[n] for n in range(7)} == {n: ["1"] for n in range(7)}
    assert runs[7] == runs[8] == ["1", "2"]
    assert runs[9] == [str(i) for i in range(1, MAX_RECEIVES + 1)]
    assert dlq_bodies == [bodies[9]]


def test_a_disabled_mapping_delivers_nothing_until_enabled(sandbox: Sandbox) -> None:
    # GIVEN a disabled mapping on a queue holding one message
    consumer = sandbox.consumer("disabled", enabled=False, bodies=[json.dumps({"n": 0})])

    # WHEN the poller has had time for several passes
    time.sleep(1.5)

    # THEN the function never ran and the message is still queued
    assert records_of(consumer.queue_arn) == []
    assert sandbox.depth(consumer.queue_url) == 1

    # AND enabling the mapping delivers it (the check above could have failed)
    sandbox.client("lambda").update_event_source_mapping(UUID=consumer.mapping_uuid, Enabled=True)
    wait_for(lambda: sandbox.depth(consumer.queue_url) == 0, "delivery once enabled")
    assert len(records_of(consumer.queue_arn)) == 1


def test_a_message_sent_later_is_delivered_by_the_poller_not_inside_send(
    sandbox: Sandbox,
) -> None:
    # GIVEN a consumer with no messages yet
    consumer = sandbox.consumer("later")

    # WHEN a message that fails its first attempt is sent
    sandbox.client("sqs").send_message(
        QueueUrl=consumer.queue_url, MessageBody=json.dumps({"fail": "once"})
    )

    # THEN it is delivered twice, with the receive count rising (moto's own delivery,
    # inside SendMessage, ignores batchItemFailures and deletes it after one attempt)
    wait_for(lambda: sandbox.depth(consumer.queue_url) == 0, "the message's deletion")
    counts = [r["attributes"]["ApproximateReceiveCount"] for r in records_of(consumer.queue_arn)]
    assert counts == ["1", "2"]


@pytest.mark.parametrize(
    ("output", "errored", "reports", "failed"),
    [
        ('{"batchItemFailures": [{"itemIdentifier": "b"}]}', False, True, {"b"}),
        ('{"batchItemFailures": []}', False, True, set()),
        ("null", False, True, set()),
        ("{}", False, True, set()),
        ('{"batchItemFailures": [{"itemIdentifier": "zz"}]}', False, True, {"a", "b"}),
        ('{"batchItemFailures": [{"itemIdentifier": null}]}', False, True, {"a", "b"}),
        ('{"batchItemFailures": [{"itemIdentifier": "b"}]}', False, False, set()),
        ('{"errorType": "Boom"}', True, True, {"a", "b"}),
        ('{"errorType": "Boom"}', True, False, {"a", "b"}),
    ],
)
def test_which_records_stay_on_the_queue(
    output: str, errored: bool, reports: bool, failed: set[str]
) -> None:
    assert failed_records(["a", "b"], output, errored, reports) == failed
