"""Where the deployment is (Terraform outputs), and the mailstep-mcp console script."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from mailstep.ops.config import Config, ConfigError, load
from mcp import Client, StdioServerParameters
from support import ROOT

TF_OUTPUTS = {
    "main_table_name": {"value": "acme-main", "sensitive": False},
    "events_table_name": {"value": "acme-events"},
    "event_bus_name": {"value": "acme-bus"},
    "templates_bucket_name": {"value": "acme-templates"},
    "configuration_set_name": {"value": "acme-config"},
    "state_machine_arns": {
        "value": {"onboarding": "arn:aws:states:eu-west-1:1:stateMachine:acme-prod-onboarding"}
    },
}


def test_terraform_outputs_give_names_region_and_prefix() -> None:
    config = Config.from_outputs(TF_OUTPUTS)

    assert (config.table, config.events_table, config.event_bus) == (
        "acme-main", "acme-events", "acme-bus",
    )  # fmt: skip
    assert config.template_bucket == "acme-templates"
    assert config.name_prefix == "acme-prod"
    assert config.region == "eu-west-1"
    assert config.endpoint is None


def test_flat_outputs_and_function_names_work_too() -> None:
    flat = {k: v["value"] for k, v in TF_OUTPUTS.items()}
    flat["function_names"] = {"send-email": "other-send-email"}

    assert Config.from_outputs(flat, endpoint="http://127.0.0.1:1", local=True).name_prefix == (
        "other"
    )


def test_incomplete_outputs_say_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lack main_table_name"):
        Config.from_outputs({k: v for k, v in TF_OUTPUTS.items() if k != "main_table_name"})
    file = tmp_path / "outputs.json"
    file.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read outputs"):
        load(ROOT, file)


def test_console_script_serves_tools_over_stdio(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(TF_OUTPUTS))
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mailstep.mcp.server", "--project", str(ROOT), "--outputs", str(outputs)],
        env={**os.environ},
    )

    async def run() -> tuple[set[str], str]:
        async with Client(params) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            result = await client.call_tool("diagram_sequence", {"sequence_id": "onboarding"})
            return names, result.content[0].text

    names, diagram = asyncio.run(run())

    assert {"delete_subscriber", "deliverability_health", "validate_sequence"} <= names
    assert "flowchart" in diagram
