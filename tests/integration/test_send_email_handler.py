"""send-email under moto: every action, the SES request it makes, the rows it leaves."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from handler_kit import (
    EMAIL,
    SEQUENCE,
    WELCOME,
    complete_payload,
    exec_rows,
    fire_payload,
    item,
    published,
    register_payload,
    send_payload,
    sent_headers,
    set_config,
    sks,
    status_change,
    strings,
    subscriber,
    update_profile,
)
from mailstep.domain.errors import InvalidEmail, InvalidInput, TemplateNotFound
from mailstep.domain.tokens import verify_token
from mailstep.handlers import send_email
from support import ENV, SECRET, Aws, LambdaContext

PK = f"SUB#{EMAIL}"


@pytest.fixture
def templates(aws: Aws) -> Aws:
    aws.put_template(f"{WELCOME}.html", "<h1>Hi {{ first_name }}</h1><p>Plan: {{ plan }}</p>")
    aws.put_template(f"{WELCOME}.txt", "Hi {{ first_name }}, plan {{ plan }}")
    aws.put_template("onboarding/nudge.html", "<p>Still there, {{ first_name }}?</p>")
    aws.put_template("onboarding/payment-failed.html", "<p>Payment failed</p>")
    return aws


def invoke(event: Any, context: LambdaContext) -> dict[str, Any]:
    return send_email.handler(event, context)


# --------------------------------------------------------------------------- register


def test_register_writes_profile_and_both_execution_rows(aws: Aws, context: LambdaContext) -> None:
    arn = aws.start_execution()

    result = invoke(register_payload(arn), context)

    assert result == {"status": "registered"}
    profile = item(aws, PK, "PROFILE")
    assert profile is not None
    assert profile["email"] == EMAIL
    assert profile["first_name"] == "Jane"
    assert profile["attributes"] == {"plan": "pro"}
    assert (profile["unsubscribed"], profile["suppressed"]) == (False, False)
    assert profile["created_at"] == profile["updated_at"]
    rows = exec_rows(aws)
    assert [(r["PK"], r["SK"]) for r in rows] == [(PK, f"EXEC#{SEQUENCE}"), (f"SEQ#{SEQUENCE}", PK)]
    assert all(r["execution_arn"] == arn and r["transactional"] is False for r in rows)
    assert item(aws, PK, f"ENROLLED#{SEQUENCE}") is not None
    assert published(aws, "sequence.started") == [{"email": EMAIL, "sequence_id": SEQUENCE}]
    assert {e["Source"] for e in aws.published} == {"mailstep"}
    assert {e["EventBusName"] for e in aws.published} == {ENV["MAILSTEP_EVENT_BUS"]}


def test_register_on_an_unsubscribed_address_is_skipped_not_raised(
    aws: Aws, context: LambdaContext
) -> None:
    first = aws.start_execution("first")
    invoke(register_payload(first), context)
    invoke(complete_payload(first), context)
    update_profile(aws, unsubscribed=True)

    result = invoke(register_payload(aws.start_execution("second")), context)

    assert result == {"status": "skipped", "reason": "unsubscribed"}
    assert item(aws, PK, f"EXEC#{SEQUENCE}") is None


def test_register_with_replace_stops_the_older_run(aws: Aws, context: LambdaContext) -> None:
    old, new = aws.start_execution("old"), aws.start_execution("new")
    invoke(register_payload(old, reentry="replace"), context)

    result = invoke(register_payload(new, reentry="replace"), context)

    assert result == {"status": "registered"}
    assert aws.stopped == [old]
    assert aws.execution_status(old) == "ABORTED"
    assert [r["execution_arn"] for r in exec_rows(aws)] == [new, new]


def test_register_while_active_is_ignored_by_default(aws: Aws, context: LambdaContext) -> None:
    first, second = aws.start_execution("first"), aws.start_execution("second")
    invoke(register_payload(first), context)

    result = invoke(register_payload(second), context)

    assert result == {"status": "skipped", "reason": "already_active", "active_execution": first}
    assert aws.stopped == []
    assert [r["execution_arn"] for r in exec_rows(aws)] == [first, first]


def test_a_duplicate_event_id_is_ignored(aws: Aws, context: LambdaContext) -> None:
    first, second = aws.start_execution("first"), aws.start_execution("second")
    invoke(register_payload(first, event_id="evt_01", reentry="replace"), context)

    result = invoke(register_payload(second, event_id="evt_01", reentry="replace"), context)

    assert result == {"status": "skipped", "reason": "duplicate_event"}
    assert aws.stopped == []
    assert [r["execution_arn"] for r in exec_rows(aws)] == [first, first]
    assert item(aws, f"EVENT#{SEQUENCE}#evt_01", "EVENT")["owner"] == first  # type: ignore[index]
    # a retry of the first run with the same event id is still fine
    assert invoke(register_payload(first, event_id="evt_01"), context) == {"status": "registered"}


def test_upsert_never_clears_unsubscribed_or_suppressed(aws: Aws, context: LambdaContext) -> None:
    invoke(register_payload(aws.start_execution("first"), transactional=True), context)
    update_profile(aws, unsubscribed=True, suppressed=True)

    payload = register_payload(
        aws.start_execution("second"),
        sequence_id="billing",
        transactional=True,
        subscriber=subscriber(first_name="Janet", attributes={"plan": "team"}),
    )
    result = invoke(payload, context)

    profile = item(aws, PK, "PROFILE")
    assert result == {"status": "skipped", "reason": "suppressed"}
    assert profile is not None
    assert (profile["unsubscribed"], profile["suppressed"]) == (True, True)
    assert (profile["first_name"], profile["attributes"]) == ("Janet", {"plan": "team"})


def test_odd_attribute_names_are_stored_and_merged(aws: Aws, context: LambdaContext) -> None:
    odd = {"a-b": 1, "x.y": "dot", "with space": "sp", "ünï": "u", "plan": "basic", "#h": [1]}
    invoke(register_payload(aws.start_execution("first"),
                            subscriber=subscriber(attributes=odd)), context)  # fmt: skip

    invoke(
        register_payload(aws.start_execution("second"), sequence_id="billing",
                         subscriber={"email": EMAIL, "attributes": {"plan": "pro", "x.y": "new"}}),
        context,
    )  # fmt: skip

    profile = item(aws, PK, "PROFILE")
    assert profile is not None
    assert profile["attributes"] == {**odd, "plan": "pro", "x.y": "new"}
    assert "x" not in profile["attributes"]  # "x.y" is one name, not a path
    assert profile["first_name"] == "Jane"  # an upsert without a name keeps it


def test_a_profile_with_hundreds_of_attributes_can_be_updated(
    aws: Aws, context: LambdaContext
) -> None:
    # DynamoDB refuses an expression string over 4 KB; moto does not check, so measure.
    expressions: list[str] = []
    aws.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.UpdateItem",
        lambda params, **_: expressions.append(params["UpdateExpression"]),
    )
    first = {f"attribute_{i:03d}": i for i in range(300)}
    invoke(register_payload(aws.start_execution("first"),
                            subscriber=subscriber(attributes=first)), context)  # fmt: skip

    second = {f"attribute_{i:03d}": -i for i in range(150, 450)}
    invoke(register_payload(aws.start_execution("second"), sequence_id="billing",
                            subscriber=subscriber(attributes=second)), context)  # fmt: skip

    profile = item(aws, PK, "PROFILE")
    assert profile is not None
    assert profile["attributes"] == {**first, **second}
    assert max(len(e.encode()) for e in expressions) <= 4096


# --------------------------------------------------------------------------- send


def test_send_makes_one_ses_request_with_both_parts_headers_and_tags(
    templates: Aws, context: LambdaContext
) -> None:
    aws = templates
    arn = aws.start_execution()
    invoke(register_payload(arn), context)
    before = int(time.time())

    result = invoke(send_payload(arn), context)

    assert result["status"] == "sent"
    assert result["template"] == WELCOME
    [params] = aws.sent
    assert params["ConfigurationSetName"] == ENV["MAILSTEP_CONFIGURATION_SET"]
    assert params["FromEmailAddress"] == "Acme <hello@acme.test>"
    assert params["ReplyToAddresses"] == ["support@acme.test"]
    assert params["Destination"] == {"ToAddresses": [EMAIL]}
    simple = params["Content"]["Simple"]
    assert simple["Subject"] == {"Data": "Welcome, Jane", "Charset": "UTF-8"}
    assert simple["Body"]["Html"]["Data"] == "<h1>Hi Jane</h1><p>Plan: pro</p>"
    assert simple["Body"]["Text"]["Data"] == "Hi Jane, plan pro"
    headers = sent_headers(params)
    assert headers["X-Mailstep-Sequence"] == SEQUENCE
    assert headers["X-Mailstep-Template"] == WELCOME
    assert headers["X-Mailstep-Step"] == "welcome"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = headers["List-Unsubscribe"]
    assert link.startswith("<https://unsub.example.test/?token=")
    assert link.endswith(">")
    token = parse_qs(urlsplit(link[1:-1]).query)["token"][0]
    claims = verify_token(SECRET.encode(), token, int(time.time()))
    assert claims.email == EMAIL
    assert claims.expires - claims.issued == 90 * 86400
    assert {t["Name"]: t["Value"] for t in params["EmailTags"]} == {
        "mailstep_sequence": SEQUENCE,
        "mailstep_template": "onboarding--welcome",
        "mailstep_step": "welcome",
    }
    assert claims.issued >= before


def test_send_leaves_log_marker_counters_and_claim(templates: Aws, context: LambdaContext) -> None:
    aws = templates
    arn = aws.start_execution()
    invoke(register_payload(arn), context)
    now = int(time.time())

    result = invoke(send_payload(arn), context)

    message_id = result["message_id"]
    [log] = [i for i in aws.items(PK) if i["SK"].startswith("SENT#")]
    assert log["SK"].endswith(f"#{message_id}")
    assert (log["template_key"], log["sequence_id"], log["step_id"]) == (
        WELCOME,
        SEQUENCE,
        "welcome",
    )
    assert log["subject"] == "Welcome, Jane"
    assert abs(log["ttl"] - (now + 30 * 86400)) < 60  # conftest sets data_ttl_days: 30
    marker = item(aws, PK, f"TPL#{WELCOME}")
    assert marker is not None
    assert (marker["send_count"], marker["last_message_id"]) == (1, message_id)
    assert item(aws, f"STATS#{SEQUENCE}", "COUNTERS")["sent"] == 1  # type: ignore[index]
    assert item(aws, f"STATS#{SEQUENCE}", "STEP#welcome")["sent"] == 1  # type: ignore[index]
    claim = item(aws, f"SEND#{arn}#welcome", "SEND")
    assert claim is not None
    assert (claim["state"], claim["message_id"]) == ("sent", message_id)
    assert published(aws, "email.sent")[0]["message_id"] == message_id


def test_send_log_has_no_ttl_when_data_is_kept_forever(
    templates: Aws, context: LambdaContext
) -> None:
    set_config(templates, data_ttl_days=0)

    invoke(send_payload(templates.start_execution()), context)

    [log] = [i for i in templates.items(PK) if i["SK"].startswith("SENT#")]
    assert "ttl" not in log


def test_without_a_text_template_only_html_is_sent(templates: Aws, context: LambdaContext) -> None:
    invoke(send_payload(templates.start_execution(), step_id="nudge",
                        template="onboarding/nudge"), context)  # fmt: skip

    body = templates.sent[0]["Content"]["Simple"]["Body"]
    assert set(body) == {"Html"}


def test_transactional_send_has_no_list_unsubscribe(templates: Aws, context: LambdaContext) -> None:
    invoke(send_payload(templates.start_execution(), transactional=True), context)

    headers = sent_headers(templates.sent[0])
    assert "List-Unsubscribe" not in headers
    assert "List-Unsubscribe-Post" not in headers
    assert headers["X-Mailstep-Template"] == WELCOME


def test_the_same_step_is_never_sent_twice(templates: Aws, context: LambdaContext) -> None:
    arn = templates.start_execution()
    first = invoke(send_payload(arn), context)

    second = invoke(send_payload(arn), context)

    assert first["status"] == "sent"
    assert second == {"status": "skipped", "reason": "already_sent", "template": WELCOME}
    assert len(templates.sent) == 1
    assert item(templates, PK, f"TPL#{WELCOME}")["send_count"] == 1  # type: ignore[index]


def test_unknown_template_raises_and_the_retry_sends_once_it_exists(
    aws: Aws, context: LambdaContext
) -> None:
    arn = aws.start_execution()

    with pytest.raises(TemplateNotFound):
        invoke(send_payload(arn), context)

    assert item(aws, f"SEND#{arn}#welcome", "SEND") is None  # the claim was released
    assert aws.sent == []
    aws.put_template(f"{WELCOME}.html", "<p>Hi</p>")
    assert invoke(send_payload(arn), context)["status"] == "sent"


def test_crlf_in_sender_name_and_subject_never_reaches_ses(
    templates: Aws, context: LambdaContext
) -> None:
    arn = templates.start_execution()
    evil = "Jane\r\nBcc: eve@evil.test"
    invoke(register_payload(arn, subscriber=subscriber(first_name=evil)), context)

    invoke(
        send_payload(arn, subject="Hi {{ first_name }}\r\nX-Extra: 1",
                     sender={"from": '"Acme\r\nBcc: eve@evil.test" <hello@acme.test>'}),
        context,
    )  # fmt: skip

    [params] = templates.sent
    header_strings = [
        params["FromEmailAddress"],
        params["Content"]["Simple"]["Subject"]["Data"],
        *strings(params["Content"]["Simple"]["Headers"]),
        *strings(params["EmailTags"]),
    ]
    assert not [s for s in header_strings if "\r" in s or "\n" in s]
    assert params["Content"]["Simple"]["Subject"]["Data"] == (
        "Hi Jane Bcc: eve@evil.test X-Extra: 1"
    )
    assert params["FromEmailAddress"] == '"Acme Bcc: eve@evil.test" <hello@acme.test>'
    assert params["Destination"] == {"ToAddresses": [EMAIL]}


def test_html_in_attributes_is_escaped_in_the_html_part(
    templates: Aws, context: LambdaContext
) -> None:
    arn = templates.start_execution()
    attributes = {"plan": "<script>alert('x')</script>"}
    evil = subscriber(first_name="<b>Jane</b>", attributes=attributes)
    invoke(register_payload(arn, subscriber=evil), context)

    invoke(send_payload(arn), context)

    body = templates.sent[0]["Content"]["Simple"]["Body"]
    assert body["Html"]["Data"] == (
        "<h1>Hi &lt;b&gt;Jane&lt;/b&gt;</h1>"
        "<p>Plan: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>"
    )
    assert body["Text"]["Data"] == "Hi <b>Jane</b>, plan <script>alert('x')</script>"


def test_send_to_a_suppressed_address_is_skipped(templates: Aws, context: LambdaContext) -> None:
    arn = templates.start_execution()
    invoke(register_payload(arn), context)
    update_profile(templates, suppressed=True)

    assert invoke(send_payload(arn), context)["reason"] == "suppressed"
    assert templates.sent == []


# --------------------------------------------------------------------------- fire and forget


def test_fire_and_forget_creates_the_profile_and_sends_once_per_event(
    templates: Aws, context: LambdaContext
) -> None:
    first = invoke(fire_payload(event_id="evt_7"), context)
    again = invoke(fire_payload(event_id="evt_7"), context)

    assert first["status"] == "sent"
    assert again["reason"] == "already_sent"
    assert len(templates.sent) == 1
    assert item(templates, PK, "PROFILE") is not None
    assert sent_headers(templates.sent[0])["X-Mailstep-Step"] == "payment-failed"
    assert item(templates, "TPL#onboarding/payment-failed", "") is None
    assert "TPL#onboarding/payment-failed" in sks(templates, PK)
    assert item(templates, PK, f"EXEC#{SEQUENCE}") is None  # no run is tracked


# --------------------------------------------------------------------------- complete / cleanup


def test_complete_deletes_both_execution_rows(templates: Aws, context: LambdaContext) -> None:
    arn = templates.start_execution()
    invoke(register_payload(arn), context)

    result = invoke(complete_payload(arn), context)

    assert result == {"status": "completed", "removed": True}
    assert exec_rows(templates) == []
    assert item(templates, f"STATS#{SEQUENCE}", "COUNTERS")["completed"] == 1  # type: ignore[index]
    assert item(templates, PK, "PROFILE") is not None


def test_exit_stops_the_active_run_and_deletes_its_rows(aws: Aws, context: LambdaContext) -> None:
    arn = aws.start_execution()
    invoke(register_payload(arn), context)

    result = invoke({"action": "exit", "sequence_id": SEQUENCE,
                     "subscriber": {"email": "JANE@example.com"}}, context)  # fmt: skip

    assert result == {"status": "exited"}
    assert aws.stopped == [arn]
    assert aws.execution_status(arn) == "ABORTED"
    assert exec_rows(aws) == []
    assert item(aws, f"STATS#{SEQUENCE}", "COUNTERS")["exited"] == 1  # type: ignore[index]
    assert published(aws, "sequence.exited") == [{"email": EMAIL, "sequence_id": SEQUENCE}]


def test_exit_without_an_active_run_is_skipped(aws: Aws, context: LambdaContext) -> None:
    result = invoke({"action": "exit", "sequence_id": SEQUENCE,
                     "subscriber": {"email": EMAIL}}, context)  # fmt: skip

    assert result == {"status": "skipped", "reason": "not_active"}
    assert aws.stopped == []
    assert aws.all_items() == []


def test_status_change_cleanup_removes_both_rows_of_that_run(
    aws: Aws, context: LambdaContext
) -> None:
    arn = aws.start_execution()
    invoke(register_payload(arn), context)

    result = invoke(status_change(arn), context)

    assert result == {"status": "cleaned", "removed": 1, "execution_status": "TIMED_OUT"}
    assert exec_rows(aws) == []
    assert item(aws, f"STATS#{SEQUENCE}", "COUNTERS")["timed_out"] == 1  # type: ignore[index]


def test_status_change_cleanup_keeps_the_rows_of_a_newer_run(
    aws: Aws, context: LambdaContext
) -> None:
    old, new = aws.start_execution("old"), aws.start_execution("new")
    invoke(register_payload(old, reentry="replace"), context)
    invoke(register_payload(new, reentry="replace"), context)

    result = invoke(status_change(old, status="ABORTED"), context)

    assert result["removed"] == 0
    assert [r["execution_arn"] for r in exec_rows(aws)] == [new, new]


def test_status_change_without_input_still_cleans_up(aws: Aws, context: LambdaContext) -> None:
    arn = aws.start_execution()
    invoke(register_payload(arn), context)
    event = status_change(arn)
    event["detail"].update(input=None, inputDetails={"included": False})

    invoke(event, context)

    assert exec_rows(aws) == []


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("event", "error"),
    [
        pytest.param(["not", "an", "object"], InvalidInput, id="not-an-object"),
        pytest.param({"sequence_id": SEQUENCE}, InvalidInput, id="no-action"),
        pytest.param({"action": "delete_everything"}, InvalidInput, id="unknown-action"),
        pytest.param(register_payload("arn:x", subscriber=None), InvalidInput, id="no-subscriber"),
        pytest.param(register_payload("arn:x", subscriber={"first_name": "J"}), InvalidEmail,
                     id="register-missing-email"),
        pytest.param(register_payload("arn:x", subscriber={"email": "jane@"}), InvalidEmail,
                     id="register-invalid-email"),
        pytest.param(send_payload("arn:x", subscriber={"email": None}), InvalidEmail,
                     id="send-missing-email"),
        pytest.param(send_payload("arn:x", subscriber={"email": "a b@c.d"}), InvalidEmail,
                     id="send-invalid-email"),
        pytest.param(send_payload("arn:x", sender={}), InvalidInput, id="send-no-sender"),
        pytest.param(fire_payload(subscriber={"email": "jane@example"}), InvalidEmail,
                     id="fire-invalid-email"),
        pytest.param(fire_payload(template=""), InvalidInput, id="fire-no-template"),
        pytest.param(complete_payload("arn:x", email="nope"), InvalidEmail,
                     id="complete-invalid-email"),
        pytest.param({**complete_payload("arn:x"), "subscriber": "jane"}, InvalidInput,
                     id="complete-subscriber-not-an-object"),
        pytest.param({"action": "exit", "sequence_id": SEQUENCE, "subscriber": {"email": "x"}},
                     InvalidEmail, id="exit-invalid-email"),
        pytest.param({"action": "exit", "subscriber": {"email": EMAIL}}, InvalidInput,
                     id="exit-no-sequence"),
        pytest.param({"detail-type": "Step Functions Execution Status Change"}, InvalidInput,
                     id="status-change-without-detail"),
    ],
)  # fmt: skip
def test_bad_input_raises_and_writes_nothing(
    templates: Aws, context: LambdaContext, event: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        invoke(event, context)

    assert templates.all_items() == []
    assert templates.sent == []
    assert templates.published == []
