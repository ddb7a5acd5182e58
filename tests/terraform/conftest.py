"""Fixtures for the Terraform tests of the root stack, modules/core and the example.

Everything runs on a copy of the Terraform sources in a temporary directory, so no
`.terraform/`, lock file or state ever lands in the work tree, and every AWS call
goes to a moto server on 127.0.0.1 started in this process (mailstep.local.server).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from core_harness import (
    COMPLIANCE_REQUIREMENTS,
    COMPLIANCE_VENV,
    IGNORED,
    LAMBDA_ZIP,
    ROOT,
    SOURCES,
    Tf,
    base_env,
)
from mailstep.local import server


@pytest.fixture(scope="session")
def terraform_installed() -> None:
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: install it, or deselect with -m 'not terraform'")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory, terraform_installed: None) -> Path:
    """A copy of the Terraform sources (root, modules, example, templates)."""
    work = tmp_path_factory.mktemp("stack")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name, ignore=IGNORED)
        elif source.is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, work / name)
    return work


@pytest.fixture(scope="module")
def sandbox() -> Iterator[server.Sandbox]:
    """moto on 127.0.0.1 (random free port) with the stubs Terraform needs; emptied first."""
    saved = os.environ.get("MOTO_PORT")
    running = server.start(0)
    # moto keeps its state per process: start from an empty account.
    urllib.request.urlopen(
        urllib.request.Request(f"{running.endpoint_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    yield running
    running.stop()
    if saved is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = saved


@pytest.fixture(scope="module")
def tf(sandbox: server.Sandbox, terraform_installed: None) -> Tf:
    """tf.sh aimed at the module's sandbox (MAILSTEP_TARGET=local)."""
    env = base_env()
    env.update({"MAILSTEP_TARGET": "local", "MAILSTEP_SANDBOX_URL": sandbox.endpoint_url})
    return Tf(env)


@pytest.fixture(scope="session")
def tf_offline(terraform_installed: None) -> Tf:
    """tf.sh for commands that talk to no AWS endpoint (init, validate, test, fmt)."""
    return Tf(base_env())


@pytest.fixture(scope="session")
def lambda_zip() -> Path:
    """build/lambda.zip, built the way users build it (`make package`)."""
    result = subprocess.run(
        ["make", "-s", "package"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"make package failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    assert LAMBDA_ZIP.is_file()
    return LAMBDA_ZIP


@pytest.fixture(scope="session")
def compliance_bin() -> Path:
    """terraform-compliance from its own venv (.venv-compliance), pinned and idempotent.

    It has old, heavy dependencies, so it never shares the project venv. Reinstalled
    only when requirements/compliance.txt changes.
    """
    binary = COMPLIANCE_VENV / "bin" / "terraform-compliance"
    stamp = COMPLIANCE_VENV / ".installed"
    digest = hashlib.sha256(COMPLIANCE_REQUIREMENTS.read_bytes()).hexdigest()
    if binary.is_file() and stamp.is_file() and stamp.read_text() == digest:
        return binary
    python = COMPLIANCE_VENV / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(COMPLIANCE_VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(COMPLIANCE_REQUIREMENTS),
        ],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600, check=False)
        if result.returncode != 0:
            pytest.fail(
                f"{' '.join(step)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
            )
    (COMPLIANCE_VENV / ".gitignore").write_text("*\n")  # never committed
    stamp.write_text(digest)
    return binary
