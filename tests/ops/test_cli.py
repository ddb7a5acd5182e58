"""The operator commands of ``mailstep``, against the mocked account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mailstep.adapters.dynamo import DynamoSubscriberStore
from mailstep.cli.main import main
from mailstep.domain.models import Subscriber
from support import ENV, ROOT, Aws

NOW = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def outputs(aws: Aws, tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {
                "main_table_name": {"value": ENV["MAILSTEP_TABLE"], "sensitive": False},
                "events_table_name": {"value": ENV["MAILSTEP_EVENTS_TABLE"]},
                "event_bus_name": {"value": ENV["MAILSTEP_EVENT_BUS"]},
                "templates_bucket_name": {"value": ENV["MAILSTEP_TEMPLATE_BUCKET"]},
                "function_names": {"value": {"send-email": "mailstep-send-email"}},
            }
        )
    )
    store = DynamoSubscriberStore(aws.client("dynamodb"), ENV["MAILSTEP_TABLE"])
    for n in range(5):
        store.upsert_profile(Subscriber(f"user{n}@example.com", attributes={"n": n}), NOW)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["--project", str(ROOT), *argv])
    out, err = capsys.readouterr()
    try:
        return code, json.loads(out), err
    except ValueError:
        return code, out, err


def test_list_pages_with_json(outputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, first, _ = run(capsys, "subscribers", "list", "--json", "--limit", "3",
                         "--outputs", str(outputs))  # fmt: skip
    _, second, _ = run(capsys, "subscribers", "list", "--json", "--limit", "3",
                       "--cursor", first["next_cursor"], "--outputs", str(outputs))  # fmt: skip

    assert code == 0
    emails = {i["email"] for i in first["items"] + second["items"]}
    assert emails == {f"user{n}@example.com" for n in range(5)}
    assert second["next_cursor"] is None


def test_delete_is_a_dry_run_without_yes(
    aws: Aws, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "subscribers", "delete", "user1@example.com",
                         "--outputs", str(outputs))  # fmt: skip
    assert code == 0
    assert out.startswith("dry run: would stop 0 run(s) and would delete 1 main-table")
    assert "add --yes" in err
    assert aws.items("SUB#user1@example.com")

    code, done, _ = run(capsys, "subscribers", "delete", "user1@example.com", "--yes",
                        "--json", "--outputs", str(outputs))  # fmt: skip
    assert done["dry_run"] is False
    assert aws.items("SUB#user1@example.com") == []


def test_get_update_health_and_errors(outputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "subscribers", "update", "user2@example.com", "--attributes", '{"plan": "pro"}',
        "--outputs", str(outputs))  # fmt: skip
    _, got, _ = run(capsys, "subscribers", "get", "USER2@example.com", "--json",
                    "--outputs", str(outputs))  # fmt: skip
    code, health, _ = run(capsys, "health", "--json", "--outputs", str(outputs))
    bad, _, err = run(capsys, "subscribers", "get", "nobody@example.com",
                      "--outputs", str(outputs))  # fmt: skip
    missing, _, missing_err = run(capsys, "health", "--outputs", str(outputs.parent / "none.json"))

    assert got["profile"]["attributes"] == {"n": 2, "plan": "pro"}
    assert (code, health["verdict"]) == (0, "no sends yet")
    assert (bad, err.strip()) == (2, "mailstep: no subscriber nobody@example.com")
    assert missing == 2
    assert "cannot read outputs" in missing_err


def test_health_exits_non_zero_when_at_risk(
    aws: Aws, outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = DynamoSubscriberStore(aws.client("dynamodb"), ENV["MAILSTEP_TABLE"])
    store.add_counts("onboarding", None, {"sent": 200, "bounced": 12}, NOW)

    code, out, _ = run(capsys, "health", "--outputs", str(outputs))

    assert code == 1
    assert out.splitlines()[0] == "✗ at risk: 200 sent, bounce rate 6.00%, complaint rate 0.00%"
    assert "bounce rate 6.00% ≥ 5%" in out
