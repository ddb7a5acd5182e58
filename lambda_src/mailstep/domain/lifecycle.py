"""Use cases of a sequence run: register, send, fire-and-forget, complete, clean up.

Pure: every effect goes through the ports in :class:`Services`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mailstep.domain.attribution import Attribution
from mailstep.domain.errors import InvalidInput, MailstepError
from mailstep.domain.models import (
    Execution,
    OutgoingEmail,
    Profile,
    Sender,
    SendRecord,
    Subscriber,
    SubscriberStatus,
)
from mailstep.domain.payloads import (
    one_of,
    optional_bool,
    optional_str,
    require_id,
    require_str,
    require_template_key,
)
from mailstep.domain.rendering import build_context, render_email
from mailstep.domain.services import ConfigurationError, RuntimeSettings, Services, iso, skipped
from mailstep.domain.tokens import issue_token

REENTRY_POLICIES = ("ignore_while_active", "replace", "once")
DEDUPE_TTL_SECONDS = 7 * 86400


# --------------------------------------------------------------------------- register


def register(svc: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Start tracking a run: upsert the profile, apply the guards and the re-entry policy."""
    sequence_id = require_id(payload, "sequence_id")
    execution_arn = require_str(payload, "execution_arn")
    transactional = optional_bool(payload, "transactional")
    reentry = one_of(
        optional_str(payload, "reentry") or "ignore_while_active", REENTRY_POLICIES, "reentry"
    )
    subscriber = Subscriber.from_payload(payload.get("subscriber"))
    event_id = _event_id(payload)
    now = svc.now()
    email = subscriber.email

    if event_id and not svc.store.claim_event(
        f"{sequence_id}#{event_id}", execution_arn, int(now.timestamp()) + DEDUPE_TTL_SECONDS
    ):
        return skipped("duplicate_event")

    svc.store.upsert_profile(subscriber, iso(now))
    status = svc.store.get_status(email)
    if status.suppressed:
        return skipped("suppressed")
    if status.unsubscribed and not transactional:
        return skipped("unsubscribed")

    existing = svc.store.get_execution(email, sequence_id)
    if existing and existing.execution_arn == execution_arn:
        return {"status": "registered"}  # a retry of this very step
    if reentry == "once" and svc.store.was_enrolled(email, sequence_id):
        return skipped("already_enrolled")
    if existing and reentry != "replace":
        return skipped("already_active", active_execution=existing.execution_arn)
    if existing:
        svc.stopper.stop(existing.execution_arn, "Replaced by a new run of the same sequence")

    execution = Execution(sequence_id, execution_arn, iso(now), transactional)
    if not svc.store.put_execution(email, execution, replaces=existing):
        return skipped("already_active")  # lost a race with a concurrent run
    svc.store.mark_enrolled(email, sequence_id, iso(now))
    _publish(svc, "sequence.started", {"email": email, "sequence_id": sequence_id})
    return {"status": "registered"}


# --------------------------------------------------------------------------- send


def pick_variant(variants: list[Mapping[str, Any]], email: str, sequence_id: str) -> int:
    """Deterministic A/B split: the same subscriber gets the same arm in a sequence."""
    digest = hashlib.sha256(f"{email}:{sequence_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % len(variants)


def _template_and_subject(
    payload: Mapping[str, Any], email: str, sequence_id: str
) -> tuple[str, str, str | None]:
    variants = payload.get("variants")
    if variants is None:
        return require_template_key(payload), require_str(payload, "subject"), None
    if not isinstance(variants, list) or len(variants) < 2:
        raise InvalidInput("variants must be a list of at least two {template, subject} objects")
    for variant in variants:
        if not isinstance(variant, Mapping):
            raise InvalidInput("each variant must be an object with template and subject")
    index = pick_variant(variants, email, sequence_id)
    chosen = variants[index]
    name = optional_str(chosen, "name") or chr(ord("a") + index)
    return require_template_key(chosen), require_str(chosen, "subject"), name


def send(svc: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    """One step of a run. Never sends the same step of the same execution twice."""
    sequence_id = require_id(payload, "sequence_id")
    step_id = require_id(payload, "step_id")
    execution_arn = require_str(payload, "execution_arn")
    transactional = optional_bool(payload, "transactional")
    subscriber = Subscriber.from_payload(payload.get("subscriber"))
    sender = Sender.from_payload(payload.get("sender"))
    template, subject, variant = _template_and_subject(payload, subscriber.email, sequence_id)
    return guarded_send(
        svc,
        subscriber=subscriber,
        sender=sender,
        attribution=Attribution(template, sequence_id=sequence_id, step_id=step_id),
        subject=subject,
        variant=variant,
        transactional=transactional,
        claim=(execution_arn, step_id),
    )


def fire_and_forget(svc: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A single email for an event, tracked under its sequence; upserts the profile first."""
    sequence_id = require_id(payload, "sequence_id")
    transactional = optional_bool(payload, "transactional")
    subscriber = Subscriber.from_payload(payload.get("subscriber"))
    sender = Sender.from_payload(payload.get("sender"))
    template = require_template_key(payload)
    subject = require_str(payload, "subject")
    event_id = _event_id(payload)
    step_id = optional_str(payload, "step_id") or template.rsplit("/", 1)[-1]
    svc.store.upsert_profile(subscriber, iso(svc.now()))
    return guarded_send(
        svc,
        subscriber=subscriber,
        sender=sender,
        attribution=Attribution(template, sequence_id=sequence_id, step_id=step_id),
        subject=subject,
        variant=None,
        transactional=transactional,
        claim=(f"event:{sequence_id}:{event_id}", template) if event_id else None,
    )


def guarded_send(
    svc: Services,
    *,
    subscriber: Subscriber,
    sender: Sender,
    attribution: Attribution,
    subject: str,
    variant: str | None,
    transactional: bool,
    claim: tuple[str, str] | None,
    before_send: Callable[[], None] | None = None,
    status: SubscriberStatus | None = None,
) -> dict[str, Any]:
    """Send one email unless the address opted out or the claim was already taken.

    ``before_send`` runs after every check, just before SES (broadcasts take a slot from
    the rate limiter there, so skipped recipients cost no send capacity). ``status`` is
    the subscriber's status when the caller has just read it."""
    email = subscriber.email
    template = attribution.template
    status = status or svc.store.get_status(email)
    if status.suppressed:
        return skipped("suppressed", template=template)
    if status.unsubscribed and not transactional:
        return skipped("unsubscribed", template=template)
    now = svc.now()
    epoch = int(now.timestamp())
    if claim and not svc.store.claim_send(*claim, epoch, epoch + DEDUPE_TTL_SECONDS):
        return skipped("already_sent", template=template)
    try:
        settings = svc.settings()
        outgoing = _compose(
            svc,
            settings,
            subscriber=subscriber,
            profile=status.profile,
            sender=sender,
            attribution=attribution,
            subject=subject,
            transactional=transactional,
            now=now,
        )
        if before_send:
            before_send()
        message_id = svc.mailer.send(outgoing)
    except Exception:
        if claim:
            svc.store.release_send(*claim)  # nothing went out: let the retry send it
        raise
    # SES has the email now: a failure from here on must not release the claim, or the
    # retry would send it a second time.
    if claim:
        svc.store.complete_send(*claim, message_id)
    ttl = int(now.timestamp()) + settings.data_ttl_days * 86400 if settings.data_ttl_days else None
    record = SendRecord(
        attribution.sequence_id, template, outgoing.subject, message_id, iso(now),
        attribution.step_id, attribution.broadcast_id,
    )  # fmt: skip
    svc.store.record_send(email, record, ttl)
    if attribution.scope:
        svc.store.add_counts(attribution.scope, attribution.step_id, {"sent": 1}, iso(now))
    _publish(svc, "email.sent", {
        "email": email, **attribution.detail(), "message_id": message_id,
    })  # fmt: skip
    result: dict[str, Any] = {"status": "sent", "message_id": message_id, "template": template}
    if variant:
        result["variant"] = variant
    return result


def unsubscribe_link(base_url: str, token: str) -> str:
    parts = urlsplit(base_url)
    query = [*parse_qsl(parts.query), ("token", token)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def _compose(
    svc: Services,
    settings: RuntimeSettings,
    *,
    subscriber: Subscriber,
    profile: Profile | None,
    sender: Sender,
    attribution: Attribution,
    subject: str,
    transactional: bool,
    now: datetime,
) -> OutgoingEmail:
    email = subscriber.email
    if not settings.unsubscribe_url:
        raise ConfigurationError("unsubscribe_url is not configured")
    token = issue_token(
        settings.secret, email, int(now.timestamp()), settings.token_ttl_days * 86400
    )
    unsubscribe_url = unsubscribe_link(settings.unsubscribe_url, token)
    attributes = dict(profile.attributes) if profile else dict(subscriber.attributes)
    context = build_context(
        email=email,
        first_name=(profile.first_name if profile else None) or subscriber.first_name,
        attributes=attributes,
        display_names=svc.display_names(),
        unsubscribe_url=unsubscribe_url,
        current_year=now.year,
    )
    rendered = render_email(svc.templates, attribution.template, subject, context)
    headers = attribution.headers()
    if not transactional:
        headers += [
            ("List-Unsubscribe", f"<{unsubscribe_url}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
    return OutgoingEmail(
        to=email,
        from_header=sender.from_header,
        reply_to=sender.reply_to,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        headers=tuple(headers),
        tags=attribution.tags(),
    )


# --------------------------------------------------------------------------- complete / cleanup


def complete(svc: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    sequence_id = require_id(payload, "sequence_id")
    execution_arn = require_str(payload, "execution_arn")
    email = _subscriber_email(payload)
    removed = svc.store.delete_execution(email, sequence_id, execution_arn)
    if removed:
        svc.store.add_counts(sequence_id, None, {"completed": 1}, iso(svc.now()))
        _publish(svc, "sequence.completed", {"email": email, "sequence_id": sequence_id})
    return {"status": "completed", "removed": removed}


def exit_sequence(svc: Services, payload: Mapping[str, Any]) -> dict[str, Any]:
    """An ``exit_on`` event: stop the subscriber's active run of this sequence at once."""
    sequence_id = require_id(payload, "sequence_id")
    email = _subscriber_email(payload)
    execution = svc.store.get_execution(email, sequence_id)
    if execution is None:
        return skipped("not_active")
    svc.stopper.stop(execution.execution_arn, "Exit event received")
    if svc.store.delete_execution(email, sequence_id, execution.execution_arn):
        svc.store.add_counts(sequence_id, None, {"exited": 1}, iso(svc.now()))
        _publish(svc, "sequence.exited", {"email": email, "sequence_id": sequence_id})
    return {"status": "exited"}


def _event_id(payload: Mapping[str, Any]) -> str | None:
    """The event id (or the app's dedupe key): a string, or a number an app used as one."""
    value = payload.get("event_id")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return optional_str(payload, "event_id")


def _subscriber_email(payload: Mapping[str, Any]) -> str:
    subscriber = payload.get("subscriber")
    if not isinstance(subscriber, Mapping):
        raise InvalidInput("subscriber is missing")
    return Subscriber.from_payload({"email": subscriber.get("email")}).email


STATUS_CHANGE = "Step Functions Execution Status Change"
ABNORMAL_ENDS = ("FAILED", "TIMED_OUT", "ABORTED")


def cleanup_after_status_change(svc: Services, event: Mapping[str, Any]) -> dict[str, Any]:
    """Remove the rows of a run that failed, timed out or was aborted (DESIGN 3)."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidInput("status-change event without detail")
    status = detail.get("status")
    execution_arn = require_str(detail, "executionArn")
    if status not in ABNORMAL_ENDS:
        return skipped("not_an_abnormal_end", execution_status=status)
    removed = 0
    for email, sequence_id in _runs_of(svc, execution_arn, detail.get("input")):
        if svc.store.delete_execution(email, sequence_id, execution_arn):
            removed += 1
            svc.store.add_counts(sequence_id, None, {status.lower(): 1}, iso(svc.now()))
    return {"status": "cleaned", "removed": removed, "execution_status": status}


def _runs_of(svc: Services, execution_arn: str, raw_input: Any) -> list[tuple[str, str]]:
    """(email, sequence id) of the rows an execution owns.

    From the run input when the event carries it; otherwise (``inputDetails.included``
    false) from the state machine's name, ``<name_prefix>-<sequence_id>``: each hyphen
    suffix of it is a candidate sequence id whose subscriber rows are searched for the ARN.
    """
    try:
        run_input: Any = json.loads(raw_input) if isinstance(raw_input, str) else raw_input
        email = Subscriber.from_payload({"email": run_input["subscriber"]["email"]}).email
    except (TypeError, KeyError, ValueError, MailstepError):
        parts = execution_arn.split(":")
        machine = parts[6] if len(parts) > 7 else ""
        candidates = [machine.split("-", i)[-1] for i in range(1, machine.count("-") + 1)]
        for sequence_id in candidates:
            email_found = svc.store.find_run(sequence_id, execution_arn)
            if email_found:
                return [(email_found, sequence_id)]
        return []
    return [
        (email, run.sequence_id)
        for run in svc.store.list_executions(email)
        if run.execution_arn == execution_arn
    ]


def _publish(svc: Services, detail_type: str, detail: Mapping[str, Any]) -> None:
    svc.publisher.publish(detail_type, detail)
