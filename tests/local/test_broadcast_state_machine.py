"""The broadcast state machine, as modules/core deploys it, runs in the sandbox.

GIVEN the ASL rendered by modules/core/modules/broadcast-asl (provider-free, applied
offline) and a stub broadcast function (tests/local/stub_handlers.py), WHEN executions
run in the sandbox's Step Functions interpreter, THEN resolve loops through Pace until
it returns done, and a failing or malformed resolve ends in Fail-record (action fail,
with the broadcast id and the error) and a failed execution.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import stub_handlers
from mailstep.local.sandbox import LocalAws
from statelint.config import Config
from statelint.linter import Linter
from statelint.problem import ProblemType

pytestmark = pytest.mark.terraform

ROOT = Path(__file__).resolve().parents[2]
ASL_MODULE = ROOT / "modules" / "core" / "modules" / "broadcast-asl"
FUNCTION = "bc-broadcast"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"


def render(work: Path) -> dict[str, Any]:
    """The definition the core deploys for a broadcast function named FUNCTION."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: install it, or deselect with -m 'not terraform'")
    cli_config = work / "terraformrc"
    cli_config.write_text("")  # the module needs no provider: nothing to install
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_DATA_DIR": str(work / "tf-data"),  # keeps .terraform/ out of the source tree
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    state = work / "asl.tfstate"
    tf = ["terraform", f"-chdir={ASL_MODULE}"]
    apply = ["apply", "-auto-approve", "-no-color", f"-state={state}"]
    for args in (
        [*tf, "init", "-no-color", "-backend=false"],
        [*tf, *apply, f"-var=broadcast_function_arn={FUNCTION_ARN}"],
    ):
        result = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    out = subprocess.run(
        [*tf, "output", "-no-color", f"-state={state}", "-raw", "definition"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    definition: dict[str, Any] = json.loads(out.stdout)
    return definition


class Machine:
    def __init__(self, endpoint: str, arn: str) -> None:
        self.endpoint, self.arn = endpoint, arn

    def run(self, broadcast_id: str, timeout: float = 30) -> dict[str, Any]:
        """Start an execution the way the broadcast function does and wait for its end."""
        sfn = client(self.endpoint, "stepfunctions")
        start = {"broadcast_id": broadcast_id, "mode": "count", "cursor": None, "iteration": 0}
        execution = sfn.start_execution(
            stateMachineArn=self.arn, name=broadcast_id, input=json.dumps(start)
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: dict[str, Any] = sfn.describe_execution(
                executionArn=execution["executionArn"]
            )
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError(f"execution for {broadcast_id} still RUNNING")

    def entered(self, execution_arn: str) -> list[str]:
        """Names of the states the execution entered, in order."""
        sfn = client(self.endpoint, "stepfunctions")
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [
            e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
        ]


def client(endpoint: str, name: str) -> Any:
    return boto3.client(
        name,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


@pytest.fixture(scope="module")
def definition(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return render(tmp_path_factory.mktemp("broadcast-asl"))


@pytest.fixture(scope="module")
def machine(
    tmp_path_factory: pytest.TempPathFactory, definition: dict[str, Any]
) -> Iterator[Machine]:
    local = LocalAws(tmp_path_factory.mktemp("broadcast"), scale=0.0)  # Pace waits are skipped
    endpoints = local.start()
    try:
        role = client(endpoints.aws, "iam").create_role(
            RoleName="bc", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("placeholder.py", "")
        client(endpoints.aws, "lambda").create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="stub_handlers.broadcast",
            Code={"ZipFile": code.getvalue()},
        )
        arn = client(endpoints.aws, "stepfunctions").create_state_machine(
            name="bc--broadcast", definition=json.dumps(definition), roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        yield Machine(endpoints.aws, arn)
    finally:
        local.stop()


def test_statelint_finds_no_problem(definition: dict[str, Any]) -> None:
    # FLOAT is ignored: statelint wants BackoffRate written 2.0; jsonencode writes 2.
    assert Linter.validate(json.dumps(definition), Config({ProblemType.FLOAT}, False, False)) == []


def test_both_tasks_invoke_the_function_and_retry_lambda_errors(
    definition: dict[str, Any],
) -> None:
    tasks = {k: v for k, v in definition["States"].items() if v["Type"] == "Task"}
    assert set(tasks) == {"Resolve", "Fail-record"}
    for name, task in tasks.items():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke", name
        assert task["Parameters"]["FunctionName"] == FUNCTION_ARN, name
        assert task["Retry"][0]["ErrorEquals"] == [
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ], name
        assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"], name


def calls(broadcast_id: str) -> list[dict[str, Any]]:
    return [e for e in stub_handlers.SEEN if e.get("broadcast_id") == broadcast_id]


def test_resolve_loops_through_pace_until_done(machine: Machine) -> None:
    execution = machine.run("b-ok")

    assert execution["status"] == "SUCCEEDED", execution
    assert [(c["action"], c["cursor"], c["iteration"]) for c in calls("b-ok")] == [
        ("resolve", None, 0),
        ("resolve", "page-1", 1),
        ("resolve", "page-2", 2),
    ]
    assert {c["mode"] for c in calls("b-ok")} == {"count"}
    assert machine.entered(execution["executionArn"]) == [
        "Resolve", "Done?", "Pace",
        "Resolve", "Done?", "Pace",
        "Resolve", "Done?", "Done",
    ]  # fmt: skip
    assert json.loads(execution["output"])["done"] is True


def test_a_failing_resolve_records_the_failure_and_fails(machine: Machine) -> None:
    execution = machine.run("boom-1")

    assert execution["status"] == "FAILED"
    assert execution.get("error") == "Mailstep.BroadcastFailed"
    resolves = [c for c in calls("boom-1") if c["action"] == "resolve"]
    assert [c["iteration"] for c in resolves] == [0, 1]  # RuntimeError is not retried
    fail = [c for c in calls("boom-1") if c["action"] == "fail"]
    assert len(fail) == 1
    assert fail[0]["broadcast_id"] == "boom-1"
    assert fail[0]["error"]["Error"] == "RuntimeError"
    assert "audience page unreadable" in fail[0]["error"]["Cause"]
    assert machine.entered(execution["executionArn"])[-2:] == ["Fail-record", "Failed"]


def test_a_result_without_done_or_wait_seconds_fails_the_broadcast(machine: Machine) -> None:
    execution = machine.run("bad-1")

    assert execution["status"] == "FAILED"
    fail = [c for c in calls("bad-1") if c["action"] == "fail"]
    assert [f["error"]["Error"] for f in fail] == ["Mailstep.InvalidResolveResult"]
    assert machine.entered(execution["executionArn"]) == [
        "Resolve", "Done?", "Invalid-result", "Fail-record", "Failed",
    ]  # fmt: skip
