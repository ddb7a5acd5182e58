"""Unsubscribe (Lambda Function URL, payload format 2.0).

GET shows a confirmation page and changes nothing: link scanners open every link.
POST (the page's button, or RFC 8058 one-click from ``List-Unsubscribe-Post``)
unsubscribes and stops every non-transactional run.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import services
from mailstep.domain import pages
from mailstep.domain.errors import InvalidToken
from mailstep.domain.optout import unsubscribe_with_token
from mailstep.domain.tokens import verify_token
from mailstep.observability import logger, metrics

MAX_BODY_BYTES = 8 * 1024
SECURITY_HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex, nofollow",
    "x-content-type-options": "nosniff",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _response(status: int, html: str, **extra_headers: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**SECURITY_HEADERS, **extra_headers}, "body": html}


def _form(event: dict[str, Any]) -> dict[str, str]:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return {}
    if len(body) > MAX_BODY_BYTES:
        return {}
    return {k: v[0] for k, v in parse_qs(body).items() if v}


def _invalid(exc: InvalidToken) -> dict[str, Any]:
    metrics.add_metric(name=f"unsubscribe_invalid_{exc.reason}", unit=MetricUnit.Count, value=1)
    logger.info("invalid token", extra={"reason": exc.reason})
    return _response(410 if exc.reason == "expired" else 400, pages.invalid_page(exc.reason))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    query = event.get("queryStringParameters") or {}
    try:
        svc = services()
        if method in ("GET", "HEAD"):
            token = query.get("token")
            now = int(svc.now().timestamp())
            claims = verify_token(svc.settings().secret, token, now)  # reads only
            action = event.get("rawPath") or "/"
            metrics.add_metric(name="unsubscribe_page_viewed", unit=MetricUnit.Count, value=1)
            return _response(200, pages.confirm_page(action, token or "", claims.email))
        if method == "POST":
            token = _form(event).get("token") or query.get("token")
            result = unsubscribe_with_token(svc, token)
            metrics.add_metric(name="unsubscribed", unit=MetricUnit.Count, value=1)
            logger.info("unsubscribed", extra={"known": result.known, "stopped": result.stopped})
            return _response(200, pages.done_page())
    except InvalidToken as exc:
        return _invalid(exc)
    except Exception:
        logger.exception("unsubscribe failed")
        return _response(500, pages.error_page())
    return _response(405, pages.page("Method not allowed", ""), allow="GET, HEAD, POST")
