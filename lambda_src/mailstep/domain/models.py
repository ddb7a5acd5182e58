"""Typed models for what crosses a trust boundary (payloads, stored items)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mailstep.domain.emails import normalise_email
from mailstep.domain.errors import InvalidInput
from mailstep.domain.headers import format_mailbox

MAX_ATTRIBUTES_BYTES = 64 * 1024  # a DynamoDB item is at most 400 KB; keep profiles well inside
MAX_TAG_LENGTH = 128
# Keys that are part of the template context; attributes may not shadow them.
RESERVED_CONTEXT_KEYS = frozenset(
    {"email", "first_name", "attributes", "unsubscribe_url", "current_year", "tags"}
)


def _require_mapping(value: object, what: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what} must be an object")
    return value


def _optional_str(value: object, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string")
    return value


@dataclass(frozen=True)
class Subscriber:
    """A subscriber as an event or a caller describes them."""

    email: str
    first_name: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] | None = None  # None: leave tags as they are

    @classmethod
    def from_payload(cls, data: object) -> Subscriber:
        payload = _require_mapping(data, "subscriber")
        if not payload:
            raise InvalidInput("subscriber is missing")
        attributes = dict(_require_mapping(payload.get("attributes"), "subscriber.attributes"))
        if len(json.dumps(attributes, default=str).encode()) > MAX_ATTRIBUTES_BYTES:
            raise InvalidInput(f"subscriber.attributes is larger than {MAX_ATTRIBUTES_BYTES} bytes")
        first_name = _optional_str(
            payload.get("first_name", payload.get("firstName")), "subscriber.first_name"
        )
        tags = payload.get("tags")
        return cls(
            email=normalise_email(payload.get("email")),
            first_name=first_name.strip() if first_name else None,
            attributes=attributes,
            tags=None if tags is None else parse_tags(tags),
        )


def parse_tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise InvalidInput("tags must be a list of strings")
    tags = sorted({t.strip() for t in value if t.strip()})
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(f"tag longer than {MAX_TAG_LENGTH} characters: {tag[:20]}…")
    return tuple(tags)


@dataclass(frozen=True)
class Profile:
    """A subscriber as stored."""

    email: str
    first_name: str | None
    attributes: Mapping[str, Any]
    tags: tuple[str, ...]
    unsubscribed: bool
    suppressed: bool
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class Sender:
    from_header: str
    reply_to: str | None = None

    @classmethod
    def from_payload(cls, data: object) -> Sender:
        payload = _require_mapping(data, "sender")
        raw_from = payload.get("from")
        if not isinstance(raw_from, str) or not raw_from.strip():
            raise InvalidInput("sender.from is missing")
        reply_to = _optional_str(payload.get("reply_to"), "sender.reply_to")
        return cls(
            from_header=format_mailbox(raw_from),
            reply_to=format_mailbox(reply_to) if reply_to else None,
        )


@dataclass(frozen=True)
class Execution:
    sequence_id: str
    execution_arn: str
    started_at: str
    transactional: bool


@dataclass(frozen=True)
class Suppression:
    reason: str  # "bounce" | "complaint"
    detail: str | None  # bounce type / sub-type, complaint feedback type
    feedback_id: str | None
    recorded_at: str


@dataclass(frozen=True)
class SubscriberStatus:
    """What the pre-send checks need: the profile (if any) and the suppression (if any)."""

    profile: Profile | None
    suppression: Suppression | None

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None or bool(self.profile and self.profile.suppressed)

    @property
    def unsubscribed(self) -> bool:
        return bool(self.profile and self.profile.unsubscribed)


# What marking an address unsubscribed did: nothing (no such profile), nothing new, or it.
UnsubscribeChange = Literal["unknown", "already", "unsubscribed"]


@dataclass(frozen=True)
class SendRecord:
    sequence_id: str | None  # None for a broadcast email
    template: str
    subject: str
    message_id: str
    sent_at: str
    step_id: str | None = None
    broadcast_id: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    from_header: str
    reply_to: str | None
    subject: str
    html: str
    text: str | None
    headers: tuple[tuple[str, str], ...]
    tags: Mapping[str, str]
