"""Run the example sequences for real: the ASL Terraform renders, in moto's Step Functions
interpreter, with the Lambda tasks running our handlers in-process and waits skipped.

Why not a conftest.py here: the suite imports helpers with ``from support import …``,
and a second conftest.py would shadow tests/conftest.py for every directory collected
after this one (tests/terraform, tests/unit). So this is a plain module, and each test
module wraps :func:`mocked_account` in its own module-scoped fixture.

* The ASL comes from the same place as tests/terraform/test_sequence_asl.py gets it:
  the provider-free harness modules/sequence/tests/render (modules/sequence/modules/asl),
  initialised through scripts/tf.sh, applied once per session, with the ARNs of the
  two functions the account below creates.
* One mocked account per test module (the interpreter's first execution costs ~1 s):
  tests share it by using their own subscriber addresses, and anything a test breaks
  (a deleted template, a gated wait) it restores itself.
* Choice rules fail the run on a missing path, as on AWS (see :func:`_strict_choice`):
  moto quietly treats the rule as false, which would hide an unguarded Choice.
* Executions start from an EventBridge event mapped the way the sequence's trigger rule
  maps it (modules/sequence/events.tf): ``{"event_id", "subscriber": {email,
  first_name, attributes}}`` with the paths from the YAML file.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from mailstep.adapters import clients, schema, wiring
from mailstep.local import clock, lambda_runtime
from mailstep.local.shims import transform_input
from moto import mock_aws
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (  # noqa: E501
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
    ComparisonVariable,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from support import ACCOUNT, ENV, REGION, SECRET, UNSUBSCRIBE_URL, Aws

ROOT = Path(__file__).resolve().parents[2]
SEQUENCES_DIR = ROOT / "sequences"
TEMPLATES_DIR = ROOT / "templates"
HARNESS = ROOT / "modules" / "sequence" / "tests" / "render"
TF_WRAPPER = ROOT / "scripts" / "tf.sh"

# The functions the ASL's Tasks call (docs/runtime-contract.md): name → handler.
FUNCTIONS = {
    "mailstep-send-email": "mailstep.handlers.send_email.handler",
    "mailstep-check-condition": "mailstep.handlers.check_condition.handler",
}
FUNCTION_ARNS = {name: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}" for name in FUNCTIONS}
FUNCTION_ENV = {  # the contract's environment, every function the same
    **{k: v for k, v in ENV.items() if k.startswith(("MAILSTEP_", "POWERTOOLS_"))},
    "LOG_LEVEL": "INFO",
}
RUN_TIMEOUT = 15.0  # seconds for one execution; they take tens of milliseconds


# --------------------------------------------------------------------------- rendering


@functools.cache
def _render(work: Path) -> dict[str, str]:
    """Rendered ASL JSON keyed by sequence file name, through the Terraform harness."""
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: install it, or deselect with -m 'not terraform'")
    env = {**os.environ, "TF_DATA_DIR": str(work / "tf-data"), "TF_IN_AUTOMATION": "1"}

    def run(args: list[str]) -> str:
        result = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        if result.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    run([str(TF_WRAPPER), f"-chdir={HARNESS}", "init", "-no-color"])
    cli_config = ROOT / "build" / "terraformrc"  # written by tf.sh when there is a mirror
    if cli_config.is_file():
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    state = work / "render.tfstate"
    tf = ["terraform", f"-chdir={HARNESS}"]
    send_email, check_condition = FUNCTION_ARNS.values()
    run([*tf, "apply", "-auto-approve", "-no-color", f"-state={state}",
         f"-var=sequences_dir={SEQUENCES_DIR}",
         f"-var=send_email_function_arn={send_email}",
         f"-var=check_condition_function_arn={check_condition}"])  # fmt: skip
    out = run([*tf, "output", "-no-color", f"-state={state}", "-json", "definitions"])
    definitions: dict[str, str] = json.loads(out)
    return definitions


def rendered_asl(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every sequences/*.yaml rendered, once per session (cached on the directory)."""
    work = tmp_path_factory.getbasetemp() / "sequences-asl"
    work.mkdir(exist_ok=True)
    return _render(work)


def sequence_file(sequence_id: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((SEQUENCES_DIR / f"{sequence_id}.yaml").read_text())
    return document


# --------------------------------------------------------------------------- the account


@dataclass
class Run:
    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def states(self) -> list[str]:
        """Names of the states entered, in order."""
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]

    def state_input(self, name: str) -> dict[str, Any]:
        for event in self.history:
            details = event.get("stateEnteredEventDetails")
            if details and details["name"] == name:
                value: dict[str, Any] = json.loads(details["input"])
                return value
        raise AssertionError(f"{name} was never entered: {self.states()}")

    def state_output(self, name: str) -> dict[str, Any]:
        for event in self.history:
            details = event.get("stateExitedEventDetails")
            if details and details["name"] == name:
                value: dict[str, Any] = json.loads(details["output"])
                return value
        raise AssertionError(f"{name} never exited: {self.states()}")


@dataclass
class Account:
    aws: Aws
    role_arn: str
    machines: dict[str, str] = field(default_factory=dict)  # key → state machine ARN

    @property
    def sfn(self) -> Any:
        return self.aws.client("stepfunctions")

    # ---- driving

    def event(self, sequence_id: str, detail: dict[str, Any]) -> dict[str, Any]:
        """An EventBridge event the sequence's trigger rule matches."""
        trigger = sequence_file(sequence_id)["trigger"]
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": trigger["detail_type"],
            "source": trigger.get("source", "acme.app"),
            "account": ACCOUNT,
            "time": "2025-01-01T00:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": detail,
        }

    def start(self, sequence_id: str, event: dict[str, Any], machine: str | None = None) -> str:
        """Start a run with the input the trigger rule's input transformer would give
        (on the sequence's own state machine unless another ``machine`` key is named)."""
        trigger = sequence_file(sequence_id)["trigger"]
        mapping = trigger.get("subscriber", {})
        paths = {  # the defaults of modules/sequence (variables.tf, events.tf)
            "event_id": trigger.get("dedupe_key", "$.id"),
            "email": mapping.get("email", "$.detail.email"),
            "first_name": mapping.get("first_name", "$.detail.firstName"),
            "attributes": mapping.get("attributes", "$.detail"),
        }
        template = (
            '{"event_id": <event_id>, "subscriber": '
            '{"email": <email>, "first_name": <first_name>, "attributes": <attributes>}}'
        )
        run_input = transform_input(template, paths, event)
        response = self.sfn.start_execution(  # moto names every unnamed run "None"
            stateMachineArn=self.machines[machine or sequence_id],
            name=uuid.uuid4().hex,
            input=run_input,
        )
        return str(response["executionArn"])

    def wait(self, arn: str) -> Run:
        deadline = time.monotonic() + RUN_TIMEOUT
        while True:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{arn} still RUNNING after {RUN_TIMEOUT} s")
            time.sleep(0.01)
        history = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return Run(
            arn=arn,
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )

    def run(self, sequence_id: str, detail: dict[str, Any]) -> Run:
        return self.wait(self.start(sequence_id, self.event(sequence_id, detail)))

    # ---- observing

    def sent_to(self, email: str) -> list[dict[str, Any]]:
        return [m for m in self.aws.sent if m["Destination"]["ToAddresses"] == [email]]

    def exec_rows(self, email: str, sequence_id: str) -> list[dict[str, Any]]:
        rows = self.aws.items(f"SUB#{email}") + self.aws.items(f"SEQ#{sequence_id}")
        return [
            r
            for r in rows
            if (r["PK"], r["SK"]) in {(f"SUB#{email}", f"EXEC#{sequence_id}"),
                                      (f"SEQ#{sequence_id}", f"SUB#{email}")}
        ]  # fmt: skip

    def wait_until_waiting(self, arn: str) -> None:
        """Until the run has entered a Wait state (it is then parked, see hold_waits)."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            events = self.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
            if any(e["type"] == "WaitStateEntered" for e in events):
                return
            time.sleep(0.01)
        raise AssertionError(f"{arn} never reached a Wait state")


def hold_waits(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Park every run at its first Wait state until the returned event is set (or the run
    is stopped), so a test can act while a run is active. Undone with monkeypatch."""
    release = threading.Event()

    def parked(self: Any, env: Any, wait_seconds: int) -> None:
        deadline = time.monotonic() + RUN_TIMEOUT
        while env.is_running() and not release.is_set() and time.monotonic() < deadline:
            env.program_state_event.wait(0.01)

    monkeypatch.setattr(wait_function.WaitFunction, "_wait_interval", parked)
    return release


# --------------------------------------------------------------------------- emails


def headers(message: dict[str, Any]) -> dict[str, str]:
    return {h["Name"]: h["Value"] for h in message["Content"]["Simple"]["Headers"]}


def template_of(message: dict[str, Any]) -> str:
    return headers(message)["X-Mailstep-Template"]


def subject_of(message: dict[str, Any]) -> str:
    return str(message["Content"]["Simple"]["Subject"]["Data"])


def summary(messages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(step, template, subject) of each message, in the order they were sent."""
    return [(headers(m)["X-Mailstep-Step"], template_of(m), subject_of(m)) for m in messages]


def assert_envelope(message: dict[str, Any], sequence_id: str) -> None:
    """What every email of a (non-transactional) sequence carries, from its YAML file."""
    sender = sequence_file(sequence_id)["sender"]
    assert message["FromEmailAddress"] == sender["from"]
    assert message.get("ReplyToAddresses") == [sender["reply_to"]]
    assert message["ConfigurationSetName"] == ENV["MAILSTEP_CONFIGURATION_SET"]
    found = headers(message)
    assert found["X-Mailstep-Sequence"] == sequence_id
    assert found["X-Mailstep-Step"]
    assert found["X-Mailstep-Template"].startswith(f"{sequence_id}/")
    unsubscribe = found["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{UNSUBSCRIBE_URL}?token=")
    assert unsubscribe.endswith(">")
    assert found["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message["Content"]["Simple"]["Body"]["Html"]["Data"]
    assert unsubscribe[1:-1] in html  # the footer links to the same per-subscriber URL
    assert "{{" not in html
    assert "{{" not in subject_of(message)


# --------------------------------------------------------------------------- fixture


def _create_account(aws: Aws, rendered: dict[str, str]) -> Account:
    db = aws.client("dynamodb")
    db.create_table(TableName=ENV["MAILSTEP_TABLE"], **schema.MAIN_TABLE)
    db.create_table(TableName=ENV["MAILSTEP_EVENTS_TABLE"], **schema.EVENTS_TABLE)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"])
    for path in sorted(p for p in TEMPLATES_DIR.rglob("*") if p.is_file()):
        key = path.relative_to(TEMPLATES_DIR).as_posix()
        s3.put_object(Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"], Key=key, Body=path.read_bytes())
    ses = aws.client("sesv2")
    ses.create_email_identity(EmailIdentity="acme.test")
    ses.create_configuration_set(ConfigurationSetName=ENV["MAILSTEP_CONFIGURATION_SET"])
    ssm = aws.client("ssm")
    ssm.put_parameter(
        Name=ENV["MAILSTEP_CONFIG_PARAMETER"],
        Type="String",
        Value=json.dumps({"unsubscribe_url": UNSUBSCRIBE_URL, "data_ttl_days": 30}),
    )
    ssm.put_parameter(Name=ENV["MAILSTEP_SECRET_PARAMETER"], Type="SecureString", Value=SECRET)
    aws.client("events").create_event_bus(Name=ENV["MAILSTEP_EVENT_BUS"])

    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}],
    }  # fmt: skip
    role = aws.client("iam").create_role(
        RoleName="mailstep", AssumeRolePolicyDocument=json.dumps(trust)
    )
    role_arn = role["Role"]["Arn"]
    lam = aws.client("lambda")
    for name, handler in FUNCTIONS.items():
        created = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": _empty_zip()},
            Environment={"Variables": FUNCTION_ENV},
        )
        assert created["FunctionArn"] == FUNCTION_ARNS[name]
    account = Account(aws, role_arn)
    for sequence_id, definition in rendered.items():
        resources = {
            state["Resource"]
            for state in json.loads(definition)["States"].values()
            if state["Type"] == "Task"
        }
        assert resources <= set(FUNCTION_ARNS.values()), f"{sequence_id} calls {resources}"
        machine = account.sfn.create_state_machine(
            name=f"mailstep-{sequence_id}", definition=definition, roleArn=role_arn
        )
        account.machines[sequence_id] = machine["stateMachineArn"]
    return account


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")  # the handler runs from lambda_src/
    return buffer.getvalue()


def _capture(aws: Aws) -> None:
    """Record SES SendEmail and EventBridge PutEvents requests. Registered on the default
    boto3 session, so clients created later (the handlers rebuild theirs whenever a
    different function's environment comes in) carry the hooks too."""

    def capture_send(params: dict[str, Any], **_: Any) -> None:
        aws.sent.append(copy.deepcopy(params))

    def capture_put(params: dict[str, Any], **_: Any) -> None:
        for entry in params.get("Entries", []):
            aws.published.append({**entry, "Detail": json.loads(entry["Detail"])})

    events = boto3._get_default_session().events
    events.register("provide-client-params.sesv2.SendEmail", capture_send)
    events.register("provide-client-params.events.PutEvents", capture_put)


def _strict_choice(self: ComparisonVariable, env: Any) -> None:
    """ComparisonVariable._eval_body as AWS behaves: a comparison other than IsPresent on
    a path the input lacks fails the execution with States.Runtime (the ASL docs: "If the
    state input doesn't contain the field, the execution fails"). moto evaluates it to
    false instead. And/Or still short-circuit, so an IsPresent guard first protects the
    rest, on AWS and here."""
    self.variable.eval(env)
    missing = isinstance(env.stack[-1], NoSuchVariable)
    if missing and self.comparison_function.operator_type != ComparisonOperatorType.IsPresent:
        path = self.variable.string_sampler.literal_value
        cause = (
            f"Invalid path '{path}': The choice state's condition path references an invalid value."
        )
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=StatesErrorNameType.StatesRuntime.to_name(), cause=cause
                    )
                ),
            )
        )
    self.comparison_function.eval(env)


@contextmanager
def mocked_account(rendered: dict[str, str]) -> Iterator[Account]:
    """A mocked account with tables, the bucket holding the real templates/, SES
    identity, SSM parameters, bus, both functions and a state machine per sequence;
    Step Functions executes, Lambda runs in-process, waits take no time.

    Each test module opens one (module-scoped fixture): a second conftest.py would
    shadow tests/conftest.py, see the module docstring."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in ENV.items():
            patch.setenv(key, value)
        # moto only intercepts AWS hostnames: an endpoint override (a shell pointing at
        # LocalStack, the local sandbox) would send the handlers' calls elsewhere.
        for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
            patch.delenv(key)
        patch.setattr(ComparisonVariable, "_eval_body", _strict_choice)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            wiring.reset()
            clients.reset()
            lambda_runtime.install()
            clock.install(0)  # Wait states and retry intervals take no time
            try:
                aws = Aws()
                _capture(aws)  # before any client exists: clients copy the session's hooks
                yield _create_account(aws, rendered)
            finally:
                clock.uninstall()
                lambda_runtime.uninstall()
                wiring.reset()
