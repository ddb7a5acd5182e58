"""Shared helpers of the core/root Terraform tests (imported by conftest and the tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TF_SH = ROOT / "scripts" / "tf.sh"
LAMBDA_ZIP = ROOT / "build" / "lambda.zip"
COMPLIANCE_VENV = ROOT / ".venv-compliance"
COMPLIANCE_REQUIREMENTS = ROOT / "requirements" / "compliance.txt"

# What a copy of the stack needs; module lock files and working dirs stay behind.
SOURCES = [
    "main.tf",
    "variables.tf",
    "outputs.tf",
    "versions.tf",
    ".terraform.lock.hcl",
    "modules",
    "examples",
    "templates",
    "sequences",
    "tests/terraform/tftest",
]
IGNORED = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "*.tfplan"
)

# Never real credentials: a leaked profile or key must not reach a real account.
SCRUBBED = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@dataclass(frozen=True)
class Tf:
    """scripts/tf.sh with a fixed environment; each call returns the finished process."""

    env: dict[str, str]

    def __call__(
        self, workdir: Path, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        # Options go before positional arguments (`show -json -no-color PLAN`).
        command = [args[0], "-no-color", *args[1:]] if _takes_no_color(args) else list(args)
        result = subprocess.run(
            [str(TF_SH), f"-chdir={workdir}", *command],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"terraform {' '.join(args)} in {workdir} exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
            )
        return result


def _takes_no_color(args: tuple[str, ...]) -> bool:
    return bool(args) and args[0] in {
        "init",
        "validate",
        "plan",
        "apply",
        "destroy",
        "test",
        "show",
        "output",
    }


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        {
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",  # unimplemented calls fail at once instead of 25 retries
            "MAILSTEP_PYTHON": sys.executable,
        }
    )
    return env
