"""Every mailstep-mcp tool through the SDK's in-memory client, against the mocked account."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from mailstep.cli.sequences import Project
from mailstep.domain.models import Execution, Subscriber, Suppression
from mailstep.mcp.server import build_server
from mailstep.ops.config import Config
from mailstep.ops.operations import Ops
from mcp import Client
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


CALLS: list[tuple[str, dict[str, Any]]] = [
    ("get_subscriber", {"email": "jane@example.com"}),
    ("list_subscribers", {"status": "active", "limit": 1}),
    ("update_subscriber", {"email": "jane@example.com", "attributes": {"plan": "pro"}}),
    ("unsubscribe_subscriber", {"email": "jane@example.com"}),
    ("resubscribe_subscriber", {"email": "jane@example.com"}),
    ("list_suppressions", {}),
    ("remove_suppression", {"email": "bounced@example.com"}),
    ("list_events", {"sequence": "onboarding", "event_type": "open"}),
    ("list_sequences", {}),
    ("describe_sequence", {"sequence_id": "onboarding"}),
    ("sequence_subscribers", {"sequence_id": "onboarding"}),
    ("sequence_failures", {"sequence_id": "onboarding"}),
    ("sequence_stats", {"sequence_id": "onboarding"}),
    ("deliverability_health", {}),
    ("list_templates", {}),
    (
        "preview_template",
        {"sequence_id": "onboarding", "step_id": "welcome", "email": "jane@example.com"},
    ),
    ("validate_template", {"template": "onboarding/welcome"}),
    ("send_test_event", {"detail_type": "user.signed_up", "detail": {"email": "t@example.com"}}),
    ("validate_sequence", {"sequence": "onboarding"}),
    ("preview_sequence_step", {"sequence_id": "onboarding", "step_id": "welcome"}),
    ("diagram_sequence", {"sequence_id": "onboarding"}),
    ("delete_subscriber", {"email": "jane@example.com"}),
]

# Called with a deployed broadcast function in test_broadcast_ops.py.
BROADCAST_TOOLS = {
    "create_broadcast", "get_broadcast", "list_broadcasts", "start_broadcast", "cancel_broadcast",
}  # fmt: skip

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("list_subscribers", {"status": "gone"}, "status must be one of"),
    ("list_subscribers", {"limit": "many"}, "valid integer"),
    ("list_subscribers", {"cursor": "garbage"}, "cursor is not one this tool returned"),
    ("get_subscriber", {"email": "not-an-address"}, "email"),
    ("list_events", {}, "exactly one of email, template or sequence"),
    ("describe_sequence", {"sequence_id": "nope"}, "no sequence 'nope'"),
    ("delete_subscriber", {}, "email"),
]


def call_all(ops: Ops, calls: list[tuple[str, dict[str, Any]]]) -> tuple[set[str], list[Any]]:
    async def run() -> tuple[set[str], list[Any]]:
        async with Client(build_server(lambda: ops, lambda: Project(ROOT))) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            return names, [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(run())


def test_every_tool_answers_and_destructive_ones_only_plan(aws: Aws) -> None:
    ops = make_ops(aws)
    ops.store.upsert_profile(Subscriber("jane@example.com", "Jane"), NOW)
    arn = aws.start_execution("jane-run")
    ops.store.put_execution("jane@example.com", Execution("onboarding", arn, NOW, False), None)
    ops.store.suppress("bounced@example.com", Suppression("bounce", "General", None, NOW))
    aws.put_template("onboarding/welcome.html", "<p>hi</p>")
    before = aws.all_items()

    names, results = call_all(ops, CALLS)

    assert names == {name for name, _ in CALLS} | BROADCAST_TOOLS
    failed = [
        (n, r.content[0].text) for (n, _), r in zip(CALLS, results, strict=True) if r.is_error
    ]
    assert failed == []
    by_name = {n: r.structured_content for (n, _), r in zip(CALLS, results, strict=True)}
    assert by_name["delete_subscriber"]["dry_run"] is True
    assert by_name["delete_subscriber"]["stop_executions"] == [arn]
    assert by_name["list_subscribers"]["items"][0]["email"] == "jane@example.com"
    assert "flowchart" in by_name["diagram_sequence"]["mermaid"]
    assert by_name["deliverability_health"]["verdict"] == "no sends yet"
    changed = [i for i in aws.all_items() if i not in before]
    assert [(i["PK"], i["SK"]) for i in changed] == [("SUB#jane@example.com", "PROFILE")]
    assert aws.stopped == []
    assert aws.published == []


def test_dry_run_false_acts(aws: Aws) -> None:
    ops = make_ops(aws)
    ops.store.upsert_profile(Subscriber("jane@example.com"), NOW)

    _, [result] = call_all(ops, [("delete_subscriber", {"email": "jane@example.com",
                                                         "dry_run": False})])  # fmt: skip

    assert not result.is_error
    assert json.loads(result.content[0].text)["dry_run"] is False
    assert aws.all_items() == []


def test_bad_arguments_are_clear_tool_errors(aws: Aws) -> None:
    ops = make_ops(aws)

    _, results = call_all(ops, [(name, args) for name, args, _ in BAD])

    for (name, _, expected), result in zip(BAD, results, strict=True):
        assert result.is_error, name
        assert expected in result.content[0].text, (name, result.content[0].text)
