"""Where the deployment is: read from Terraform's outputs, never a hand-copied .env.

Sources, first match wins: a JSON file given explicitly (``--outputs``), the running
local sandbox (``build/local/outputs.json``), ``scripts/tf.sh output -json``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailstep.domain.errors import MailstepError

SEND_EMAIL_SUFFIX = "-send-email"


class ConfigError(MailstepError):
    """The deployment's outputs are missing or incomplete; the message says how to fix it."""


@dataclass(frozen=True)
class Config:
    table: str
    events_table: str
    event_bus: str
    template_bucket: str
    name_prefix: str
    region: str | None = None
    endpoint: str | None = None
    configuration_set: str = ""
    local: bool = False
    broadcast_function: str | None = None
    broadcast_send_rate: float | None = None

    @classmethod
    def from_outputs(
        cls, outputs: dict[str, Any], endpoint: str | None = None, local: bool = False
    ) -> Config:
        # `terraform output -json` wraps each value; build/local/outputs.json does not.
        flat = {
            k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in outputs.items()
        }
        missing = [
            name
            for name in (
                "main_table_name",
                "events_table_name",
                "event_bus_name",
                "templates_bucket_name",
            )
            if not flat.get(name)
        ]
        if missing:
            raise ConfigError(
                f"the Terraform outputs lack {', '.join(missing)}: is the root module applied?"
            )
        arns = flat.get("state_machine_arns") or {}
        return cls(
            table=flat["main_table_name"],
            events_table=flat["events_table_name"],
            event_bus=flat["event_bus_name"],
            template_bucket=flat["templates_bucket_name"],
            name_prefix=_name_prefix(flat),
            region=_region(arns) or os.environ.get("AWS_REGION"),
            endpoint=endpoint,
            configuration_set=flat.get("configuration_set_name") or "",
            local=local,
            broadcast_function=flat.get("broadcast_function_name") or None,
            broadcast_send_rate=_number(flat.get("broadcast_send_rate")),
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


def _name_prefix(flat: dict[str, Any]) -> str:
    if flat.get("name_prefix"):
        return str(flat["name_prefix"])
    send_email = (flat.get("function_names") or {}).get("send-email", "")
    if send_email.endswith(SEND_EMAIL_SUFFIX):
        return str(send_email[: -len(SEND_EMAIL_SUFFIX)])
    for sequence_id, arn in (flat.get("state_machine_arns") or {}).items():
        name = str(arn).rsplit(":", 1)[-1]
        if name.endswith(f"-{sequence_id}"):
            return name[: -len(sequence_id) - 1]
    raise ConfigError("cannot tell the name prefix: no function_names or state_machine_arns output")


def _region(arns: dict[str, Any]) -> str | None:
    for arn in arns.values():
        parts = str(arn).split(":")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    return None


def load(root: Path, outputs_file: Path | None = None) -> Config:
    if outputs_file is not None:
        try:
            return Config.from_outputs(json.loads(outputs_file.read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read outputs from {outputs_file}: {exc}") from exc
    local = root / "build" / "local"
    sandbox = local / "sandbox.json"
    if (local / "outputs.json").is_file() and sandbox.is_file():
        from mailstep.local import control  # noqa: PLC0415 - only when a sandbox is there

        info = control.running(control.Paths(root))
        if info:
            outputs = json.loads((local / "outputs.json").read_text())
            return Config.from_outputs(outputs, endpoint=info["aws"], local=True)
    script = root / "scripts" / "tf.sh"
    try:
        result = subprocess.run(  # noqa: S603 - our own script, no shell
            [str(script), "output", "-json"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
    except OSError as exc:
        raise ConfigError(f"cannot run {script}: {exc}") from exc
    if result.returncode != 0:
        raise ConfigError(
            f"`scripts/tf.sh output -json` failed: {result.stderr.strip()[-500:]}\n"
            "apply the root module first, start the local sandbox, or pass --outputs FILE"
        )
    try:
        outputs = json.loads(result.stdout or "{}")
    except ValueError as exc:
        raise ConfigError(f"terraform output is not JSON: {exc}") from exc
    if not outputs:
        raise ConfigError("Terraform has no outputs: apply the root module first")
    return Config.from_outputs(outputs)
