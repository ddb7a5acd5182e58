"""sequences/onboarding.yaml, executed: the rendered state machine in moto's interpreter,
send-email and check-condition running in-process, waits skipped.

GIVEN a user.signed_up event, WHEN the run finishes, THEN exactly the emails of the
branch the subscriber takes went out, in order, with their rendered subjects, and the
run left no execution rows behind, whichever way it ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mailstep.adapters import wiring
from mailstep.adapters.dynamo import DynamoSubscriberStore
from mailstep.adapters.ses import SesMailer
from mailstep.domain.models import Suppression
from sequence_kit import (
    Account,
    assert_envelope,
    hold_waits,
    mocked_account,
    rendered_asl,
    summary,
)
from support import ENV

pytestmark = pytest.mark.terraform  # the ASL comes from `terraform apply` of the harness


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    with mocked_account(rendered_asl(tmp_path_factory)) as account:
        yield account


SEQUENCE = "onboarding"
WELCOME = ("welcome", "onboarding/welcome", "Welcome to Acme, Jane")
CHECK_IN = ("check-in", "onboarding/check-in", "How is it going, Jane?")
INVITE = ("invite-team", "onboarding/invite-team", "Acme is better with your team")


def signup(email: str, **detail: Any) -> dict[str, Any]:
    return {"email": email, "firstName": "Jane", **detail}


# --------------------------------------------------------------------------- branches


@pytest.mark.parametrize(
    ("detail", "branch", "emails"),
    [
        pytest.param(
            signup("team@example.com", team_name="Rockets"),
            ["team-tips", "check-in-wait"],
            [WELCOME, ("team-tips", "onboarding/team-tips", "3 tips for Rockets"), CHECK_IN],
            id="with-team",
        ),
        pytest.param(
            signup("solo@example.com"),
            ["invite-team", "check-in-wait"],
            [WELCOME, INVITE, CHECK_IN],
            id="without-team",
        ),
        pytest.param(  # field_exists treats an empty value as absent
            signup("blank-team@example.com", team_name=""),
            ["invite-team", "check-in-wait"],
            [WELCOME, INVITE, CHECK_IN],
            id="empty-team-name",
        ),
        pytest.param(
            {"email": "nameless@example.com", "team_name": "Rockets"},
            ["team-tips", "check-in-wait"],
            [
                ("welcome", "onboarding/welcome", "Welcome to Acme, friend"),
                ("team-tips", "onboarding/team-tips", "3 tips for Rockets"),
                ("check-in", "onboarding/check-in", "How is it going, friend?"),
            ],
            id="no-first-name",
        ),
    ],
)
def test_each_branch_sends_exactly_its_emails_then_completes(
    account: Account, detail: dict[str, Any], branch: list[str], emails: list[tuple[str, ...]]
) -> None:
    run = account.run(SEQUENCE, detail)

    assert (run.status, run.error) == ("SUCCEEDED", None)
    assert run.states() == [
        "Register", "Registered?", "welcome", "wait-2", "has-team", "has-team?",
        *branch, "check-in", "Complete", "Done",
    ]  # fmt: skip
    sent = account.sent_to(detail["email"])
    assert summary(sent) == emails
    for message in sent:
        assert_envelope(message, SEQUENCE)
    assert account.exec_rows(detail["email"], SEQUENCE) == []
    assert run.state_input("has-team?")["condition"] == {"result": branch[0] == "team-tips"}


def test_the_email_bodies_are_rendered_for_the_subscriber(account: Account) -> None:
    email = "body@example.com"
    account.run(SEQUENCE, signup(email, team_name="Rockets"))

    welcome = account.sent_to(email)[0]["Content"]["Simple"]["Body"]
    assert "<p>Hi Jane,</p>" in welcome["Html"]["Data"]
    assert f"signed up for Acme with {email}" in welcome["Html"]["Data"]
    assert welcome["Text"]["Data"].startswith("Hi Jane,")
    tips = account.sent_to(email)[1]["Content"]["Simple"]["Body"]
    assert "Rockets" in tips["Html"]["Data"]
    assert "Text" not in tips  # team-tips has no .txt part


# --------------------------------------------------------------------------- guards


def test_a_suppressed_subscriber_is_skipped_without_any_email(account: Account) -> None:
    email = "bounced@example.com"
    store = DynamoSubscriberStore(account.aws.client("dynamodb"), ENV["MAILSTEP_TABLE"])
    store.suppress(email, Suppression("bounce", "Permanent/General", None, "2025-01-01T00:00:00Z"))

    run = account.run(SEQUENCE, signup(email))

    assert run.status == "SUCCEEDED"
    assert run.states() == ["Register", "Registered?", "Skipped"]
    assert run.state_input("Skipped")["registration"] == {
        "status": "skipped",
        "reason": "suppressed",
    }
    assert account.sent_to(email) == []
    assert account.exec_rows(email, SEQUENCE) == []


def test_a_second_signup_while_a_run_is_active_is_ignored(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # reentry: ignore_while_active. The first run is parked at its first wait.
    email = "twice@example.com"
    release = hold_waits(monkeypatch)
    first = account.start(SEQUENCE, account.event(SEQUENCE, signup(email)))
    account.wait_until_waiting(first)

    second = account.run(SEQUENCE, signup(email))

    assert second.status == "SUCCEEDED"
    assert second.states() == ["Register", "Registered?", "Skipped"]
    assert second.state_input("Skipped")["registration"] == {
        "status": "skipped", "reason": "already_active", "active_execution": first,
    }  # fmt: skip
    assert {r["execution_arn"] for r in account.exec_rows(email, SEQUENCE)} == {first}

    release.set()
    finished = account.wait(first)
    assert finished.status == "SUCCEEDED"
    assert summary(account.sent_to(email)) == [WELCOME, INVITE, CHECK_IN]  # one run's worth
    assert account.exec_rows(email, SEQUENCE) == []


def test_a_signup_after_the_run_completed_starts_a_new_run(account: Account) -> None:
    # ignore_while_active only ignores while active (unlike trial-expiring's `once`).
    email = "again@example.com"
    account.run(SEQUENCE, signup(email))

    run = account.run(SEQUENCE, signup(email))

    assert run.status == "SUCCEEDED"
    assert summary(account.sent_to(email)) == [WELCOME, INVITE, CHECK_IN] * 2


# --------------------------------------------------------------------------- failure


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")  # the step raised
def test_a_step_that_fails_is_cleaned_up_and_the_run_fails_clearly(account: Account) -> None:
    email = "broken@example.com"
    s3 = account.aws.client("s3")
    key = "onboarding/check-in.html"
    original = s3.get_object(Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"], Key=key)["Body"].read()
    s3.delete_object(Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"], Key=key)
    wiring.reset()  # a fresh container: a warm one has the template cached for 10 minutes
    try:
        run = account.run(SEQUENCE, signup(email))
    finally:
        s3.put_object(Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"], Key=key, Body=original)

    assert run.status == "FAILED"
    assert run.error == "Mailstep.StepFailed"
    assert run.cause is not None
    assert "sequence onboarding failed" in run.cause
    assert run.states()[-4:] == ["check-in-wait", "check-in", "Cleanup", "Failed"]
    assert "Complete" not in run.states()
    step_error = run.state_input("Cleanup")["error"]
    assert step_error["Error"] == "TemplateNotFound"
    assert (
        json.loads(step_error["Cause"])["errorMessage"] == "template not found: onboarding/check-in"
    )
    assert run.state_output("Cleanup")["cleanup"] == {"status": "completed", "removed": True}
    # What went out before the failure stays sent; nothing after it; no rows remain.
    assert summary(account.sent_to(email)) == [WELCOME, INVITE]
    assert account.exec_rows(email, SEQUENCE) == []


def test_ses_throttling_is_retried_and_the_email_goes_out_once(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN SES throttles the first attempt at the welcome email (after botocore's own
    # retries), WHEN the run goes on, THEN the Task's transient retrier tries again: one
    # welcome, and the run succeeds.
    email = "throttled@example.com"
    original = SesMailer.send
    calls: list[str] = []

    def flaky(self: SesMailer, outgoing: Any) -> str:
        calls.append(outgoing.to)
        if outgoing.to == email and calls.count(email) == 1:
            raise self._ses.exceptions.TooManyRequestsException(
                {
                    "Error": {
                        "Code": "TooManyRequestsException",
                        "Message": "Maximum sending rate exceeded.",
                    }
                },
                "SendEmail",
            )
        return original(self, outgoing)

    monkeypatch.setattr(SesMailer, "send", flaky)
    run = account.run(SEQUENCE, signup(email))

    assert run.status == "SUCCEEDED"
    assert (
        calls.count(email) == 4
    )  # welcome twice (throttled, then sent), then invite-team, check-in
    assert [step for step, *_ in summary(account.sent_to(email))] == [
        "welcome",
        "invite-team",
        "check-in",
    ]
