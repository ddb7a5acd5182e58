"""Broadcasts through the MCP tools and the CLI: the deployed function is invoked (here
in-process), the dry run comes first, starting and cancelling are dry runs by default."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mailstep.cli.main import main
from mailstep.cli.sequences import Project
from mailstep.domain.models import Subscriber
from mailstep.handlers import broadcast
from mailstep.mcp.server import build_server
from mailstep.observability import logger
from mailstep.ops.config import Config
from mailstep.ops.operations import Ops
from mcp import Client
from support import (
    ENV,
    ROOT,
    SENDER,
    Aws,
    InProcessLambda,
    broadcast_resources,
    drive_broadcast,
)

NOW = "2026-01-01T00:00:00.000Z"
LAMBDA = InProcessLambda({"mailstep-broadcast": broadcast.handler})


def with_lambda(aws: Aws, service: str) -> Any:
    return LAMBDA if service == "lambda" else aws.client(service)


@pytest.fixture
def ops(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Ops:
    broadcast_resources(aws, monkeypatch)
    aws.put_template("news/spring.html", "<p>Spring!</p>")
    config = Config(
        table=ENV["MAILSTEP_TABLE"], events_table=ENV["MAILSTEP_EVENTS_TABLE"],
        event_bus=ENV["MAILSTEP_EVENT_BUS"], template_bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"],
        name_prefix="mailstep", region=ENV["AWS_REGION"],
    )  # fmt: skip
    ops = Ops(
        config, Project(ROOT), client_factory=lambda s: LAMBDA if s == "lambda" else aws.client(s)
    )
    for n in range(3):
        tags = ("customer",) if n else ()
        ops.store.upsert_profile(Subscriber(f"user{n}@example.com", tags=tags), NOW)
    return ops


def call(ops: Ops, *calls: tuple[str, dict[str, Any]]) -> list[Any]:
    async def run() -> list[Any]:
        async with Client(build_server(lambda: ops, lambda: Project(ROOT))) as client:
            return [await client.call_tool(name, args) for name, args in calls]

    return asyncio.run(run())


def test_the_mcp_tools_run_a_broadcast_with_dry_runs_first(ops: Ops, aws: Aws) -> None:
    [created, counting] = call(
        ops,
        ("create_broadcast", {"broadcast_id": "spring", "template": "news/spring",
                              "subject": "Spring", "sender": SENDER, "tags": ["customer"]}),
        ("get_broadcast", {"broadcast_id": "spring"}),
    )  # fmt: skip
    assert created.structured_content["status"] == "counting"
    assert counting.structured_content["audience_size"] is None
    drive_broadcast(aws)

    [plan, refused, listing] = call(
        ops,
        ("start_broadcast", {"broadcast_id": "spring"}),
        ("start_broadcast", {"broadcast_id": "spring", "dry_run": False, "expected_audience": 3}),
        ("list_broadcasts", {"limit": 5}),
    )  # fmt: skip
    assert plan.structured_content["dry_run"] is True
    assert "to 2 recipients" in plan.structured_content["summary"]
    assert refused.is_error
    assert "counted 2 recipients, not 3" in refused.content[0].text
    assert [b["broadcast_id"] for b in listing.structured_content["items"]] == ["spring"]
    assert aws.sent == []

    [started, cancel_plan, cancelled] = call(
        ops,
        ("start_broadcast", {"broadcast_id": "spring", "dry_run": False}),
        ("cancel_broadcast", {"broadcast_id": "spring"}),
        ("cancel_broadcast", {"broadcast_id": "spring", "dry_run": False}),
    )  # fmt: skip
    assert started.structured_content["broadcast"]["status"] == "sending"
    assert cancel_plan.structured_content["dry_run"] is True
    assert cancelled.structured_content["broadcast"]["status"] == "cancelled"


def test_bad_broadcast_arguments_are_tool_errors(ops: Ops) -> None:
    [missing, bad_filter] = call(
        ops,
        ("get_broadcast", {"broadcast_id": "nope"}),
        ("create_broadcast", {"broadcast_id": "x", "template": "news/spring", "subject": "S",
                              "sender": SENDER, "attributes": {"plan": {"nested": 1}}}),
    )  # fmt: skip
    assert missing.is_error
    assert "no broadcast 'nope'" in missing.content[0].text
    assert bad_filter.is_error
    assert "plain value" in bad_filter.content[0].text


def test_the_cli_creates_waits_for_the_count_and_sends_only_with_yes(
    ops: Ops,
    aws: Aws,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({
        "main_table_name": ENV["MAILSTEP_TABLE"], "events_table_name": ENV["MAILSTEP_EVENTS_TABLE"],
        "event_bus_name": ENV["MAILSTEP_EVENT_BUS"],
        "templates_bucket_name": ENV["MAILSTEP_TEMPLATE_BUCKET"], "name_prefix": "mailstep",
    }))  # fmt: skip
    monkeypatch.setattr(Ops, "_boto3_client", lambda self, s: with_lambda(aws, s))
    # The function runs in this process here: keep its log lines out of the CLI's stdout.
    monkeypatch.setattr(logger, "info", lambda *a, **k: None)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    # The state machine is parked in this test: play it while the CLI waits for the count.
    monkeypatch.setattr("mailstep.ops.broadcasts.time.sleep", lambda _: drive_broadcast(aws))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--project", str(ROOT), *argv, "--outputs", str(outputs)])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("broadcasts", "create", "spring", "--template", "news/spring",
                         "--subject", "Hi", "--from", SENDER, "--attr", "missing=1")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["audience_size"] == 0
    assert "dry run: 0 recipients" in err

    code, out, err = run("broadcasts", "create", "all", "--template", "news/spring",
                         "--subject", "Spring", "--from", SENDER, "--json")  # fmt: skip
    assert json.loads(out)["audience_size"] == 3

    code, out, err = run("broadcasts", "send", "all")
    assert code == 0
    assert out.startswith("dry run: send news/spring")
    assert "to 3 recipients" in out
    assert "add --yes" in err
    assert ops.broadcasts.get("all")["status"] == "ready"

    code, out, _ = run("broadcasts", "send", "all", "--yes", "--json")
    assert json.loads(out)["broadcast"]["status"] == "sending"

    code, out, _ = run("broadcasts", "show", "all", "--json")
    assert json.loads(out)["queued"] == 0  # the test has not played the send loop

    code, out, _ = run("broadcasts", "list", "--json")
    assert [b["broadcast_id"] for b in json.loads(out)["items"]] == ["all", "spring"]

    code, _, err = run("broadcasts", "create", "bad", "--template", "news/spring",
                       "--subject", "S", "--from", SENDER, "--attr", "oops")  # fmt: skip
    assert code != 0
    assert "--attr takes name=value" in err
