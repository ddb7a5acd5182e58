"""sequences/trial-expiring.yaml, executed: the rendered state machine in moto's
interpreter, send-email running in-process, waits skipped.

GIVEN a trial.started event, WHEN the run finishes, THEN paid-tier trials get the tips,
everyone else the A/B nudge their address hashes to (recorded in the send result),
a subscriber without a usable plan takes the default branch instead of failing the
run, and a trial is converted only once per address.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mailstep.domain.lifecycle import pick_variant
from sequence_kit import (
    Account,
    assert_envelope,
    hold_waits,
    mocked_account,
    rendered_asl,
    sequence_file,
    summary,
)

pytestmark = pytest.mark.terraform  # the ASL comes from `terraform apply` of the harness


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return rendered_asl(tmp_path_factory)


@pytest.fixture(scope="module")
def account(rendered: dict[str, str]) -> Iterator[Account]:
    with mocked_account(rendered) as account:
        yield account


SEQUENCE = "trial-expiring"
LAST_DAY = ("last-day", "trial-expiring/last-day", "Your trial ends tomorrow")
VARIANTS: list[dict[str, str]] = next(
    s["variants"] for s in sequence_file(SEQUENCE)["steps"] if s.get("id") == "nudge"
)


def trial(email: str, event_id: str, **detail: Any) -> dict[str, Any]:
    return {"email": email, "firstName": "Sam", "eventId": event_id, **detail}


NUDGES = {  # arm → the email it sends to Sam
    "a": ("nudge", "trial-expiring/nudge-a", "Your trial ends in a week"),
    "b": ("nudge", "trial-expiring/nudge-b", "7 days left, Sam: here is what you would lose"),
}


def nudge_for(email: str) -> tuple[dict[str, str], tuple[str, str, str]]:
    """The variant pick_variant gives the address, and the email it should get."""
    variant = VARIANTS[pick_variant(VARIANTS, email, SEQUENCE)]
    return variant, NUDGES[variant["name"]]


def address_in_arm(name: str) -> str:
    """The first of a fixed list of addresses that hashes to the named arm."""
    for n in range(100):
        email = f"starter-{n}@example.com"
        if VARIANTS[pick_variant(VARIANTS, email, SEQUENCE)]["name"] == name:
            return email
    raise AssertionError(f"no address in arm {name}")


# --------------------------------------------------------------------------- branches


@pytest.mark.parametrize(
    ("plan", "display"), [("pro", "Acme Pro"), ("team", "Acme Team")], ids=["pro", "team"]
)
def test_paid_tier_trials_get_the_tips(account: Account, plan: str, display: str) -> None:
    email = f"{plan}@example.com"
    run = account.run(SEQUENCE, trial(email, f"evt-{plan}", plan=plan))

    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert run.states() == [
        "Register", "Registered?", "trial-welcome", "wait-2", "plan", "pro-tips",
        "ending-wait", "last-day", "Complete", "Done",
    ]  # fmt: skip
    sent = account.sent_to(email)
    assert summary(sent) == [
        ("trial-welcome", "trial-expiring/trial-welcome", f"Your {display} trial has started"),
        ("pro-tips", "trial-expiring/pro-tips", f"Get the most out of {display}"),
        LAST_DAY,
    ]
    for message in sent:
        assert_envelope(message, SEQUENCE)
    assert account.exec_rows(email, SEQUENCE) == []


@pytest.mark.parametrize("arm", [v["name"] for v in VARIANTS])
def test_starter_trials_get_the_nudge_variant_their_address_picks(
    account: Account, arm: str
) -> None:
    email = address_in_arm(arm)
    variant, nudge = nudge_for(email)
    assert variant["name"] == arm

    run = account.run(SEQUENCE, trial(email, f"evt-{arm}", plan="starter"))

    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert run.states() == [
        "Register", "Registered?", "trial-welcome", "wait-2", "plan", "nudge",
        "ending-wait", "last-day", "Complete", "Done",
    ]  # fmt: skip
    sent = account.sent_to(email)
    assert summary(sent) == [
        ("trial-welcome", "trial-expiring/trial-welcome", "Your Starter trial has started"),
        nudge,
        LAST_DAY,
    ]
    for message in sent:
        assert_envelope(message, SEQUENCE)
    # The send result names the arm (and is what the run carries on in $.last_send).
    result = run.state_output("nudge")["last_send"]
    assert result["status"] == "sent"
    assert (result["variant"], result["template"]) == (arm, variant["template"])
    assert result["message_id"]
    assert account.exec_rows(email, SEQUENCE) == []


@pytest.mark.parametrize(
    ("case", "detail", "welcome_subject"),
    [
        ("missing", {}, "Your Acme trial has started"),
        ("null", {"plan": None}, "Your Acme trial has started"),
        ("object", {"plan": {"name": "pro"}}, "Your Acme trial has started"),
        ("unknown", {"plan": "enterprise"}, "Your enterprise trial has started"),
    ],
    ids=["missing", "null", "object", "unknown"],
)
def test_without_a_matching_plan_the_run_takes_the_default_branch(
    account: Account, case: str, detail: dict[str, Any], welcome_subject: str
) -> None:
    # mailshot defect J: a Choice on a missing attribute failed the whole run.
    email = f"plan-{case}@example.com"
    run = account.run(SEQUENCE, trial(email, f"evt-{case}", **detail))

    assert (run.status, run.error) == ("SUCCEEDED", None)
    attributes = run.state_input("plan")["subscriber"]["attributes"]
    assert ("plan" in attributes) == ("plan" in detail)  # "missing" really lacks it
    assert run.states()[4:6] == ["plan", "nudge"]
    assert summary(account.sent_to(email)) == [
        ("trial-welcome", "trial-expiring/trial-welcome", welcome_subject),
        nudge_for(email)[1],
        LAST_DAY,
    ]
    assert account.exec_rows(email, SEQUENCE) == []


def test_the_harness_fails_an_unguarded_choice_on_a_missing_plan_as_aws_does(
    account: Account, rendered: dict[str, str]
) -> None:
    # What makes the test above meaningful: the same definition without the IsPresent /
    # IsString guards fails the run here (States.Runtime), as on AWS; plain moto would
    # have taken the default branch either way.
    definition = json.loads(rendered[SEQUENCE])
    for rule in definition["States"]["plan"]["Choices"]:
        rule["And"] = [r for r in rule["And"] if "StringEquals" in r]
    account.machines["unguarded"] = account.sfn.create_state_machine(
        name="mailstep-unguarded",
        definition=json.dumps(definition),
        roleArn=account.role_arn,
    )["stateMachineArn"]
    email = "unguarded@example.com"
    event = account.event(SEQUENCE, trial(email, "evt-unguarded"))

    run = account.wait(account.start(SEQUENCE, event, machine="unguarded"))

    assert (run.status, run.error) == ("FAILED", "States.Runtime")
    assert run.cause is not None
    assert "$.subscriber.attributes.plan" in run.cause
    assert run.states()[-1] == "plan"


# --------------------------------------------------------------------------- re-entry


def test_a_second_trial_for_the_same_address_sends_nothing(account: Account) -> None:
    # reentry: once. A new trial.started (a new eventId) after the first run completed.
    email = "again@example.com"
    first = account.run(SEQUENCE, trial(email, "evt-first", plan="pro"))
    assert first.status == "SUCCEEDED"
    sent_before = len(account.sent_to(email))

    second = account.run(SEQUENCE, trial(email, "evt-second", plan="pro"))

    assert second.status == "SUCCEEDED"
    assert second.states() == ["Register", "Registered?", "Skipped"]
    assert second.state_input("Skipped")["registration"] == {
        "status": "skipped", "reason": "already_enrolled",
    }  # fmt: skip
    assert len(account.sent_to(email)) == sent_before == 3
    assert account.exec_rows(email, SEQUENCE) == []


def test_the_same_event_delivered_twice_starts_one_run(account: Account) -> None:
    # dedupe_key: $.detail.eventId. EventBridge delivers at least once.
    email = "redelivered@example.com"
    event = account.event(SEQUENCE, trial(email, "evt-dup", plan="team"))
    first = account.wait(account.start(SEQUENCE, event))
    second = account.wait(account.start(SEQUENCE, event))

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert second.states() == ["Register", "Registered?", "Skipped"]
    assert second.state_input("Skipped")["registration"]["reason"] == "duplicate_event"
    assert len(account.sent_to(email)) == 3


# --------------------------------------------------------------------------- exit_on


def test_an_upgrade_mid_run_stops_it_and_nothing_more_is_sent(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # exit_on subscription.upgraded: the rule invokes send-email with action exit
    # (modules/sequence/events.tf), which stops the run and removes its rows.
    email = "upgrader@example.com"
    hold_waits(monkeypatch)
    arn = account.start(SEQUENCE, account.event(SEQUENCE, trial(email, "evt-up", plan="starter")))
    account.wait_until_waiting(arn)

    response = account.aws.client("lambda").invoke(
        FunctionName="mailstep-send-email",
        Payload=json.dumps(
            {"action": "exit", "sequence_id": SEQUENCE, "subscriber": {"email": email}}
        ),
    )

    assert json.loads(response["Payload"].read()) == {"status": "exited"}
    run = account.wait(arn)
    assert run.status == "ABORTED"
    assert summary(account.sent_to(email)) == [
        ("trial-welcome", "trial-expiring/trial-welcome", "Your Starter trial has started"),
    ]
    assert account.exec_rows(email, SEQUENCE) == []
