"""Use cases of a run, against in-memory fakes: register guards and re-entry, send
idempotency, headers, fire-and-forget, complete and clean-up (DESIGN 4.5, 4.7)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fakes import SECRET, UNSUBSCRIBE_URL, World
from mailstep.domain import lifecycle
from mailstep.domain.errors import InvalidEmail, InvalidInput, TemplateNotFound
from mailstep.domain.models import Suppression
from mailstep.domain.services import ConfigurationError, RuntimeSettings
from mailstep.domain.tokens import verify_token

EMAIL = "jane@example.com"
ARN = "arn:aws:states:us-east-1:123456789012:execution:mailstep-onboarding:run-1"
ARN_2 = "arn:aws:states:us-east-1:123456789012:execution:mailstep-onboarding:run-2"
SUBSCRIBER = {"email": "Jane@Example.com", "first_name": "Jane", "attributes": {"plan": "pro"}}
SENDER = {"from": "Acme <hello@acme.test>", "reply_to": "support@acme.test"}


@pytest.fixture
def world() -> World:
    world = World()
    world.templates.files.update(
        {
            "onboarding/welcome.html": "<p>Hi {{ first_name }}</p>",
            "onboarding/welcome.txt": "Hi {{ first_name }}",
            "onboarding/nudge.html": "<p>Nudge</p>",
        }
    )
    return world


def register(world: World, **overrides: Any) -> dict[str, Any]:
    payload = {"sequence_id": "onboarding", "execution_arn": ARN, "subscriber": SUBSCRIBER}
    payload.update(overrides)
    return lifecycle.register(world.services, payload)


def send(world: World, **overrides: Any) -> dict[str, Any]:
    payload = {
        "sequence_id": "onboarding",
        "step_id": "welcome",
        "execution_arn": ARN,
        "template": "onboarding/welcome",
        "subject": "Welcome, {{ first_name }}",
        "sender": SENDER,
        "subscriber": SUBSCRIBER,
    }
    payload.update(overrides)
    return lifecycle.send(world.services, payload)


def suppression() -> Suppression:
    return Suppression("bounce", "General", None, "2025-03-01T00:00:00.000Z")


def headers(world: World, index: int = -1) -> dict[str, str]:
    return dict(world.mailer.outbox[index].headers)


# --------------------------------------------------------------------------- register


def test_register_upserts_the_profile_and_tracks_the_run(world: World) -> None:
    assert register(world) == {"status": "registered"}

    profile = world.store.profiles[EMAIL]
    assert (profile.first_name, dict(profile.attributes)) == ("Jane", {"plan": "pro"})
    execution = world.store.executions[(EMAIL, "onboarding")]
    assert (execution.execution_arn, execution.transactional) == (ARN, False)
    assert (EMAIL, "onboarding") in world.store.enrolled
    assert world.publisher.of_type("sequence.started") == [
        {"email": EMAIL, "sequence_id": "onboarding"}
    ]


def test_register_skips_a_suppressed_address_even_when_transactional(world: World) -> None:
    world.store.suppressions[EMAIL] = suppression()

    assert register(world) == {"status": "skipped", "reason": "suppressed"}
    assert register(world, transactional=True) == {"status": "skipped", "reason": "suppressed"}
    assert world.store.executions == {}


def test_register_skips_unsubscribed_unless_transactional(world: World) -> None:
    world.store.given_profile(EMAIL, unsubscribed=True)

    assert register(world) == {"status": "skipped", "reason": "unsubscribed"}
    assert world.store.executions == {}
    assert register(world, transactional=True) == {"status": "registered"}
    assert world.store.executions[(EMAIL, "onboarding")].transactional is True


def test_ignore_while_active_keeps_the_first_run(world: World) -> None:
    register(world)

    result = register(world, execution_arn=ARN_2)

    assert result == {"status": "skipped", "reason": "already_active", "active_execution": ARN}
    assert world.store.executions[(EMAIL, "onboarding")].execution_arn == ARN
    assert world.stopper.stopped == []


def test_replace_stops_the_old_run_and_tracks_the_new_one(world: World) -> None:
    register(world, reentry="replace")

    assert register(world, execution_arn=ARN_2, reentry="replace") == {"status": "registered"}

    assert world.stopper.arns == [ARN]
    assert world.store.executions[(EMAIL, "onboarding")].execution_arn == ARN_2


def test_once_never_enrols_the_same_address_again(world: World) -> None:
    register(world, reentry="once")
    lifecycle.complete(world.services, {"sequence_id": "onboarding", "execution_arn": ARN,
                                         "subscriber": {"email": EMAIL}})  # fmt: skip

    result = register(world, execution_arn=ARN_2, reentry="once")

    assert result == {"status": "skipped", "reason": "already_enrolled"}
    assert world.store.executions == {}


def test_ignore_while_active_enrols_again_after_the_run_completed(world: World) -> None:
    register(world)
    lifecycle.complete(world.services, {"sequence_id": "onboarding", "execution_arn": ARN,
                                         "subscriber": {"email": EMAIL}})  # fmt: skip

    assert register(world, execution_arn=ARN_2) == {"status": "registered"}


def test_a_duplicate_event_id_never_starts_a_second_run(world: World) -> None:
    register(world, event_id="evt-1", reentry="replace")

    result = register(world, execution_arn=ARN_2, event_id="evt-1", reentry="replace")

    assert result == {"status": "skipped", "reason": "duplicate_event"}
    assert world.stopper.stopped == []
    assert world.store.executions[(EMAIL, "onboarding")].execution_arn == ARN


def test_the_same_event_id_in_another_sequence_is_not_a_duplicate(world: World) -> None:
    register(world, event_id="evt-1")

    assert register(world, sequence_id="billing", execution_arn=ARN_2, event_id="evt-1") == {
        "status": "registered"
    }


def test_a_retry_of_the_same_execution_is_registered_once(world: World) -> None:
    register(world, event_id="evt-1")

    assert register(world, event_id="evt-1") == {"status": "registered"}
    assert world.store.calls["put_execution"] == 1
    assert len(world.publisher.of_type("sequence.started")) == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"sequence_id": None}, InvalidInput),
        ({"sequence_id": "Onboarding!"}, InvalidInput),
        ({"execution_arn": ""}, InvalidInput),
        ({"reentry": "sometimes"}, InvalidInput),
        ({"transactional": "yes"}, InvalidInput),
        ({"subscriber": None}, InvalidInput),
        ({"subscriber": {"first_name": "Jane"}}, InvalidEmail),
        ({"subscriber": {"email": "jane@@example.com"}}, InvalidEmail),
        ({"subscriber": {"email": EMAIL, "attributes": ["plan"]}}, InvalidInput),
        ({"subscriber": {"email": EMAIL, "attributes": {"blob": "x" * 70_000}}}, InvalidInput),
        ({"event_id": ["not", "an", "id"]}, InvalidInput),
    ],
)
def test_register_rejects_bad_input_without_writing(
    world: World, overrides: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        register(world, **overrides)

    assert world.store.profiles == {}
    assert world.store.executions == {}


# --------------------------------------------------------------------------- send


def test_send_renders_and_hands_one_email_to_the_mailer(world: World) -> None:
    register(world)

    result = send(world)

    assert result == {"status": "sent", "message_id": "msg-1", "template": "onboarding/welcome"}
    [email] = world.mailer.outbox
    assert (email.to, email.subject) == (EMAIL, "Welcome, Jane")
    assert (email.from_header, email.reply_to) == ("Acme <hello@acme.test>", "support@acme.test")
    assert (email.html, email.text) == ("<p>Hi Jane</p>", "Hi Jane")
    assert email.tags == {
        "mailstep_sequence": "onboarding",
        "mailstep_template": "onboarding--welcome",
        "mailstep_step": "welcome",
    }
    [(logged_for, record, ttl)] = world.store.send_log
    assert (logged_for, record.template, record.message_id, record.step_id, ttl) == (
        EMAIL, "onboarding/welcome", "msg-1", "welcome", None,
    )  # fmt: skip
    assert world.store.counts[("onboarding", "COUNTERS")]["sent"] == 1
    assert world.store.counts[("onboarding", "STEP#welcome")]["sent"] == 1
    assert world.store.send_claims[(ARN, "welcome")] == {"state": "sent", "message_id": "msg-1"}
    assert world.publisher.of_type("email.sent")[0]["message_id"] == "msg-1"


def test_send_log_expires_when_data_ttl_days_is_set(world: World) -> None:
    world.settings = RuntimeSettings(UNSUBSCRIBE_URL, SECRET, data_ttl_days=30)

    send(world)

    [(_, _, ttl)] = world.store.send_log
    assert ttl == int(world.now.timestamp()) + 30 * 86400


def test_marketing_email_has_one_click_unsubscribe_headers(world: World) -> None:
    send(world)

    sent = headers(world)
    assert sent["X-Mailstep-Sequence"] == "onboarding"
    assert sent["X-Mailstep-Template"] == "onboarding/welcome"
    assert sent["X-Mailstep-Step"] == "welcome"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = sent["List-Unsubscribe"]
    assert url.startswith("<https://unsub.example.test/?token=")
    assert url.endswith(">")
    token = parse_qs(urlsplit(url[1:-1]).query)["token"][0]
    assert verify_token(SECRET, token, int(world.now.timestamp())).email == EMAIL


def test_transactional_email_has_no_list_unsubscribe_headers(world: World) -> None:
    send(world, transactional=True)

    sent = headers(world)
    assert "List-Unsubscribe" not in sent
    assert "List-Unsubscribe-Post" not in sent
    assert sent["X-Mailstep-Template"] == "onboarding/welcome"


UNSUBSCRIBE_URL_WITH_QUERY = "https://unsub.example.test/u?src=mail&lang=en"


def test_unsubscribe_link_keeps_the_configured_query_parameters(world: World) -> None:
    world.settings = RuntimeSettings(UNSUBSCRIBE_URL_WITH_QUERY, SECRET)

    send(world)

    url = urlsplit(headers(world)["List-Unsubscribe"][1:-1])
    query = parse_qs(url.query)
    assert (url.netloc, url.path) == ("unsub.example.test", "/u")
    assert query["src"] == ["mail"]
    assert query["lang"] == ["en"]
    assert len(query["token"]) == 1


def test_unsubscribe_link_adds_a_path_when_the_base_url_has_none() -> None:
    assert lifecycle.unsubscribe_link("https://unsub.example.test", "t0k") == (
        "https://unsub.example.test/?token=t0k"
    )


def test_the_same_step_of_the_same_execution_is_sent_once(world: World) -> None:
    send(world)

    assert send(world) == {
        "status": "skipped",
        "reason": "already_sent",
        "template": "onboarding/welcome",
    }
    assert len(world.mailer.outbox) == 1


def test_another_step_or_execution_is_sent(world: World) -> None:
    send(world)
    send(world, step_id="nudge", template="onboarding/nudge")
    send(world, execution_arn=ARN_2)

    assert len(world.mailer.outbox) == 3


def test_a_failed_ses_send_releases_the_claim_so_the_retry_sends(world: World) -> None:
    world.mailer.fail_next = RuntimeError("SES throttled")

    with pytest.raises(RuntimeError, match="throttled"):
        send(world)

    assert (ARN, "welcome") not in world.store.send_claims
    assert send(world)["status"] == "sent"
    assert len(world.mailer.outbox) == 1


def test_a_failure_after_ses_accepted_the_email_never_sends_it_again(world: World) -> None:
    # GIVEN SES accepted the email but writing the send log fails (throttling, a
    # transaction conflict on the TPL# marker...)
    world.store.fail_next["record_send"] = RuntimeError("DynamoDB throttled")

    with pytest.raises(RuntimeError, match="throttled"):
        send(world)

    # WHEN Step Functions retries the task
    retry = send(world)

    # THEN the subscriber still has exactly one email
    assert retry["status"] == "skipped"
    assert retry["reason"] == "already_sent"
    assert len(world.mailer.outbox) == 1
    assert world.store.send_claims[(ARN, "welcome")]["message_id"] == "msg-1"


def test_unknown_template_raises_and_releases_the_claim(world: World) -> None:
    with pytest.raises(TemplateNotFound):
        send(world, template="onboarding/missing")

    assert world.store.send_claims == {}
    assert world.mailer.outbox == []


def test_missing_unsubscribe_url_is_a_configuration_error(world: World) -> None:
    world.settings = RuntimeSettings("", SECRET)

    with pytest.raises(ConfigurationError):
        send(world)

    assert world.store.send_claims == {}


def test_send_skips_suppressed_and_unsubscribed(world: World) -> None:
    world.store.given_profile(EMAIL, unsubscribed=True)
    assert send(world)["reason"] == "unsubscribed"
    assert send(world, transactional=True)["status"] == "sent"

    world.store.suppressions[EMAIL] = suppression()
    assert send(world, step_id="again", transactional=True)["reason"] == "suppressed"
    assert len(world.mailer.outbox) == 1


def test_send_uses_the_stored_profile_over_the_payload(world: World) -> None:
    world.store.given_profile(EMAIL, first_name="Janet", attributes={"plan": "team"})

    send(world, subject="{{ first_name }} on {{ plan }}")

    assert world.mailer.outbox[0].subject == "Janet on team"


def test_send_to_an_unknown_address_renders_from_the_payload(world: World) -> None:
    send(world, subject="{{ first_name }} on {{ plan }}")

    assert world.mailer.outbox[0].subject == "Jane on pro"
    assert world.store.profiles == {}  # send never creates a profile


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"subscriber": {"email": "not-an-address"}}, InvalidEmail),
        ({"subscriber": {}}, InvalidInput),
        ({"sender": None}, InvalidInput),
        ({"sender": {"from": "Acme <not-an-address>"}}, InvalidEmail),
        ({"template": "../../secrets"}, InvalidInput),
        ({"template": "onboarding/welcome.html"}, InvalidInput),
        ({"subject": ""}, InvalidInput),
        ({"step_id": "Welcome Step"}, InvalidInput),
        ({"template": None, "variants": [{"template": "onboarding/welcome", "subject": "x"}]},
         InvalidInput),
        ({"template": None, "variants": ["a", "b"]}, InvalidInput),
    ],
)  # fmt: skip
def test_send_rejects_bad_input_without_claiming(
    world: World, overrides: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        send(world, **overrides)

    assert world.store.send_claims == {}
    assert world.mailer.outbox == []


def test_crlf_in_sender_name_and_subject_never_reaches_a_header(world: World) -> None:
    world.store.given_profile(EMAIL, first_name="Jane\r\nBcc: eve@evil.test")

    send(world, sender={"from": '"Acme\r\nBcc: eve@evil.test" <hello@acme.test>'},
         subject="Hi {{ first_name }}")  # fmt: skip

    email = world.mailer.outbox[0]
    for value in (email.subject, email.from_header, *dict(email.headers).values()):
        assert "\r" not in value
        assert "\n" not in value
    assert email.subject == "Hi Jane Bcc: eve@evil.test"


# --------------------------------------------------------------------------- variants


def variants() -> list[dict[str, str]]:
    return [
        {"template": "onboarding/welcome", "subject": "A"},
        {"template": "onboarding/nudge", "subject": "B", "name": "nudge"},
    ]


def test_variant_choice_is_deterministic_per_address_and_sequence() -> None:
    arms = [lifecycle.pick_variant(variants(), f"user{i}@example.com", "onboarding")
            for i in range(200)]  # fmt: skip
    again = [lifecycle.pick_variant(variants(), f"user{i}@example.com", "onboarding")
             for i in range(200)]  # fmt: skip
    other = [lifecycle.pick_variant(variants(), f"user{i}@example.com", "billing")
             for i in range(200)]  # fmt: skip

    assert arms == again
    assert arms != other  # the split is per sequence, not one global bucket


@pytest.mark.parametrize("arms", [2, 3])
def test_variants_are_roughly_balanced(arms: int) -> None:
    choices = [{"template": f"s/t{i}", "subject": "x"} for i in range(arms)]
    counts = [0] * arms
    for i in range(2000):
        counts[lifecycle.pick_variant(choices, f"user{i}@example.com", "onboarding")] += 1

    share = 1 / arms
    assert all(0.8 * share * 2000 <= n <= 1.2 * share * 2000 for n in counts), counts


def test_two_arm_split_stays_between_40_and_60_percent() -> None:
    first = sum(
        lifecycle.pick_variant(variants(), f"subscriber-{i}@example.org", "trial") == 0
        for i in range(2000)
    )

    assert 800 <= first <= 1200


def test_send_with_variants_reports_the_arm_and_sends_its_template(world: World) -> None:
    result = send(world, template=None, subject=None, variants=variants())

    index = lifecycle.pick_variant(variants(), EMAIL, "onboarding")
    chosen = variants()[index]
    assert result["template"] == chosen["template"]
    assert result["variant"] == ("a" if index == 0 else "nudge")
    assert world.mailer.outbox[0].subject == chosen["subject"]


# --------------------------------------------------------------------------- fire and forget


def fire(world: World, **overrides: Any) -> dict[str, Any]:
    payload = {
        "sequence_id": "onboarding",
        "template": "onboarding/nudge",
        "subject": "Payment failed",
        "sender": SENDER,
        "subscriber": SUBSCRIBER,
    }
    payload.update(overrides)
    return lifecycle.fire_and_forget(world.services, payload)


def test_fire_and_forget_upserts_and_sends_with_the_template_name_as_step(world: World) -> None:
    result = fire(world)

    assert result["status"] == "sent"
    assert EMAIL in world.store.profiles
    assert headers(world)["X-Mailstep-Step"] == "nudge"


def test_fire_and_forget_with_an_event_id_sends_once(world: World) -> None:
    fire(world, event_id="evt-9")

    assert fire(world, event_id="evt-9")["reason"] == "already_sent"
    assert fire(world, event_id="evt-10")["status"] == "sent"
    assert len(world.mailer.outbox) == 2


def test_fire_and_forget_respects_unsubscribe_but_not_for_transactional(world: World) -> None:
    world.store.given_profile(EMAIL, unsubscribed=True)

    assert fire(world)["reason"] == "unsubscribed"
    assert fire(world, transactional=True)["status"] == "sent"
    assert world.store.profiles[EMAIL].unsubscribed is True  # the upsert kept the flag


# --------------------------------------------------------------------------- complete / cleanup


def complete(world: World, arn: str = ARN) -> dict[str, Any]:
    payload = {"sequence_id": "onboarding", "execution_arn": arn, "subscriber": {"email": EMAIL}}
    return lifecycle.complete(world.services, payload)


def test_complete_removes_the_run_once(world: World) -> None:
    register(world)

    assert complete(world) == {"status": "completed", "removed": True}
    assert complete(world) == {"status": "completed", "removed": False}
    assert world.store.executions == {}
    assert world.store.counts[("onboarding", "COUNTERS")]["completed"] == 1
    assert len(world.publisher.of_type("sequence.completed")) == 1


def test_complete_of_an_old_run_leaves_the_new_one(world: World) -> None:
    register(world, execution_arn=ARN_2)

    assert complete(world, arn=ARN)["removed"] is False
    assert world.store.executions[(EMAIL, "onboarding")].execution_arn == ARN_2


def test_exit_stops_the_active_run_of_that_sequence_only(world: World) -> None:
    register(world)
    register(world, sequence_id="billing", execution_arn=ARN_2)

    result = lifecycle.exit_sequence(
        world.services, {"sequence_id": "onboarding", "subscriber": {"email": "JANE@example.com"}}
    )

    assert result == {"status": "exited"}
    assert world.stopper.arns == [ARN]
    assert list(world.store.executions) == [(EMAIL, "billing")]
    assert world.store.counts[("onboarding", "COUNTERS")]["exited"] == 1
    assert world.publisher.of_type("sequence.exited") == [
        {"email": EMAIL, "sequence_id": "onboarding"}
    ]


def test_exit_without_an_active_run_is_skipped(world: World) -> None:
    result = lifecycle.exit_sequence(
        world.services, {"sequence_id": "onboarding", "subscriber": {"email": EMAIL}}
    )

    assert result == {"status": "skipped", "reason": "not_active"}
    assert world.stopper.stopped == []


def status_change(arn: str, status: str = "TIMED_OUT", run_input: Any = None) -> dict[str, Any]:
    if run_input is None:
        run_input = '{"subscriber": {"email": "JANE@example.com"}}'
    return {
        "detail-type": lifecycle.STATUS_CHANGE,
        "detail": {"executionArn": arn, "status": status, "input": run_input},
    }


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_cleanup_removes_the_rows_of_an_abnormal_end(world: World, status: str) -> None:
    register(world)

    result = lifecycle.cleanup_after_status_change(world.services, status_change(ARN, status))

    assert result == {"status": "cleaned", "removed": 1, "execution_status": status}
    assert world.store.executions == {}
    assert world.store.counts[("onboarding", "COUNTERS")][status.lower()] == 1


def test_cleanup_leaves_a_newer_run_alone(world: World) -> None:
    register(world, execution_arn=ARN_2)

    result = lifecycle.cleanup_after_status_change(world.services, status_change(ARN))

    assert result["removed"] == 0
    assert world.store.executions[(EMAIL, "onboarding")].execution_arn == ARN_2


def test_cleanup_ignores_successful_runs(world: World) -> None:
    register(world)

    result = lifecycle.cleanup_after_status_change(world.services, status_change(ARN, "SUCCEEDED"))

    assert result["reason"] == "not_an_abnormal_end"
    assert (EMAIL, "onboarding") in world.store.executions


@pytest.mark.parametrize("run_input", ["not json", "{}", '{"subscriber": {"email": "x"}}', 7])
def test_cleanup_without_a_usable_subscriber_finds_the_run_by_its_arn(
    world: World, run_input: Any
) -> None:
    register(world)

    result = lifecycle.cleanup_after_status_change(
        world.services, status_change(ARN, run_input=run_input)
    )

    assert result["removed"] == 1
    assert (EMAIL, "onboarding") not in world.store.executions


def test_cleanup_by_arn_leaves_other_runs_alone(world: World) -> None:
    register(world)

    result = lifecycle.cleanup_after_status_change(
        world.services, status_change(ARN.replace("run-1", "other"), run_input="{}")
    )

    assert result["removed"] == 0
    assert (EMAIL, "onboarding") in world.store.executions


@pytest.mark.parametrize(
    "event",
    [{"detail-type": lifecycle.STATUS_CHANGE}, {"detail": {"status": "FAILED"}}],
)
def test_cleanup_of_a_malformed_event_raises(world: World, event: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        lifecycle.cleanup_after_status_change(world.services, event)


def test_a_numeric_dedupe_key_works_like_a_string(world: World) -> None:
    first = register(world, event_id=12345)
    world.store.executions.clear()  # the first run ended; the app delivers the event again
    again = register(world, execution_arn=ARN_2, event_id="12345")

    assert first == {"status": "registered"}
    assert again == {"status": "skipped", "reason": "duplicate_event"}
