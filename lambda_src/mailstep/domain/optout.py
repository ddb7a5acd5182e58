"""Opting out: unsubscribes (marketing only) and suppressions (bounces, complaints)."""

from __future__ import annotations

from dataclasses import dataclass

from mailstep.domain.attribution import stats_scope
from mailstep.domain.models import Suppression
from mailstep.domain.services import Services, iso, stop_all_executions
from mailstep.domain.ses_events import SesEvent
from mailstep.domain.tokens import verify_token


@dataclass(frozen=True)
class UnsubscribeResult:
    email: str
    known: bool
    stopped: int


def unsubscribe_with_token(svc: Services, token: str | None) -> UnsubscribeResult:
    """Verify the token, mark the profile unsubscribed and stop marketing runs.

    Raises InvalidToken. An unknown address changes nothing (no stub profile).
    Idempotent: a second call finds nothing left to stop.
    """
    now = svc.now()
    claims = verify_token(svc.settings().secret, token, int(now.timestamp()))
    return unsubscribe(svc, claims.email)


def unsubscribe(
    svc: Services, email: str, cause: str = "Subscriber unsubscribed"
) -> UnsubscribeResult:
    now = iso(svc.now())
    change = svc.store.set_unsubscribed(email, now)
    known = change != "unknown"
    if change == "unsubscribed":
        _count_against_last_email(svc, email, now)
    stopped = 0
    if known:
        stopped = stop_all_executions(
            svc.store, svc.stopper, email, keep_transactional=True, cause=cause
        )
        svc.publisher.publish("subscriber.unsubscribed", {"email": email, "stopped_runs": stopped})
    return UnsubscribeResult(email=email, known=known, stopped=stopped)


def _count_against_last_email(svc: Services, email: str, now: str) -> None:
    """Credit the unsubscribe to the sequence step or broadcast of the latest email: the
    one the subscriber most likely acted on (the link itself carries only the address)."""
    last = svc.store.last_send(email)
    scope = last and stats_scope(last.sequence_id, last.broadcast_id)
    if last and scope:
        svc.store.add_counts(scope, last.step_id, {"unsubscribed": 1}, now)


@dataclass(frozen=True)
class SuppressionOutcome:
    email: str
    action: str  # "suppressed" | "recorded"
    stopped: int = 0


def handle_bounce_or_complaint(svc: Services, event: SesEvent) -> list[SuppressionOutcome]:
    """Permanent bounces and complaints suppress and stop everything; the rest is recorded."""
    if event.kind not in ("bounce", "complaint"):
        return []
    if event.kind == "bounce" and not event.permanent_bounce:
        return [SuppressionOutcome(email, "recorded") for email in event.recipients]
    outcomes = []
    now = iso(svc.now())
    for email in event.recipients:
        svc.store.suppress(
            email,
            Suppression(
                reason=event.kind,
                detail=event.bounce_sub_type if event.kind == "bounce" else event.complaint_type,
                feedback_id=event.feedback_id,
                recorded_at=now,
            ),
        )
        stopped = stop_all_executions(
            svc.store, svc.stopper, email, keep_transactional=False,
            cause=f"Subscriber suppressed after a {event.kind}",
        )  # fmt: skip
        svc.publisher.publish(
            "subscriber.suppressed", {"email": email, "reason": event.kind, "stopped_runs": stopped}
        )
        outcomes.append(SuppressionOutcome(email, "suppressed", stopped))
    return outcomes
