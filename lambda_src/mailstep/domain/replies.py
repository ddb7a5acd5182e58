"""Replies: an SES inbound notification (receipt rule → SNS, UTF-8 encoding) becomes a
``reply`` event, a ``replied`` counter and an ``email.replied`` event; optionally the
message is forwarded to a human.

Correlation (mailshot defect C): SES gives outgoing mail the Message-ID
``<{ses-message-id}@{region}.amazonses.com>`` (or ``@email.amazonses.com``), so the part
before ``@`` of an id in ``In-Reply-To``/``References`` is the SES message id of one of
the sender's send log rows.
"""

from __future__ import annotations

import email
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses
from html.parser import HTMLParser
from typing import Any

from mailstep.domain.attribution import Attribution
from mailstep.domain.emails import normalise_email
from mailstep.domain.engagement import EVENTS_TTL_DAYS, event_item
from mailstep.domain.errors import InvalidEmail, InvalidInput
from mailstep.domain.headers import format_mailbox, header_safe
from mailstep.domain.ports import EngagementStore, EventPublisher, RawMailer, SubscriberStore
from mailstep.domain.ses_events import SesEvent

MAX_BODY_CHARS = 10_000  # what the events table keeps of a reply's text
MAX_REFERENCES = 10  # send-log lookups per reply: the most recent ids are the likely ones
_MESSAGE_ID = re.compile(r"<([^<>@\s]+)@([^<>\s]+)>")
# Headers a forwarded copy must not carry (mailshot defect P): signatures that no longer
# verify, envelope and identity headers SES sets or rejects, and SES's own annotations.
DROPPED_ON_FORWARD = frozenset(
    {"dkim-signature", "return-path", "sender", "reply-to", "message-id", "from",
     "x-original-from"}
)  # fmt: skip
DROPPED_PREFIXES = ("x-ses-",)


@dataclass(frozen=True)
class InboundReply:
    message_id: str  # SES's id of the inbound message
    timestamp: str
    sender: str  # normalised address
    subject: str
    text: str
    referenced_ids: tuple[str, ...]  # SES message ids it answers, most recent first
    recipients: tuple[str, ...]  # the addresses it was received for
    content: str  # the raw MIME message


def _is_ses_domain(domain: str) -> bool:
    domain = domain.lower()
    return domain == "amazonses.com" or domain.endswith(".amazonses.com")


def referenced_ses_ids(in_reply_to: str, references: str) -> tuple[str, ...]:
    """SES message ids a reply refers to: In-Reply-To first, then References from the
    end (the most recent message last), without duplicates or non-SES ids."""
    ordered = [*_MESSAGE_ID.findall(in_reply_to), *reversed(_MESSAGE_ID.findall(references))]
    found: list[str] = []
    for local, domain in ordered:
        if _is_ses_domain(domain) and local not in found:
            found.append(local)
    return tuple(found[:MAX_REFERENCES])


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _body_text(message: EmailMessage) -> str:
    """text/plain, else the HTML as text; "" when neither decodes (an unknown charset
    must not make the reply fail on every delivery)."""
    for subtype in ("plain", "html"):
        part = message.get_body(preferencelist=(subtype,))
        if part is None:
            continue
        try:
            content = str(part.get_content())
        except (LookupError, ValueError, KeyError):
            continue
        return content.strip() if subtype == "plain" else html_to_text(content)
    return ""


def _raw_header(message: EmailMessage, name: str) -> str:
    """A header's text as received (not decoded: a hostile encoded word can decode to CR
    LF, which the parsed header objects refuse with an exception)."""
    values = [str(v) for k, v in message.raw_items() if k.lower() == name.lower()]
    return " ".join(" ".join(v.split()) for v in values)


def _header(message: EmailMessage, name: str) -> str:
    """A header decoded, or as received when it does not decode."""
    try:
        return " ".join(str(v) for v in message.get_all(name, []))
    except (ValueError, IndexError, TypeError):  # a malformed or hostile encoded word
        return _raw_header(message, name)


def _sender(message: EmailMessage, mail: Mapping[str, Any]) -> str | None:
    candidates = [addr for _, addr in getaddresses([_raw_header(message, "From")])]
    candidates.append(str(mail.get("source") or ""))
    for candidate in candidates:
        try:
            return normalise_email(candidate)
        except InvalidEmail:
            continue
    return None


def parse_inbound(notification: Mapping[str, Any]) -> InboundReply | None:
    """The reply in an SES ``Received`` notification; None for any other type.
    Raises InvalidInput when a Received notification lacks what the rule must send."""
    if notification.get("notificationType") != "Received":
        return None
    mail = notification.get("mail")
    content = notification.get("content")
    if not isinstance(mail, Mapping) or not mail.get("messageId"):
        raise InvalidInput("Received notification without mail.messageId")
    if not isinstance(content, str) or not content:
        raise InvalidInput("Received notification without content (use an SNS action)")
    receipt = notification.get("receipt") or {}
    message = email.message_from_string(content, policy=policy.default)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    sender = _sender(message, mail)
    recipients = [str(r) for r in receipt.get("recipients") or mail.get("destination") or []]
    return InboundReply(
        message_id=str(mail["messageId"]),
        timestamp=str(receipt.get("timestamp") or mail.get("timestamp") or ""),
        sender=sender or "",
        subject=header_safe(
            _header(message, "Subject")
            or str((mail.get("commonHeaders") or {}).get("subject") or "")
        ),
        text=_body_text(message)[:MAX_BODY_CHARS],
        referenced_ids=referenced_ses_ids(
            _header(message, "In-Reply-To"), _header(message, "References")
        ),
        recipients=tuple(recipients),
        content=content,
    )


def correlate(store: SubscriberStore, reply: InboundReply) -> dict[str, Any] | None:
    """The sender's send log row that the reply answers, if any."""
    for ses_id in reply.referenced_ids:
        found = store.find_send(reply.sender, ses_id)
        if found:
            return found
    return None


def record_reply(
    events: EngagementStore,
    store: SubscriberStore,
    publisher: EventPublisher,
    reply: InboundReply,
    *,
    now_epoch: int,
    now_iso: str,
    ttl_days: int = EVENTS_TTL_DAYS,
) -> dict[str, Any]:
    """Record a reply from a known subscriber once (SNS may deliver it again)."""
    if not reply.sender:
        return {"status": "skipped", "reason": "no_valid_sender"}
    if store.get_profile(reply.sender) is None:
        return {"status": "skipped", "reason": "unknown_sender"}  # no stub profiles
    sent = correlate(store, reply) or {}
    answered = Attribution(
        template=sent.get("template_key") or "",
        sequence_id=sent.get("sequence_id") or None,
        step_id=sent.get("step_id") or None,
        broadcast_id=sent.get("broadcast_id") or None,
    )
    event = SesEvent(
        kind="reply",
        message_id=reply.message_id,
        timestamp=reply.timestamp or now_iso,
        recipients=(reply.sender,),
        sequence_id=answered.sequence_id,
        broadcast_id=answered.broadcast_id,
        template=answered.template or None,
        step_id=answered.step_id,
        subject=reply.subject,
    )
    item = event_item(event, reply.sender, now_epoch + ttl_days * 86400)
    extra = {"body": reply.text, "in_reply_to": sent.get("message_id")}
    item.update({k: v for k, v in extra.items() if v})
    if not events.put_event(item):
        return {"status": "duplicate", "correlated": bool(sent)}
    if answered.scope:
        store.add_counts(answered.scope, answered.step_id, {"replied": 1}, now_iso)
    detail: dict[str, Any] = {"email": reply.sender, "message_id": sent.get("message_id")}
    detail.update(answered.detail())
    detail["subject"] = reply.subject
    publisher.publish("email.replied", detail)
    return {"status": "recorded", "correlated": bool(sent)}


# --------------------------------------------------------------------------- forwarding


def forwarded_message(reply: InboundReply, receiving_address: str) -> bytes:
    """The raw message to forward: From becomes ``"Reply from <sender>" <receiving>``
    (our verified address: SES sends only from identities we own), Reply-To the sender,
    and headers SES would reject or that would no longer verify are dropped."""
    message = email.message_from_string(reply.content, policy=policy.default)
    for name in {n.lower() for n in message}:
        if name in DROPPED_ON_FORWARD or name.startswith(DROPPED_PREFIXES):
            del message[name]
    sender = normalise_email(reply.sender)
    receiving = normalise_email(receiving_address)
    message["From"] = format_mailbox(formataddr((f"Reply from {sender}", receiving)))
    message["Reply-To"] = sender
    message["X-Original-From"] = sender
    return message.as_bytes(policy=policy.SMTP)


def forward_reply(mailer: RawMailer, reply: InboundReply, forward_to: str) -> dict[str, Any]:
    """Forward the reply; raises when it cannot (the caller logs it and carries on)."""
    if not reply.recipients:
        raise InvalidInput("the reply names no receiving address to forward from")
    receiving = normalise_email(reply.recipients[0])
    raw = forwarded_message(reply, receiving)
    message_id = mailer.send_raw(receiving, normalise_email(forward_to), raw)
    return {"forwarded": True, "forward_message_id": message_id}
