"""scripts/tf.sh: which provider source it picks and what it refuses.

GIVEN the wrapper, WHEN a mirror is named, missing or the target is unknown, THEN it
writes a CLI config for that mirror, or stops with a message saying what to fix.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from core_harness import ROOT, TF_SH, base_env

pytestmark = pytest.mark.terraform

CLI_CONFIG = ROOT / "build" / "terraformrc"


def run(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**base_env(), **env_extra}
    return subprocess.run(
        [str(TF_SH), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_named_mirror_goes_into_its_own_cli_config(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    result = run({"MAILSTEP_TF_MIRROR": str(mirror)}, "version")
    assert result.returncode == 0, result.stderr
    config = CLI_CONFIG.read_text()
    assert f'path    = "{mirror}"' in config
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in config
    # terraform was pointed at an existing CLI config: no "Unable to open" warning
    assert "Unable to open CLI configuration file" not in result.stderr
    run({}, "version")  # put the machine's own mirror back for later tests


def test_named_mirror_without_the_provider_is_refused(tmp_path: Path) -> None:
    result = run({"MAILSTEP_TF_MIRROR": str(tmp_path)}, "version")
    assert result.returncode != 0
    assert "holds no registry.terraform.io/hashicorp/aws" in result.stderr


def test_unknown_target_is_refused() -> None:
    result = run({"MAILSTEP_TARGET": "staging"}, "plan")
    assert result.returncode != 0
    assert "MAILSTEP_TARGET must be aws, local or unset" in result.stderr


def test_aws_target_without_credentials_says_what_to_configure(tmp_path: Path) -> None:
    result = run({"MAILSTEP_TARGET": "aws", "HOME": str(tmp_path)}, "plan")
    assert result.returncode != 0
    assert "no AWS credentials found" in result.stderr
    assert "AWS_PROFILE" in result.stderr
