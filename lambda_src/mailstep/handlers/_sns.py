"""Shared SNS plumbing for the SES notification handlers."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mailstep.domain.errors import InvalidInput
from mailstep.domain.ses_events import SesEvent, parse_ses_message
from mailstep.observability import logger


def message_of(record: Any) -> dict[str, Any]:
    """The JSON object an SNS record carries."""
    try:
        message = json.loads(record["Sns"]["Message"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("SNS record without a JSON Message") from exc
    if not isinstance(message, dict):
        raise InvalidInput("SNS Message is not a JSON object")
    return message


def for_each_message(
    event: Mapping[str, Any], handle: Callable[[dict[str, Any]], Any]
) -> list[Any]:
    """Handle every record's message. One bad record does not stop the others; the
    invocation still fails at the end, so the bad one is retried and then lands where
    operators look."""
    records = event.get("Records") if isinstance(event, Mapping) else None
    if not isinstance(records, list) or not records:
        raise InvalidInput("not an SNS event: no Records")
    results: list[Any] = []
    failures: list[Exception] = []
    for index, record in enumerate(records):
        try:
            results.append(handle(message_of(record)))
        except Exception as exc:
            logger.exception("record failed", extra={"record_index": index})
            failures.append(exc)
    if failures:
        raise failures[0]
    return results


def for_each_event(event: Mapping[str, Any], handle: Callable[[SesEvent], Any]) -> list[Any]:
    """:func:`for_each_message` for SES event notifications, parsed into ``SesEvent``."""
    return for_each_message(event, lambda message: handle(parse_ses_message(message)))
