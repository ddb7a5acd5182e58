"""SES notifications in both shapes: event publishing (``eventType``) and classic
notifications (``notificationType``), parsed into one typed record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailstep.domain.attribution import (
    HEADER_BROADCAST,
    HEADER_SEQUENCE,
    HEADER_STEP,
    HEADER_TEMPLATE,
    TAG_BROADCAST,
    TAG_SEQUENCE,
    TAG_STEP,
    TAG_TEMPLATE,
    template_from_tag,
)
from mailstep.domain.emails import normalise_email
from mailstep.domain.errors import InvalidEmail, InvalidInput

# eventType / notificationType → (our name, the key of the type-specific object)
KINDS = {
    "bounce": ("bounce", "bounce"),
    "complaint": ("complaint", "complaint"),
    "delivery": ("delivery", "delivery"),
    "open": ("open", "open"),
    "click": ("click", "click"),
    "send": ("send", "send"),
    "reject": ("reject", "reject"),
    "deliverydelay": ("delivery_delay", "deliveryDelay"),
    "rendering failure": ("rendering_failure", "failure"),
    "subscription": ("subscription", "subscription"),
}


@dataclass(frozen=True)
class SesEvent:
    kind: str
    message_id: str
    timestamp: str
    recipients: tuple[str, ...]
    sequence_id: str | None = None
    broadcast_id: str | None = None
    template: str | None = None
    step_id: str | None = None
    subject: str | None = None
    bounce_type: str | None = None
    bounce_sub_type: str | None = None
    feedback_id: str | None = None
    complaint_type: str | None = None
    link: str | None = None
    user_agent: str | None = None
    invalid_recipients: tuple[str, ...] = field(default=())

    @property
    def permanent_bounce(self) -> bool:
        return self.kind == "bounce" and self.bounce_type == "Permanent"


def _header_map(mail: Mapping[str, Any]) -> dict[str, str]:
    headers = mail.get("headers") or []
    return {
        str(h.get("name", "")).lower(): str(h.get("value", ""))
        for h in headers
        if isinstance(h, Mapping)
    }


def _tag(mail: Mapping[str, Any], name: str) -> str | None:
    values = (mail.get("tags") or {}).get(name)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _recipients(kind: str, detail: Mapping[str, Any], mail: Mapping[str, Any]) -> list[str]:
    if kind == "bounce":
        return [r.get("emailAddress", "") for r in detail.get("bouncedRecipients") or []]
    if kind == "complaint":
        return [r.get("emailAddress", "") for r in detail.get("complainedRecipients") or []]
    if kind == "delivery" and detail.get("recipients"):
        return list(detail["recipients"])
    return list(mail.get("destination") or [])


def parse_ses_message(message: Mapping[str, Any]) -> SesEvent:
    raw_kind = message.get("eventType") or message.get("notificationType")
    if not isinstance(raw_kind, str) or raw_kind.lower() not in KINDS:
        raise InvalidInput(f"not an SES notification: eventType/notificationType={raw_kind!r}")
    kind, detail_key = KINDS[raw_kind.lower()]
    mail = message.get("mail")
    if not isinstance(mail, Mapping) or not mail.get("messageId"):
        raise InvalidInput("SES notification without mail.messageId")
    detail = message.get(detail_key) or {}
    headers = _header_map(mail)
    common = mail.get("commonHeaders") or {}
    valid: list[str] = []
    invalid: list[str] = []
    for raw in _recipients(kind, detail, mail):
        try:
            valid.append(normalise_email(raw))
        except InvalidEmail:
            invalid.append(str(raw)[:100])
    return SesEvent(
        kind=kind,
        message_id=str(mail["messageId"]),
        timestamp=str(detail.get("timestamp") or mail.get("timestamp") or ""),
        recipients=tuple(valid),
        sequence_id=headers.get(HEADER_SEQUENCE.lower()) or _tag(mail, TAG_SEQUENCE),
        broadcast_id=headers.get(HEADER_BROADCAST.lower()) or _tag(mail, TAG_BROADCAST),
        template=headers.get(HEADER_TEMPLATE.lower())
        or template_from_tag(_tag(mail, TAG_TEMPLATE)),
        step_id=headers.get(HEADER_STEP.lower()) or _tag(mail, TAG_STEP),
        subject=common.get("subject") if isinstance(common, Mapping) else None,
        bounce_type=detail.get("bounceType"),
        bounce_sub_type=detail.get("bounceSubType"),
        feedback_id=detail.get("feedbackId"),
        complaint_type=detail.get("complaintFeedbackType"),
        link=detail.get("link"),
        user_agent=detail.get("userAgent"),
        invalid_recipients=tuple(invalid),
    )
