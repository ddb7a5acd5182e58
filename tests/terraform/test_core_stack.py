"""The root stack, modules/core and examples/existing-estate through Terraform itself.

GIVEN a copy of the Terraform sources and a moto server on 127.0.0.1, WHEN terraform
formats, validates, unit-tests (mock provider), plans and applies them, THEN the code
is canonical, valid, wired as the runtime contract says, compliant with the security
and tagging policy (terraform-compliance), and the stack applies, re-plans with no
changes and destroys cleanly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from core_harness import ROOT, TF_SH, Tf, base_env
from mailstep.local import server

pytestmark = pytest.mark.terraform

CORE_INPUTS_TO_APPLY = [
    "-var",
    "deletion_protection=false",
    # Reply capture on, activated and forwarding: apply, re-plan, compliance and destroy
    # cover its receipt rule set, topic, function and grants too.
    "-var",
    'reply_capture={recipients=["acme.test"], activate=true, forward_to="team@acme.test"}',
]
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
COMPLIANCE_FEATURES = ROOT / "tests" / "terraform" / "compliance"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:ops-alerts"


# --------------------------------------------------------------------------- static


def test_terraform_files_are_formatted(terraform_installed: None) -> None:
    result = subprocess.run(
        [str(TF_SH), f"-chdir={ROOT}", "fmt", "-check", "-recursive", "-diff", "-no-color"],
        capture_output=True,
        text=True,
        env=base_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"run `make fmt`:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("directory", [".", "modules/core", "examples/existing-estate"])
def test_configuration_is_valid(workspace: Path, tf_offline: Tf, directory: str) -> None:
    result = tf_offline(workspace / directory, "validate")
    assert "Success! The configuration is valid." in result.stdout


def test_core_module_unit_tests_pass(workspace: Path, tf_offline: Tf) -> None:
    core = workspace / "modules" / "core"
    tf_offline(core, "init", "-backend=false")
    result = tf_offline(core, "test")
    assert " 0 failed" in result.stdout, result.stdout


def test_root_validations(workspace: Path, tf_offline: Tf) -> None:
    tf_offline(workspace, "init", "-backend=false", "-lockfile=readonly")
    result = tf_offline(workspace, "test", "-test-directory=tests/terraform/tftest")
    assert " 0 failed" in result.stdout, result.stdout


def test_committed_lock_file_matches_the_mirror(workspace: Path, tf_offline: Tf) -> None:
    """init must not need to change the committed lock (users get what CI tested)."""
    before = (workspace / ".terraform.lock.hcl").read_text()
    tf_offline(workspace, "init", "-backend=false", "-lockfile=readonly")
    assert (workspace / ".terraform.lock.hcl").read_text() == before
    assert 'version     = "5.100.0"' in before


# --------------------------------------------------------------------------- plans


def test_invalid_name_prefix_fails_the_plan_with_what_to_fix(
    workspace: Path, tf: Tf, lambda_zip: Path
) -> None:
    result = tf(
        workspace,
        "plan",
        "-var",
        "name_prefix=Mail_Step",
        "-var",
        f"lambda_zip_path={lambda_zip}",
        check=False,
    )
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "Invalid value for variable" in message
    assert 'name_prefix "Mail_Step" is not allowed' in message
    assert "it must be 1-32 characters of lowercase letters" in message
    assert "Fix the value you pass as name_prefix" in message


def test_missing_lambda_zip_fails_the_plan_saying_make_package(workspace: Path, tf: Tf) -> None:
    result = tf(workspace, "plan", "-var", "lambda_zip_path=build/missing.zip", check=False)
    assert result.returncode != 0
    assert "run `make package`" in " ".join(result.stderr.split())


def test_example_reuses_the_core_with_existing_key_and_topic(
    workspace: Path, tf: Tf, lambda_zip: Path
) -> None:
    example = workspace / "examples" / "existing-estate"
    tf(
        example,
        "plan",
        "-out=example.tfplan",
        "-var",
        f"lambda_zip_path={lambda_zip}",
        "-var",
        f"kms_key_arn={KMS_KEY}",
        "-var",
        f"alarm_topic_arn={ALARM_TOPIC}",
    )
    plan = json.loads(tf(example, "show", "-json", "example.tfplan").stdout)
    resources = {
        r["address"]: r["values"]
        for r in plan["planned_values"]["root_module"]["child_modules"][0]["resources"]
        if "values" in r
    }
    main_table = resources["module.mailstep.aws_dynamodb_table.main"]
    assert main_table["server_side_encryption"] == [{"enabled": True, "kms_key_arn": KMS_KEY}]
    assert main_table["name"] == "acme-mail-main"
    alarms = [v for a, v in resources.items() if "aws_cloudwatch_metric_alarm" in a]
    assert alarms
    assert all(v["alarm_actions"] == [ALARM_TOPIC] for v in alarms)
    # No provider default_tags in the example: the module tags on its own.
    assert resources["module.mailstep.aws_cloudwatch_event_bus.this"]["tags"] == {
        "application": "mailstep",
        "cost-center": "growth",
    }


def test_plan_without_credentials_uses_the_local_sandbox(
    workspace: Path, lambda_zip: Path, tmp_path: Path
) -> None:
    """`make plan` on a machine without AWS credentials: a sandbox plan, clearly announced."""
    env = base_env()
    env["HOME"] = str(tmp_path)  # no ~/.aws
    env.pop("MAILSTEP_TARGET", None)
    env.pop("MAILSTEP_SANDBOX_URL", None)
    result = subprocess.run(
        [
            str(TF_SH),
            f"-chdir={workspace}",
            "plan",
            "-no-color",
            "-var",
            f"lambda_zip_path={lambda_zip}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "no AWS credentials found" in result.stderr
    assert "LOCAL SANDBOX at http://127.0.0.1:" in result.stderr
    assert "Plan:" in result.stdout


def test_apply_without_credentials_refuses_and_says_why(workspace: Path, tmp_path: Path) -> None:
    env = base_env()
    env["HOME"] = str(tmp_path)
    env.pop("MAILSTEP_TARGET", None)
    result = subprocess.run(
        [str(TF_SH), f"-chdir={workspace}", "apply"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "no AWS credentials found" in result.stderr
    assert "MAILSTEP_TARGET=local" in result.stderr


# --------------------------------------------------------------------------- apply cycle


@pytest.fixture(scope="module")
def applied(workspace: Path, tf: Tf, lambda_zip: Path) -> tuple[Path, list[str]]:
    """The root stack applied to the sandbox; destroyed by test_destroy_leaves_nothing
    (whatever is left goes with the module's sandbox)."""
    args = ["-var", f"lambda_zip_path={lambda_zip}", *CORE_INPUTS_TO_APPLY]
    tf(workspace, "apply", "-auto-approve", *args, timeout=600)
    return workspace, args


def test_apply_then_replan_shows_no_changes(applied: tuple[Path, list[str]], tf: Tf) -> None:
    workspace, args = applied
    result = tf(workspace, "plan", "-detailed-exitcode", *args, check=False)
    assert result.returncode == 0, f"re-plan after apply is not empty:\n{result.stdout[-6000:]}"


def test_secret_is_generated_into_ssm_and_never_into_state(
    applied: tuple[Path, list[str]], tf: Tf, sandbox: server.Sandbox
) -> None:
    workspace, _ = applied
    ssm = boto3.client(
        "ssm",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    secret = ssm.get_parameter(Name="/mailstep/unsubscribe-secret", WithDecryption=True)[
        "Parameter"
    ]
    assert secret["Type"] == "SecureString"
    assert re.fullmatch(r"[0-9a-f]{64}", secret["Value"])
    assert secret["Value"] not in tf(workspace, "show", "-json").stdout
    raw_state = (workspace / "terraform.tfstate.d" / "local" / "terraform.tfstate").read_text()
    assert secret["Value"] not in raw_state
    config = json.loads(ssm.get_parameter(Name="/mailstep/config")["Parameter"]["Value"])
    assert config["unsubscribe_url"].startswith("https://")
    assert config["unsubscribe_url"] == json.loads(
        tf(workspace, "output", "-json", "unsubscribe_url").stdout
    )


@pytest.fixture(scope="module")
def replan_json(applied: tuple[Path, list[str]], tf: Tf) -> Path:
    """The post-apply plan as JSON: every value (ARNs, policies) is known there."""
    workspace, args = applied
    tf(workspace, "plan", "-out=replan.tfplan", *args)
    plan_json = workspace / "replan.json"
    plan_json.write_text(tf(workspace, "show", "-json", "replan.tfplan").stdout)
    return plan_json


def run_compliance(compliance_bin: Path, plan_json: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compliance_bin), "--no-ansi", "-p", str(plan_json), "-f", str(COMPLIANCE_FEATURES)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def test_applied_stack_is_compliant(replan_json: Path, compliance_bin: Path) -> None:
    result = run_compliance(compliance_bin, replan_json)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]


def _policy_statement(plan: dict[str, Any], role: str, statement: dict[str, Any]) -> None:
    for values in _values(plan, "aws_iam_role_policy", role):
        policy = json.loads(values["policy"])
        policy["Statement"].append(statement)
        values["policy"] = json.dumps(policy)


def _set(
    resource_type: str, address_part: str, key: str, value: Any
) -> Callable[[dict[str, Any]], None]:
    def mutate(plan: dict[str, Any]) -> None:
        for values in _values(plan, resource_type, address_part):
            values[key] = value

    return mutate


def _values(plan: dict[str, Any], resource_type: str, address_part: str) -> list[dict[str, Any]]:
    """The planned values of matching resources, in planned_values and resource_changes."""
    found: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        for r in module.get("resources", []):
            if r["type"] == resource_type and address_part in r["address"]:
                found.append(r["values"])
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    found += [
        rc["change"]["after"]
        for rc in plan["resource_changes"]
        if rc["type"] == resource_type and address_part in rc["address"]
    ]
    assert found, f"no {resource_type} matching {address_part!r} in the plan"
    return found


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "table without PITR": _set(
        "aws_dynamodb_table", "main", "point_in_time_recovery", [{"enabled": False}]
    ),
    "queue without encryption": _set(
        "aws_sqs_queue", "events_dlq", "sqs_managed_sse_enabled", False
    ),
    "broadcast queue without encryption": _set(
        "aws_sqs_queue", "sqs_queue.broadcast", "sqs_managed_sse_enabled", False
    ),
    "broadcast queue without a redrive policy": _set(
        "aws_sqs_queue", "sqs_queue.broadcast", "redrive_policy", ""
    ),
    # An omitted function_response_types plans as null.
    "event source mapping without batch item failures": _set(
        "aws_lambda_event_source_mapping", "broadcast", "function_response_types", None
    ),
    "log group without retention": _set(
        "aws_cloudwatch_log_group", "send-email", "retention_in_days", 0
    ),
    "bucket public policies allowed": _set(
        "aws_s3_bucket_public_access_block", "templates", "block_public_policy", False
    ),
    "second public function URL": _set(
        "aws_lambda_function_url", "unsubscribe", "function_name", "mailstep-send-email"
    ),
    "untagged resource": _set("aws_sqs_queue", "lambda_dlq", "tags", None),
    "inbound mail not scanned": _set("aws_ses_receipt_rule", "replies", "scan_enabled", False),
    "wildcard action": lambda plan: _policy_statement(
        plan,
        "check-condition",
        {
            "Effect": "Allow",
            "Action": "dynamodb:*",
            "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/x",
        },
    ),
    "StopExecution on every execution": lambda plan: _policy_statement(
        plan,
        "unsubscribe",
        {
            "Effect": "Allow",
            "Action": "states:StopExecution",
            "Resource": "arn:aws:states:us-east-1:123456789012:execution:*",
        },
    ),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_compliance_catches(
    mutation: str, replan_json: Path, compliance_bin: Path, tmp_path: Path
) -> None:
    """Each policy can fail: a plan broken in one way fails terraform-compliance."""
    plan = json.loads(replan_json.read_text())
    MUTATIONS[mutation](plan)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(plan))
    result = run_compliance(compliance_bin, broken)
    assert result.returncode != 0, f"{mutation} passed compliance:\n{result.stdout[-4000:]}"


def test_destroy_leaves_nothing(
    applied: tuple[Path, list[str]], tf: Tf, sandbox: server.Sandbox
) -> None:
    workspace, args = applied
    before = json.loads(tf(workspace, "show", "-json").stdout)["values"]["root_module"]
    assert before["child_modules"], "nothing was applied (wrong workspace?)"
    tf(workspace, "destroy", "-auto-approve", *args, timeout=600)
    after = json.loads(tf(workspace, "show", "-json").stdout)
    assert not after.get("values", {}).get("root_module", {}).get("child_modules")
    aws = {
        name: boto3.client(
            name,
            endpoint_url=sandbox.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        for name in ("dynamodb", "lambda", "sqs", "s3")
    }
    assert aws["dynamodb"].list_tables()["TableNames"] == []
    assert aws["lambda"].list_functions()["Functions"] == []
    assert aws["sqs"].list_queues().get("QueueUrls", []) == []
    assert aws["s3"].list_buckets()["Buckets"] == []
