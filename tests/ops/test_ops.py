"""Operator operations against the mocked account: pagination, deletes, dry runs, health."""

from __future__ import annotations

from typing import Any

import pytest
from mailstep.cli.sequences import Project
from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import Execution, SendRecord, Subscriber, Suppression
from mailstep.ops.config import Config
from mailstep.ops.operations import Ops
from support import ENV, ROOT, Aws

NOW = "2026-01-01T00:00:00.000Z"


def make_ops(aws: Aws) -> Ops:
    config = Config(
        table=ENV["MAILSTEP_TABLE"],
        events_table=ENV["MAILSTEP_EVENTS_TABLE"],
        event_bus=ENV["MAILSTEP_EVENT_BUS"],
        template_bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"],
        name_prefix="mailstep",
        region=ENV["AWS_REGION"],
    )
    return Ops(config, Project(ROOT), client_factory=aws.client)


@pytest.fixture
def ops(aws: Aws) -> Ops:
    return make_ops(aws)


def subscribe(ops: Ops, email: str, **extra: Any) -> None:
    ops.store.upsert_profile(Subscriber.from_payload({"email": email, **extra}), NOW)


def enrol(aws: Aws, ops: Ops, email: str, sequence: str = "onboarding", name: str = "r") -> str:
    arn = aws.start_execution(name)
    ops.store.put_execution(email, Execution(sequence, arn, NOW, False), None)
    return arn


def engagement(aws: Aws, email: str, kind: str, n: int, **extra: str) -> None:
    from mailstep.adapters.dynamo import serialize  # noqa: PLC0415

    aws.client("dynamodb").put_item(
        TableName=ENV["MAILSTEP_EVENTS_TABLE"],
        Item=serialize(
            {
                "PK": f"SUB#{email}",
                "SK": f"EVT#2026-01-01T00:00:{n:02d}Z#{kind}#m{n}",
                "email": email,
                "event_type": kind,
                **extra,
            }
        ),
    )


def test_listing_pages_through_every_subscriber_exactly_once(ops: Ops) -> None:
    for n in range(120):
        subscribe(ops, f"user{n:03d}@example.com")
    ops.store.suppress("user007@example.com", Suppression("bounce", None, None, NOW))

    pages, cursor = [], None
    while True:
        page = ops.list_subscribers(limit=50, cursor=cursor)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break

    emails = [i["email"] for p in pages for i in p]
    assert [len(p) for p in pages] == [50, 50, 20]
    assert sorted(emails) == [f"user{n:03d}@example.com" for n in range(120)]


def test_status_filter_fills_pages_past_non_matching_rows(ops: Ops) -> None:
    for n in range(30):
        subscribe(ops, f"user{n:02d}@example.com")
    for n in (3, 17, 28):
        ops.store.set_unsubscribed(f"user{n:02d}@example.com", NOW)

    first = ops.list_subscribers("unsubscribed", limit=2)
    second = ops.list_subscribers("unsubscribed", limit=2, cursor=first["next_cursor"])
    active = ops.list_subscribers("active", limit=100)

    got = {i["email"] for i in first["items"] + second["items"]}
    assert got == {"user03@example.com", "user17@example.com", "user28@example.com"}
    assert second["next_cursor"] is None
    assert len(active["items"]) == 27


def test_bad_arguments_are_refused(ops: Ops) -> None:
    with pytest.raises(InvalidInput, match="status must be one of"):
        ops.list_subscribers("gone")
    with pytest.raises(InvalidInput, match="cursor"):
        ops.list_subscribers(cursor="not-a-cursor")
    with pytest.raises(InvalidInput, match="limit"):
        ops.list_subscribers(limit=0)
    with pytest.raises(InvalidInput, match="exactly one"):
        ops.events(email="a@example.com", template="onboarding/welcome")


def test_get_shows_profile_runs_sends_suppression_and_tags(aws: Aws, ops: Ops) -> None:
    subscribe(ops, "jane@example.com", first_name="Jane", tags=["vip"], attributes={"plan": "pro"})
    arn = enrol(aws, ops, "jane@example.com")
    for n in range(3):
        record = SendRecord("onboarding", f"onboarding/t{n}", "Hi", f"m{n}", f"{NOW}{n}", "s")
        ops.store.record_send("jane@example.com", record, None)

    got = ops.get_subscriber("jane@example.com", sends=2)

    assert got["profile"]["attributes"] == {"plan": "pro"}
    assert got["tags"] == ["vip"]
    assert [e["execution_arn"] for e in got["active_executions"]] == [arn]
    assert [s["message_id"] for s in got["recent_sends"]] == ["m2", "m1"]
    assert got["suppression"] is None


def test_update_merges_attributes_and_never_touches_flags(ops: Ops) -> None:
    subscribe(ops, "jane@example.com", attributes={"plan": "pro"})
    ops.store.set_unsubscribed("jane@example.com", NOW)

    result = ops.update_subscriber("jane@example.com", {"company": "Acme"})

    assert result["attributes"] == {"plan": "pro", "company": "Acme"}
    assert ops.store.get_profile("jane@example.com").unsubscribed  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="no subscriber"):
        ops.update_subscriber("nobody@example.com", {"a": 1})


def test_delete_dry_run_changes_nothing_then_delete_removes_every_row(aws: Aws, ops: Ops) -> None:
    subscribe(ops, "jane@example.com", tags=["vip", "beta"])
    arn = enrol(aws, ops, "jane@example.com")
    ops.store.mark_enrolled("jane@example.com", "onboarding", NOW)
    ops.store.record_send(
        "jane@example.com", SendRecord("onboarding", "onboarding/welcome", "Hi", "m1", NOW, "w"), 0
    )
    ops.store.suppress("jane@example.com", Suppression("complaint", None, None, NOW))
    engagement(aws, "jane@example.com", "open", 1, sequence_id="onboarding")
    subscribe(ops, "other@example.com", tags=["vip"])
    before = aws.all_items()

    plan = ops.delete_subscriber("jane@example.com")

    assert plan["dry_run"] is True
    assert plan["stop_executions"] == [arn]
    assert aws.all_items() == before
    assert aws.stopped == []
    assert {"PK": "SEQ#onboarding", "SK": "SUB#jane@example.com"} in plan["delete_rows"][
        "main_table"
    ]

    done = ops.delete_subscriber("jane@example.com", dry_run=False)

    assert done["delete_rows"] == plan["delete_rows"]
    assert aws.stopped == [arn]
    left = aws.all_items()
    assert not [i for i in left if "jane@example.com" in f"{i['PK']} {i['SK']}"]
    assert {(i["PK"], i["SK"]) for i in left} == {
        ("SUB#other@example.com", "PROFILE"),
        ("TAG#vip", "SUB#other@example.com"),
    }
    assert aws.all_items(ENV["MAILSTEP_EVENTS_TABLE"]) == []


def test_unsubscribe_and_resubscribe(aws: Aws, ops: Ops) -> None:
    subscribe(ops, "jane@example.com")
    arn = enrol(aws, ops, "jane@example.com")

    dry = ops.unsubscribe("jane@example.com")
    assert dry["stop_executions"] == [arn]
    assert not ops.store.get_profile("jane@example.com").unsubscribed  # type: ignore[union-attr]

    ops.unsubscribe("jane@example.com", dry_run=False)
    assert ops.store.get_profile("jane@example.com").unsubscribed  # type: ignore[union-attr]
    assert aws.stopped == [arn]
    assert ops.store.list_executions("jane@example.com") == []

    ops.resubscribe("jane@example.com", dry_run=False)
    assert not ops.store.get_profile("jane@example.com").unsubscribed  # type: ignore[union-attr]


def test_suppressions_list_and_remove(ops: Ops) -> None:
    subscribe(ops, "jane@example.com")
    for n in range(7):
        ops.store.suppress(f"s{n}@example.com", Suppression("bounce", "General", None, NOW))
    ops.store.suppress("jane@example.com", Suppression("complaint", None, None, NOW))

    first = ops.list_suppressions(limit=5)
    second = ops.list_suppressions(limit=5, cursor=first["next_cursor"])
    assert len(first["items"]) + len(second["items"]) == 8
    assert second["next_cursor"] is None

    ops.remove_suppression("jane@example.com")
    assert ops.store.get_status("jane@example.com").suppression is not None
    ops.remove_suppression("jane@example.com", dry_run=False)
    status = ops.store.get_status("jane@example.com")
    assert status.suppression is None
    assert not status.profile.suppressed  # type: ignore[union-attr]


def test_events_by_subscriber_template_and_sequence_with_type_filter(aws: Aws, ops: Ops) -> None:
    for n in range(40):
        kind = "click" if n % 10 == 0 else "open"
        engagement(
            aws, "jane@example.com", kind, n,
            template_key="onboarding/welcome", sequence_id="onboarding",
        )  # fmt: skip

    clicks = ops.events(email="jane@example.com", event_type="click", limit=3)
    rest = ops.events(email="jane@example.com", event_type="click", cursor=clicks["next_cursor"])
    by_template = ops.events(template="onboarding/welcome", limit=15)
    more = ops.events(template="onboarding/welcome", limit=30, cursor=by_template["next_cursor"])
    by_sequence = ops.events(sequence="onboarding", event_type="click", limit=10)

    assert len(clicks["items"]) == 3
    assert len(rest["items"]) == 1
    assert {i["event_type"] for i in clicks["items"] + rest["items"]} == {"click"}
    assert len(by_template["items"]) + len(more["items"]) == 40
    assert more["next_cursor"] is None
    assert len(by_sequence["items"]) == 4


def test_sequences_stats_failures_and_health(aws: Aws, ops: Ops) -> None:
    subscribe(ops, "jane@example.com")
    enrol(aws, ops, "jane@example.com")
    ops.store.add_counts("onboarding", "welcome", {"sent": 100, "delivered": 98}, NOW)
    ops.store.add_counts("onboarding", "welcome", {"opened": 40, "bounced": 2}, NOW)

    listed = {s["id"]: s for s in ops.list_sequences()}
    described = ops.describe_sequence("onboarding")
    stats = ops.stats("onboarding")
    failures = ops.failures("onboarding")
    healthy_before = ops.health()
    ops.store.add_counts("onboarding", "welcome", {"bounced": 3}, NOW)
    at_risk = ops.health()

    assert listed["onboarding"]["deployed"] is True
    assert listed["onboarding"]["active"] == 1
    assert listed["trial-expiring"]["deployed"] is False
    assert described["definition"]["id"] == "onboarding"
    assert stats["rates"]["opened_rate"] == 0.4
    assert stats["steps"]["welcome"]["counters"]["delivered"] == 98
    assert failures == {"items": [], "next_cursor": None}
    assert healthy_before["verdict"] == "healthy"
    assert at_risk["verdict"] == "at risk"
    assert at_risk["problems"] == ["bounce rate 5.00% ≥ 5%"]
    with pytest.raises(InvalidInput, match="no sequence"):
        ops.describe_sequence("nope")


def test_complaint_threshold(ops: Ops) -> None:
    ops.store.add_counts("onboarding", None, {"sent": 1000, "complained": 1}, NOW)
    assert ops.health()["verdict"] == "at risk"
    assert ops.health()["sequences"][0]["complaint_rate"] == 0.001


def test_templates_preview_validate_and_test_event(aws: Aws, ops: Ops) -> None:
    for n in range(3):
        aws.put_template(f"onboarding/t{n}.html", "<p>{{ first_name }}</p>")
    subscribe(ops, "jane@example.com", first_name="Janet", attributes={"team_name": "Rocket"})

    first = ops.list_templates(limit=2)
    second = ops.list_templates(limit=2, cursor=first["next_cursor"])
    preview = ops.preview("onboarding", "welcome", email="jane@example.com")
    valid = ops.validate_template("onboarding/welcome")
    dry = ops.send_test_event("user.signed_up", {"email": "t@example.com"})
    sent = ops.send_test_event("user.signed_up", {"email": "t@example.com"}, dry_run=False)

    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert "Janet" in preview["html"]
    assert valid["ok"]
    assert "first_name" in valid["variables"]
    assert dry["dry_run"] is True
    assert sent["event_id"]
    assert [p["DetailType"] for p in aws.published] == ["user.signed_up"]


def test_failures_page_through_failed_runs_with_their_error(
    aws: Aws, ops: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.start_execution("ok-run")
    monkeypatch.setenv("SF_EXECUTION_HISTORY_TYPE", "FAILURE")  # moto: new runs are FAILED
    for n in range(3):
        aws.start_execution(f"failed-{n}")

    first = ops.failures("onboarding", limit=2)
    second = ops.failures("onboarding", limit=2, cursor=first["next_cursor"])

    names = [i["name"] for i in first["items"] + second["items"]]
    assert sorted(names) == ["failed-0", "failed-1", "failed-2"]
    assert second["next_cursor"] is None
    assert set(first["items"][0]) >= {"execution_arn", "error", "cause"}
    with pytest.raises(InvalidInput, match="not deployed"):
        ops.failures("trial-expiring")
