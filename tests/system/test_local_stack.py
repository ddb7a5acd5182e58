"""End to end on the local sandbox: `terraform apply` of the root module, events onto the
bus, rules, state machines, the real handlers, SES notifications and the unsubscribe page.

One deployment serves every scenario (the apply takes ~35 s); scenarios use their own
addresses so they cannot see each other's emails.
"""

from __future__ import annotations

import bisect
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailstep.local import control
from mailstep.local.demo import EXPECTED, Demo, event
from support import ROOT

pytestmark = pytest.mark.system
TIMEOUT = 60
BROADCAST_SUBSCRIBERS = 2000


@pytest.fixture(scope="module")
def stack() -> Iterator[Demo]:
    paths = control.Paths(ROOT)
    control.stop_sandbox(paths)
    demo = Demo(paths)
    try:
        demo.info = control.up(paths)
        yield demo
    finally:
        control.down(paths)


def wait_for(predicate: Any, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def templates_sent_to(demo: Demo, email: str) -> list[str]:
    return [m["headers"]["X-Mailstep-Template"] for m in demo.messages() if m["to"] == [email]]


def item(demo: Demo, pk: str, sk: str) -> dict[str, Any]:
    db = control.aws_client(demo.info, "dynamodb")
    table = demo.info["outputs"]["main_table_name"]
    return db.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item") or {}


def executions(demo: Demo, sequence: str) -> list[dict[str, Any]]:
    sfn = control.aws_client(demo.info, "stepfunctions")
    arn = demo.info["outputs"]["state_machine_arns"][sequence]
    return list(sfn.list_executions(stateMachineArn=arn)["executions"])


def test_the_demo_scenario_sends_exactly_what_each_path_should(stack: Demo) -> None:
    """Who got which email, in order: a completed run, an exit on upgrade, an unsubscribe
    through the page, a hard bounce, and a duplicated trigger event."""
    stack.play()
    stack.check()

    assert stack.problems == []
    for email, expected in EXPECTED.items():
        got = templates_sent_to(stack, email)
        assert len(got) == len(expected), (email, got)


def test_a_complaint_stops_the_run_and_suppresses(stack: Demo) -> None:
    email = "complaint@simulator.amazonses.com"
    stack.put(event("user.signed_up", {"email": email, "firstName": "Cleo", "team_name": "X"}))

    wait_for(lambda: item(stack, f"SUB#{email}", "SUPPRESSION"), "the complaint to suppress")
    wait_for(lambda: not item(stack, f"SUB#{email}", "EXEC#onboarding"), "the run to be stopped")
    time.sleep(8)  # past both waits of onboarding (2 + 5 simulated days)

    assert templates_sent_to(stack, email) == ["onboarding/welcome"]
    assert item(stack, f"SUB#{email}", "SUPPRESSION")["reason"]["S"] == "complaint"
    assert item(stack, f"SUB#{email}", "PROFILE")["suppressed"]["BOOL"] is True


def test_a_malformed_trigger_fails_visibly_and_leaves_nothing_behind(stack: Demo) -> None:
    before = {e["executionArn"] for e in executions(stack, "onboarding")}
    stack.put(event("user.signed_up", {"email": "not-an-address", "firstName": "Nobody"}))

    def failed_run() -> dict[str, Any] | None:
        new = [e for e in executions(stack, "onboarding") if e["executionArn"] not in before]
        return next((e for e in new if e["status"] == "FAILED"), None)

    wait_for(failed_run, "the run to fail")
    sfn = control.aws_client(stack.info, "stepfunctions")
    run = sfn.describe_execution(executionArn=failed_run()["executionArn"])  # type: ignore[index]
    assert run["error"] == "Mailstep.StepFailed"
    history = sfn.get_execution_history(executionArn=run["executionArn"])["events"]
    cleanup_input = next(
        e["stateEnteredEventDetails"]["input"]
        for e in history
        if e.get("stateEnteredEventDetails", {}).get("name") == "Cleanup"
    )
    assert "InvalidEmail" in json.loads(cleanup_input)["error"]["Cause"]
    db = control.aws_client(stack.info, "dynamodb")
    rows = db.scan(
        TableName=stack.info["outputs"]["main_table_name"],
        FilterExpression="contains(PK, :x)",
        ExpressionAttributeValues={":x": {"S": "not-an-address"}},
    )["Items"]
    assert rows == []


def test_a_fire_and_forget_email_that_cannot_be_sent_lands_in_a_dead_letter_queue(
    stack: Demo,
) -> None:
    stack.put(event("payment.failed", {"email": "broken@@example.com"}))
    sqs = control.aws_client(stack.info, "sqs")
    outputs = stack.info["outputs"]
    queues = [outputs["dlq_url"], outputs["lambda_dlq_url"]]
    found: list[dict[str, Any]] = []

    def dead_lettered() -> bool:
        for url in queues:
            found.extend(
                sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            )
        return any("broken@@example.com" in m["Body"] for m in found)

    wait_for(dead_lettered, "the failed event in a dead-letter queue")


def test_subscriber_events_upsert_the_profile_and_its_tag_rows(stack: Demo) -> None:
    email = "tagged@example.com"
    detail = {"email": email, "firstName": "Tia", "tags": ["beta", "vip"]}
    stack.put(
        event("subscriber.subscribed", detail),
        event("subscriber.updated", {"email": "loop@example.com", "tags": ["x"]}, "mailstep"),
    )

    wait_for(lambda: item(stack, "TAG#vip", f"SUB#{email}"), "the vip tag row")
    assert item(stack, "TAG#beta", f"SUB#{email}")
    assert item(stack, f"SUB#{email}", "PROFILE")["first_name"]["S"] == "Tia"

    stack.put(event("subscriber.updated", {"email": email, "remove_tags": ["vip"]}))

    wait_for(lambda: not item(stack, "TAG#vip", f"SUB#{email}"), "the vip tag row to go")
    assert item(stack, "TAG#beta", f"SUB#{email}")
    assert not item(stack, "SUB#loop@example.com", "PROFILE")  # mailstep's own source: ignored


def test_the_outbox_index_lists_every_email(stack: Demo) -> None:
    index = control.write_index(stack.paths.outbox, stack.messages())
    html = Path(index).read_text()
    messages = stack.messages()
    assert messages
    for number, message in enumerate(messages, start=1):
        page = f"{number:04d}-{message['message_id']}.html"
        assert page in html
        assert (stack.paths.outbox / page).read_text() == message["html"]


def test_a_reply_ends_the_trial_run_is_recorded_counted_and_forwarded(stack: Demo) -> None:
    """trial-expiring exits on email.replied: the reply goes through SES receiving (as
    `mailstep local reply` sends it), the reply function, the bus and the exit rule."""
    email = "replier@example.com"
    stack.put(
        event(
            "trial.started",
            {"email": email, "firstName": "Rita", "plan": "starter", "eventId": "evt-reply-1"},
        )
    )
    wait_for(lambda: templates_sent_to(stack, email), "the trial welcome email")
    [welcome] = [m for m in stack.messages() if m["to"] == [email]]
    run_arn = item(stack, f"SUB#{email}", "EXEC#trial-expiring")["execution_arn"]["S"]

    control.reply(stack.paths, welcome["message_id"], text="Can we talk about pricing?")

    wait_for(lambda: not item(stack, f"SUB#{email}", "EXEC#trial-expiring"), "the run to exit")
    sfn = control.aws_client(stack.info, "stepfunctions")
    wait_for(
        lambda: sfn.describe_execution(executionArn=run_arn)["status"] == "ABORTED",
        "the execution to be stopped",
    )
    assert not item(stack, "SEQ#trial-expiring", f"SUB#{email}")
    db = control.aws_client(stack.info, "dynamodb")
    events = db.query(
        TableName=stack.info["outputs"]["events_table_name"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"SUB#{email}"}},
    )["Items"]
    [reply] = [e for e in events if e["event_type"]["S"] == "reply"]
    assert reply["in_reply_to"]["S"] == welcome["message_id"]
    assert reply["sequence_id"]["S"] == "trial-expiring"
    assert reply["body"]["S"].startswith("Can we talk about pricing?")
    stats = item(stack, "STATS#trial-expiring", "STEP#trial-welcome")
    assert int(stats["replied"]["N"]) >= 1
    forwarded = [m for m in stack.messages() if m["subject"] == f"Re: {welcome['subject']}"]
    assert [m["to"] for m in forwarded] == [["team@acme.test"]]
    assert forwarded[0]["headers"]["From"] == f'"Reply from {email}" <support@acme.test>'
    time.sleep(8)  # past the trial's first wait (7 simulated days): nothing more is sent
    assert templates_sent_to(stack, email) == ["trial-expiring/trial-welcome"]


BROADCAST_TAG = "bench-news"


def seed_subscribers(demo: Demo, count: int) -> tuple[set[str], set[str]]:
    """``count`` tagged profiles written straight to the table (the subscribe path has its
    own scenario); every 40th unsubscribed and every 50th suppressed. Returns (eligible,
    ineligible)."""
    db = control.aws_client(demo.info, "dynamodb")
    table = demo.info["outputs"]["main_table_name"]
    eligible, ineligible, rows = set(), set(), []
    for n in range(count):
        email = f"reader{n:05d}@example.com"
        unsubscribed, suppressed = n % 40 == 7, n % 50 == 9
        (ineligible if unsubscribed or suppressed else eligible).add(email)
        rows.append(
            {
                "PK": {"S": f"SUB#{email}"},
                "SK": {"S": "PROFILE"},
                "email": {"S": email},
                "first_name": {"S": f"R{n}"},
                "tags": {"L": [{"S": BROADCAST_TAG}]},
                "unsubscribed": {"BOOL": unsubscribed},
                "suppressed": {"BOOL": suppressed},
            }
        )
        rows.append({"PK": {"S": f"TAG#{BROADCAST_TAG}"}, "SK": {"S": f"SUB#{email}"},
                     "email": {"S": email}})  # fmt: skip
    for start in range(0, len(rows), 25):
        batch = [{"PutRequest": {"Item": row}} for row in rows[start : start + 25]]
        db.batch_write_item(RequestItems={table: batch})
    return eligible, ineligible


def test_a_broadcast_reaches_every_eligible_subscriber_once_within_the_rate(stack: Demo) -> None:
    """Thousands of subscribers through the deployed loop, queue, event source mapping
    and consumer: each eligible address gets exactly one email, nobody else any, and the
    SES calls never outpace broadcast_send_rate."""
    from mailstep.ops import config  # noqa: PLC0415
    from mailstep.ops.operations import Ops  # noqa: PLC0415

    eligible, ineligible = seed_subscribers(stack, BROADCAST_SUBSCRIBERS)
    ops = Ops(config.load(ROOT))
    rate = float(stack.info["outputs"]["broadcast_send_rate"])

    ops.broadcasts.create("product-update", "broadcasts/product-update", "What's new",
                          "Acme <hello@acme.test>", tags=[BROADCAST_TAG])  # fmt: skip
    counted = ops.broadcasts.wait("product-update", timeout=120)
    assert (counted["status"], counted["audience_size"]) == ("ready", len(eligible))
    ops.broadcasts.start("product-update", dry_run=False)
    done = ops.broadcasts.wait("product-update", until=("sent", "failed", "cancelled"),
                               timeout=len(eligible) / rate * 3 + 120, interval=5)  # fmt: skip

    assert done["status"] == "sent", done
    assert done["counters"]["sent"] == len(eligible)
    sent = [
        m for m in stack.messages() if m["headers"].get("X-Mailstep-Broadcast") == "product-update"
    ]
    recipients = Counter(m["to"][0] for m in sent)
    assert set(recipients) == eligible
    assert max(recipients.values()) == 1
    assert not set(recipients) & ineligible
    moments = sorted(m["real_time"] for m in sent)
    assert len(moments) / (moments[-1] - moments[0]) <= rate
    busiest = max(bisect.bisect_left(moments, t + 2.0) - i for i, t in enumerate(moments))
    assert busiest <= 2 * rate + 1  # evenly spaced slots; one late call may bunch
