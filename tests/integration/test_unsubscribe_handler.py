"""unsubscribe (Function URL, payload 2.0) under moto, with the documented request shapes:
GET only confirms, POST unsubscribes; bad tokens get a clear page, never a stack trace."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
from handler_kit import (
    EMAIL,
    SEQUENCE,
    exec_rows,
    item,
    published,
    register_payload,
    token_for,
)
from mailstep.adapters import wiring
from mailstep.handlers import send_email, unsubscribe
from support import Aws, LambdaContext, function_url_event

PK = f"SUB#{EMAIL}"
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def call(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unsubscribe.handler(event, context)


def assert_safe_html_response(response: dict[str, Any]) -> None:
    headers = response["headers"]
    assert headers["content-type"] == "text/html; charset=utf-8"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert response["body"].startswith("<!doctype html>")
    assert "Traceback" not in response["body"]
    assert "Error" not in response["body"]


@pytest.fixture
def runs(aws: Aws, context: LambdaContext) -> dict[str, str]:
    """Jane in a marketing run and in a transactional run of another sequence."""
    marketing, receipts = aws.start_execution("marketing"), aws.start_execution("receipts")
    send_email.handler(register_payload(marketing), context)
    send_email.handler(
        register_payload(receipts, sequence_id="receipts", transactional=True), context
    )
    return {"marketing": marketing, "receipts": receipts}


def test_get_with_a_valid_token_shows_a_form_and_writes_nothing(
    aws: Aws, runs: dict[str, str], context: LambdaContext
) -> None:
    token = token_for()
    before, published_before = aws.all_items(), list(aws.published)

    response = call(function_url_event("function_url_get.json", token), context)

    assert response["statusCode"] == 200
    assert_safe_html_response(response)
    body = response["body"]
    assert '<form method="post" action="/">' in body
    assert f'<input type="hidden" name="token" value="{token}">' in body
    assert EMAIL in body
    assert aws.all_items() == before
    assert aws.stopped == []
    assert aws.published == published_before


def test_head_behaves_like_get(aws: Aws, runs: dict[str, str], context: LambdaContext) -> None:
    event = function_url_event("function_url_get.json", token_for())
    event["requestContext"]["http"]["method"] = "HEAD"
    before = aws.all_items()

    assert call(event, context)["statusCode"] == 200
    assert aws.all_items() == before


def test_the_request_path_is_escaped_in_the_form(aws: Aws, context: LambdaContext) -> None:
    event = function_url_event("function_url_get.json", token_for())
    event["rawPath"] = '/"><script>alert(1)</script>'

    body = call(event, context)["body"]

    assert "<script>" not in body
    assert 'action="/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in body


def forged() -> str:
    parts = token_for().split(".")
    parts[1] = base64.urlsafe_b64encode(b"eve@example.com").rstrip(b"=").decode()
    return ".".join(parts)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param((forged, 400, "This unsubscribe link is not valid."), id="forged"),
        pytest.param((lambda: token_for(issued=int(time.time()) - 7200, ttl=3600), 410,
                      "has expired"), id="expired"),
        pytest.param((lambda: None, 400, "has no unsubscribe token"), id="missing"),
        pytest.param((lambda: "garbage", 400, "may have been cut short"), id="garbage"),
        pytest.param((lambda: token_for()[:-10], 400, "not valid"), id="truncated"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("request_file", ["function_url_get.json", "function_url_post_form.json"])
def test_bad_tokens_get_a_clear_page_and_change_nothing(
    aws: Aws,
    runs: dict[str, str],
    context: LambdaContext,
    request_file: str,
    case: tuple[Callable[[], str | None], int, str],
) -> None:
    token, status, message = case
    before = aws.all_items()

    response = call(function_url_event(request_file, token()), context)

    assert response["statusCode"] == status
    assert_safe_html_response(response)
    assert message in response["body"]
    assert "<form" not in response["body"]
    assert aws.all_items() == before
    assert aws.stopped == []


@pytest.mark.parametrize(
    "request_file", ["function_url_post_form.json", "function_url_post_one_click.json"]
)
def test_post_unsubscribes_and_stops_marketing_runs_only(
    aws: Aws, runs: dict[str, str], context: LambdaContext, request_file: str
) -> None:
    response = call(function_url_event(request_file, token_for()), context)

    assert response["statusCode"] == 200
    assert_safe_html_response(response)
    assert "You have been unsubscribed" in response["body"]
    profile = item(aws, PK, "PROFILE")
    assert profile is not None
    assert profile["unsubscribed"] is True
    assert "unsubscribed_at" in profile
    assert aws.stopped == [runs["marketing"]]
    assert aws.execution_status(runs["marketing"]) == "ABORTED"
    assert exec_rows(aws, sequence=SEQUENCE) == []
    assert [r["execution_arn"] for r in exec_rows(aws, sequence="receipts")] == [
        runs["receipts"],
        runs["receipts"],
    ]
    assert published(aws, "subscriber.unsubscribed") == [{"email": EMAIL, "stopped_runs": 1}]


def test_post_twice_is_idempotent(aws: Aws, runs: dict[str, str], context: LambdaContext) -> None:
    event = function_url_event("function_url_post_one_click.json", token_for())
    call(event, context)
    after_first = aws.all_items()

    second = call(event, context)

    assert second["statusCode"] == 200
    assert aws.stopped == [runs["marketing"]]
    changed = [i for i in aws.all_items() if i not in after_first]
    assert [(i["PK"], i["SK"]) for i in changed] == [(PK, "PROFILE")]  # updated_at only
    assert changed[0]["unsubscribed_at"] == item_of(after_first, PK, "PROFILE")["unsubscribed_at"]


def item_of(items: list[dict[str, Any]], pk: str, sk: str) -> dict[str, Any]:
    return next(i for i in items if i["PK"] == pk and i["SK"] == sk)


def test_post_for_an_address_without_a_profile_creates_nothing(
    aws: Aws, context: LambdaContext
) -> None:
    response = call(
        function_url_event("function_url_post_form.json", token_for("nobody@example.com")), context
    )

    assert response["statusCode"] == 200
    assert aws.all_items() == []
    assert aws.published == []


def test_other_methods_get_405(aws: Aws, runs: dict[str, str], context: LambdaContext) -> None:
    event = function_url_event("function_url_post_one_click.json", token_for())
    event["requestContext"]["http"]["method"] = "PUT"
    before = aws.all_items()

    response = call(event, context)

    assert response["statusCode"] == 405
    assert response["headers"]["allow"] == "GET, HEAD, POST"
    assert_safe_html_response(response)
    assert aws.all_items() == before


def test_a_body_that_is_not_base64_counts_as_no_token(aws: Aws, context: LambdaContext) -> None:
    event = function_url_event("function_url_post_form.json", token_for())
    event["body"] = "%%% not base64 %%%"

    response = call(event, context)

    assert response["statusCode"] == 400
    assert "has no unsubscribe token" in response["body"]


def test_an_internal_failure_is_a_500_page_without_details(
    aws: Aws, context: LambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAILSTEP_TABLE")
    wiring.reset()

    response = call(function_url_event("function_url_post_form.json", token_for()), context)

    assert response["statusCode"] == 500
    assert_safe_html_response(response)
    assert "MAILSTEP_TABLE" not in response["body"]
