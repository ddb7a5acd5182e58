"""The state machine every sequences/*.yaml renders to, and what the renderer rejects.

GIVEN the sequence files, WHEN Terraform renders them through the provider-free
modules/sequence/modules/asl (harness: modules/sequence/tests/render), THEN the ASL
is valid (statelint), every Task retries and catches into the cleanup path, every
Choice rule is guarded, every state is reachable and every path ends in Done,
Skipped or Failed. The rendered JSON is written to build/asl/<id>.json, byte for
byte what the sequence module deploys, for the tests that execute it in moto.

One `terraform init` and one `apply` per session render every file (~2 s).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from statelint.config import Config
from statelint.linter import Linter
from statelint.problem import ProblemType

pytestmark = pytest.mark.terraform

ROOT = Path(__file__).resolve().parents[2]
SEQUENCES_DIR = ROOT / "sequences"
HARNESS = ROOT / "modules" / "sequence" / "tests" / "render"
TF_WRAPPER = ROOT / "scripts" / "tf.sh"
ASL_OUT = ROOT / "build" / "asl"
SEQUENCE_IDS = sorted(p.stem for p in SEQUENCES_DIR.glob("*.yaml"))

LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
TERMINALS = {"Done", "Skipped", "Failed"}
FIXED_STATES = {"Register", "Registered?", "Skipped", "Complete", "Done", "Cleanup", "Failed"}


# --------------------------------------------------------------------------- harness


class Harness:
    """The render harness, initialised once, applied against any directory of YAML files."""

    def __init__(self, work: Path) -> None:
        if shutil.which("terraform") is None:
            pytest.fail("terraform is not on PATH: install it, or deselect with -m 'not terraform'")
        self.work = work
        self.env = {
            **os.environ,
            "TF_DATA_DIR": str(work / "tf-data"),  # keeps .terraform/ out of the source tree
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        if TF_WRAPPER.is_file():
            # scripts/tf.sh points init at the local provider mirror when there is one
            # (the harness needs no provider, but init goes the project's way) and
            # leaves its CLI config in build/terraformrc.
            self._run([str(TF_WRAPPER), f"-chdir={HARNESS}", "init", "-no-color"])
            cli_config = ROOT / "build" / "terraformrc"
        else:  # a checkout without the wrapper: the harness has no provider to install
            cli_config = work / "terraformrc"
            cli_config.write_text("")
        if cli_config.is_file():  # a preset TF_CLI_CONFIG_FILE that does not exist warns
            self.env["TF_CLI_CONFIG_FILE"] = str(cli_config)
        if not TF_WRAPPER.is_file():
            self._run(["terraform", f"-chdir={HARNESS}", "init", "-no-color"])

    def _run(self, args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args, capture_output=True, text=True, env=self.env, timeout=120, check=False
        )
        if check and result.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def render(self, sequences_dir: Path) -> dict[str, str]:
        """Rendered ASL JSON strings keyed by file name (without .yaml)."""
        state = self.work / f"{sequences_dir.name}.tfstate"
        tf = ["terraform", f"-chdir={HARNESS}"]
        self._run([*tf, "apply", "-auto-approve", "-no-color", f"-state={state}",
                   f"-var=sequences_dir={sequences_dir}"])  # fmt: skip
        out = self._run([*tf, "output", "-no-color", f"-state={state}", "-json", "definitions"])
        definitions: dict[str, str] = json.loads(out.stdout)
        return definitions

    def plan_errors(self, sequences_dir: Path) -> list[dict[str, Any]]:
        """The error diagnostics of a plan over the directory (machine-readable, unwrapped)."""
        result = self._run(
            ["terraform", f"-chdir={HARNESS}", "plan", "-json", "-no-color", "-lock=false",
             f"-var=sequences_dir={sequences_dir}"],
            check=False,
        )  # fmt: skip
        messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return [
            m["diagnostic"]
            for m in messages
            if m.get("type") == "diagnostic" and m["diagnostic"].get("severity") == "error"
        ]


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    return Harness(tmp_path_factory.mktemp("asl-harness"))


@pytest.fixture(scope="session")
def rendered(harness: Harness) -> dict[str, str]:
    definitions = harness.render(SEQUENCES_DIR)
    ASL_OUT.mkdir(parents=True, exist_ok=True)
    for sequence_id, text in definitions.items():
        (ASL_OUT / f"{sequence_id}.json").write_text(text)
    return definitions


@pytest.fixture(params=SEQUENCE_IDS)
def asl(request: pytest.FixtureRequest, rendered: dict[str, str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(rendered[request.param])
    return document


def tasks(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in document["States"].items():
        if state["Type"] == "Task":
            yield name, state


def transitions(state: dict[str, Any]) -> set[str]:
    targets = {state["Next"]} if "Next" in state else set()
    targets |= {rule["Next"] for rule in state.get("Choices", [])}
    targets |= {state["Default"]} if "Default" in state else set()
    targets |= {catcher["Next"] for catcher in state.get("Catch", [])}
    return targets


def reachable(document: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(transitions(document["States"][name]))
    return seen


# --------------------------------------------------------------------------- rendering


def test_every_sequence_file_renders_under_its_id(rendered: dict[str, str]) -> None:
    # GIVEN every sequences/*.yaml  THEN each renders, and the id inside is the file name
    assert sorted(rendered) == SEQUENCE_IDS
    for name, text in rendered.items():
        assert json.loads(text)["States"]["Register"]["Parameters"]["sequence_id"] == name
        assert (ASL_OUT / f"{name}.json").read_text() == text


def test_statelint_finds_no_problem(asl: dict[str, Any]) -> None:
    # FLOAT is ignored: statelint wants BackoffRate written 2.0, jsonencode writes
    # the number 2, which Step Functions accepts (the spec only asks for >= 1.0).
    problems = Linter.validate(json.dumps(asl), Config({ProblemType.FLOAT}, False, False))
    assert problems == []


def test_statelint_would_catch_a_dangling_jump(rendered: dict[str, str]) -> None:
    # The linter is really looking: a broken copy of a rendered definition fails.
    broken = json.loads(rendered[SEQUENCE_IDS[0]])
    first = broken["States"]["Registered?"]["Choices"][0]["Next"]
    broken["States"][first]["Next"] = "no-such-step"
    problems = Linter.validate(json.dumps(broken), Config({ProblemType.FLOAT}, False, False))
    assert any("no-such-step" in p for p in problems)


def test_every_task_retries_lambda_errors_and_catches_to_cleanup(asl: dict[str, Any]) -> None:
    for name, state in tasks(asl):
        assert state["Retry"][0] == {
            "ErrorEquals": LAMBDA_ERRORS, "IntervalSeconds": 2, "MaxAttempts": 6, "BackoffRate": 2,
        }, name  # fmt: skip
        transient = state["Retry"][1]
        assert "ThrottlingException" in transient["ErrorEquals"], name
        assert "States.ALL" not in transient["ErrorEquals"], f"{name}: domain errors must not retry"
        assert [c["ErrorEquals"] for c in state["Catch"]] == [["States.ALL"]], name
        assert state["Catch"][0]["Next"] == ("Failed" if name == "Cleanup" else "Cleanup"), name
        assert state["Catch"][0]["ResultPath"] not in (None, "$"), f"{name} would lose the input"


def test_cleanup_removes_the_rows_then_fails(asl: dict[str, Any]) -> None:
    cleanup = asl["States"]["Cleanup"]
    assert cleanup["Parameters"]["action"] == "complete"
    assert cleanup["Parameters"]["execution_arn.$"] == "$$.Execution.Id"
    assert cleanup["Next"] == "Failed"
    failed = asl["States"]["Failed"]
    assert failed["Type"] == "Fail"
    assert failed["Error"]
    assert failed["Cause"]


def test_every_state_is_reachable_from_start(asl: dict[str, Any]) -> None:
    assert reachable(asl, asl["StartAt"]) == set(asl["States"])


def test_every_path_ends_in_done_skipped_or_failed(asl: dict[str, Any]) -> None:
    states = asl["States"]
    terminal = {name for name, s in states.items() if s["Type"] in ("Succeed", "Fail")}
    assert terminal == TERMINALS
    for name in states:
        assert reachable(asl, name) & TERMINALS, f"no way out of {name}"
    # The happy path ends through Complete: every Next into Done comes from Complete.
    into_done = [name for name, s in states.items() if "Done" in transitions(s)]
    assert into_done == ["Complete"]


def test_every_choice_rule_is_guarded(asl: dict[str, Any]) -> None:
    choices = {n: s for n, s in asl["States"].items() if s["Type"] == "Choice"}
    assert "Registered?" in choices
    for name, state in choices.items():
        assert "Default" in state, name
        for rule in state["Choices"]:
            variable = rule["And"][0]["Variable"]
            assert rule["And"][0]["IsPresent"] is True, name
            assert all(r["Variable"] == variable for r in rule["And"]), name


def test_payloads_follow_the_runtime_contract(asl: dict[str, Any]) -> None:
    states = asl["States"]
    register = states["Register"]["Parameters"]
    assert set(register) == {
        "action", "sequence_id", "reentry", "transactional",
        "event_id.$", "execution_arn.$", "subscriber.$",
    }  # fmt: skip
    assert register["action"] == "register"
    assert register["reentry"] in ("ignore_while_active", "replace", "once")
    assert isinstance(register["transactional"], bool)
    assert states["Register"]["ResultPath"] == "$.registration"
    assert states["Complete"]["Parameters"]["action"] == "complete"
    assert states["Complete"]["ResultPath"] is None
    for name, state in tasks(asl):
        params = state["Parameters"]
        if params.get("action") == "send":
            assert params["step_id"] == name
            assert isinstance(params["transactional"], bool)
            assert ("variants" in params) != ("template" in params and "subject" in params), name
            assert set(params["sender"]) <= {"from", "reply_to"}
            assert state["ResultPath"] == "$.last_send"
        elif "check" in params:
            assert params["subscriber"] == {"email.$": "$.subscriber.email"}
            assert state["Next"] == f"{name}?"


def test_wait_states_have_positive_whole_seconds(asl: dict[str, Any]) -> None:
    waits = [s for s in asl["States"].values() if s["Type"] == "Wait"]
    assert waits
    for state in waits:
        assert isinstance(state["Seconds"], int)
        assert state["Seconds"] > 0


def test_timeout_is_whole_days(asl: dict[str, Any]) -> None:
    assert asl["TimeoutSeconds"] % 86400 == 0
    assert 86400 <= asl["TimeoutSeconds"] <= 365 * 86400


def test_steps_keep_their_ids_as_state_names(rendered: dict[str, str]) -> None:
    # Step ids are what reports, logs and the send idempotency key refer to.
    document = json.loads(rendered["onboarding"])
    assert set(document["States"]) - FIXED_STATES == {
        "welcome", "wait-2", "has-team", "has-team?", "invite-team", "team-tips",
        "check-in-wait", "check-in",
    }  # fmt: skip


# --------------------------------------------------------------------------- rejections

BASE: dict[str, Any] = {
    "id": "base",
    "trigger": {"detail_type": "user.signed_up"},
    "sender": {"from": "Acme <hello@acme.test>"},
    "steps": [
        {"id": "hello", "type": "send", "template": "base/hello", "subject": "Hello"},
        {"type": "wait", "hours": 1},
        {"id": "bye", "type": "send", "template": "base/bye", "subject": "Bye"},
    ],
}
SEND = {"type": "send", "template": "base/hello", "subject": "Hello"}

# name → (what to change in BASE, a phrase the error must contain). Each breaks
# exactly one rule, and the phrases come from different rules.
REJECTED: dict[str, tuple[dict[str, Any], str]] = {
    "bad-id": ({"id": "Base_Id"}, 'Sequence id "Base_Id" must be kebab-case'),
    "bad-step-id": ({"steps": [{**SEND, "id": "Hello"}]}, 'Not valid: "Hello"'),
    "unknown-type": ({"steps": [{"id": "hello", "type": "sms"}]}, 'step 1 (type "sms")'),
    "missing-id": ({"steps": [SEND]}, "need an id"),
    "duplicate": (
        {"steps": [{**SEND, "id": "hello"}, {**SEND, "id": "hello"}]},
        'Used more than once: "hello"',
    ),
    "bad-next": (
        {"steps": [{**SEND, "id": "hello", "next": "goodbye"}]},
        'Unknown: "goodbye" (in step hello)',
    ),
    "next-on-condition": (
        {
            "steps": [
                {
                    "id": "check",
                    "type": "condition",
                    "check": "field_exists",
                    "field": "plan",
                    "then": "end",
                    "else": "end",
                    "next": "end",
                }
            ]
        },
        "Remove next from: check",
    ),
    "both": (
        {
            "steps": [
                {
                    **SEND,
                    "id": "hello",
                    "variants": [
                        {"name": "a", "template": "base/a", "subject": "A"},
                        {"name": "b", "template": "base/b", "subject": "B"},
                    ],
                }
            ]
        },
        "never both. Check: hello",
    ),
    "zero-wait": (
        {"steps": [{**SEND, "id": "hello"}, {"type": "wait", "days": 0}]},
        "positive duration",
    ),
    "condition-fields": (
        {
            "steps": [
                {
                    "id": "check",
                    "type": "condition",
                    "check": "field_equals",
                    "field": "plan",
                    "then": "end",
                    "else": "end",
                }
            ]
        },
        "field_equals (with field and value)",
    ),
    "choice-default": (
        {
            "steps": [
                {
                    "id": "plan",
                    "type": "choice",
                    "field": "plan",
                    "choices": [{"value": "pro", "next": "end"}],
                }
            ]
        },
        "A choice step needs field",
    ),
    "bad-field": (
        {
            "steps": [
                {
                    "id": "plan",
                    "type": "choice",
                    "field": "plan.name",
                    "choices": [{"value": "pro", "next": "end"}],
                    "default": "end",
                }
            ]
        },
        'Not valid: "plan.name"',
    ),
    "bad-template": (
        {"steps": [{**SEND, "id": "hello", "template": "hello"}]},
        'Not valid: "hello"',
    ),
    "header-injection": (
        {"steps": [{**SEND, "id": "hello", "subject": "Hi\nBcc: x@evil.test"}]},
        "on one line",
    ),
    "bad-reentry": ({"reentry": "always"}, 'got "always"'),
    "bad-timeout": ({"timeout_days": 0}, "from 1 to 365; got 0"),
    "bad-path": (
        {"trigger": {"detail_type": "x", "subscriber": {"email": "detail.email"}}},
        'Not valid: "detail.email"',
    ),
    "bad-source": ({"trigger": {"detail_type": "x", "source": ""}}, "source (in trigger"),
    "duplicate-events": (
        {"events": [{"id": "gift", "detail_type": "a", "template": "base/g", "subject": "G"}] * 2},
        "events ids must be unique",
    ),
}
# Checked after the variables (an output precondition), so planned on their own:
# a plan stops before outputs when any variable is invalid.
UNREACHABLE: dict[str, tuple[dict[str, Any], str]] = {
    "unreachable": (
        {"steps": [{**SEND, "id": "hello", "next": "end"}, {**SEND, "id": "orphan"}]},
        "no path leads to step(s) orphan",
    ),
    "unreachable-branch": (
        {
            "steps": [
                {
                    "id": "check",
                    "type": "condition",
                    "check": "field_exists",
                    "field": "plan",
                    "then": "end",
                    "else": "end",
                },
                {**SEND, "id": "never"},
            ]
        },
        "no path leads to step(s) never",
    ),
}


def plan_errors(harness: Harness, directory: Path, cases: dict[str, Any]) -> list[str]:
    # All broken files in one directory: one plan reports every file's errors.
    for name, (change, _) in cases.items():
        definition = {**copy.deepcopy(BASE), **change, "id": change.get("id", name)}
        (directory / f"{name}.yaml").write_text(json.dumps(definition))  # JSON is YAML
    return [f"{d['summary']}: {d.get('detail', '')}" for d in harness.plan_errors(directory)]


@pytest.fixture(scope="module")
def rejection_errors(harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return plan_errors(harness, tmp_path_factory.mktemp("rejected"), REJECTED)


@pytest.fixture(scope="module")
def unreachable_errors(harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return plan_errors(harness, tmp_path_factory.mktemp("unreachable"), UNREACHABLE)


@pytest.mark.parametrize("name", list(REJECTED))
def test_the_renderer_rejects_with_a_clear_message(name: str, rejection_errors: list[str]) -> None:
    phrase = REJECTED[name][1]
    assert any(phrase in error for error in rejection_errors), "\n".join(rejection_errors)


def test_each_rejected_file_breaks_exactly_one_rule(rejection_errors: list[str]) -> None:
    assert len(rejection_errors) == len(REJECTED), "\n".join(rejection_errors)


@pytest.mark.parametrize("name", list(UNREACHABLE))
def test_unreachable_steps_are_named(name: str, unreachable_errors: list[str]) -> None:
    phrase = UNREACHABLE[name][1]
    assert any(phrase in error for error in unreachable_errors), "\n".join(unreachable_errors)
    assert len(unreachable_errors) == len(UNREACHABLE), "\n".join(unreachable_errors)
