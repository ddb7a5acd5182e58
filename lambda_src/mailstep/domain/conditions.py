"""Runtime checks a `condition` step asks for; they read live state, not the run input."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import Subscriber
from mailstep.domain.payloads import one_of, require_str, require_template_key
from mailstep.domain.ports import SubscriberStore

CHECKS = ("field_exists", "field_equals", "has_been_sent")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_value(store: SubscriberStore, email: str, field: str) -> Any:
    profile = store.get_profile(email)
    if profile is None:
        return None
    if field == "first_name":
        return profile.first_name
    return profile.attributes.get(field)


def check_condition(store: SubscriberStore, payload: Mapping[str, Any]) -> bool:
    check = one_of(payload.get("check"), CHECKS, "check")
    subscriber = payload.get("subscriber")
    if not isinstance(subscriber, Mapping):
        raise InvalidInput("subscriber is missing")
    email = Subscriber.from_payload({"email": subscriber.get("email")}).email
    if check == "has_been_sent":
        return store.has_been_sent(email, require_template_key(payload))
    value = field_value(store, email, require_str(payload, "field"))
    if check == "field_exists":
        return value is not None and value not in ("", [], {})
    if "value" not in payload:
        raise InvalidInput("value is missing")
    expected = payload["value"]
    if value is None:
        return False
    if isinstance(value, bool) != isinstance(expected, bool):
        return _as_text(value) == _as_text(expected)  # 1 is not true, "true" is
    return bool(value == expected or _as_text(value) == _as_text(expected))
