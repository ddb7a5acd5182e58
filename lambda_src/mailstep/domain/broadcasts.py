"""Broadcasts: one email to an audience of any size, paced to the account's send rate.

A broadcast is created with a mandatory dry run: the state machine counts the audience
page by page (status ``counting`` → ``ready``). Starting it runs the same loop in send
mode: each ``resolve`` call queues one chunk of recipients and asks the state machine to
wait chunk ÷ rate seconds (``sending`` → ``sent``). ``broadcast-send`` consumes the queue:
it re-checks every recipient at send time, sends each address at most once and takes a
slot from the shared rate limiter before SES. Pure: every effect goes through ports.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from mailstep.domain.attribution import Attribution, broadcast_scope
from mailstep.domain.errors import InvalidInput, MailstepError
from mailstep.domain.lifecycle import ABNORMAL_ENDS, guarded_send
from mailstep.domain.models import Profile, Sender, Subscriber, parse_tags
from mailstep.domain.payloads import (
    one_of,
    optional_str,
    require_id,
    require_str,
    require_template_key,
)
from mailstep.domain.rendering import build_context, render_email
from mailstep.domain.services import Services, iso, skipped

# counting → ready → sending → sent, or cancelled / failed. A broadcast stays ``sending``
# after its last recipient is queued (``queued_at``) until every one of them was sent or
# skipped, so a cancel still drops what is left in the queue.
STATUSES = ("counting", "ready", "sending", "sent", "cancelled", "failed")
CANCELLABLE = ("counting", "ready", "sending")
MODES = {"count": "counting", "send": "sending"}  # the status each loop mode runs under

LOOP_SUFFIX = "--broadcast"  # the loop's state machine is <name_prefix>--broadcast
PACE_SECONDS = 60  # a send-mode chunk is one minute of sending at the configured rate
MAX_CHUNK = 5000
COUNT_CHUNK = 20000  # profiles examined per count call
MAX_PAGES_PER_CALL = 200  # keeps one call well inside the function's timeout
PAGE_LIMIT = 1000
# Standard workflows keep at most 25,000 history events; each iteration uses ~5.
MAX_ITERATIONS = 500


class BroadcastError(MailstepError):
    """The broadcast cannot do what was asked in its current state."""


@dataclass(frozen=True)
class Audience:
    """Who gets a broadcast: profiles with every tag and every attribute value given."""

    tags: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, data: object) -> Audience:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInput("audience must be an object with tags and/or attributes")
        unknown = set(data) - {"tags", "attributes"}
        if unknown:
            raise InvalidInput(f"audience has unknown keys: {', '.join(sorted(unknown))}")
        attributes = data.get("attributes") or {}
        if not isinstance(attributes, Mapping):
            raise InvalidInput("audience.attributes must be an object of name: value")
        for name, value in attributes.items():
            if isinstance(value, Mapping | list):
                raise InvalidInput(f"audience.attributes.{name} must be a plain value")
        return cls(tags=parse_tags(data.get("tags") or []), attributes=dict(attributes))

    def matches(self, profile: Profile) -> bool:
        """Tags and attribute values match (equality, types included: 1 is not "1")."""
        if not set(self.tags) <= set(profile.tags):
            return False
        return all(
            name in profile.attributes and _same(profile.attributes[name], value)
            for name, value in self.attributes.items()
        )

    def as_dict(self) -> dict[str, Any]:
        return {"tags": list(self.tags), "attributes": dict(self.attributes)}


def _same(stored: Any, wanted: Any) -> bool:
    # DynamoDB gives numbers back as Decimal; a bool is not a number here.
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    return bool(stored == wanted)


def reachable(profile: Profile, audience: Audience) -> bool:
    return not profile.unsubscribed and not profile.suppressed and audience.matches(profile)


@dataclass(frozen=True)
class Broadcast:
    broadcast_id: str
    template: str
    subject: str
    sender: Sender
    audience: Audience
    status: str
    created_at: str
    updated_at: str
    audience_size: int | None = None  # from the dry run
    counted: int = 0  # dry-run progress
    queued: int = 0  # send progress: recipients handed to the queue
    cursor: str | None = None
    generation: int = 0
    execution_arn: str | None = None
    started_at: str | None = None
    queued_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    counters: Mapping[str, int] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        """Queued recipients that were sent or skipped (a duplicate delivery is neither)."""
        return sum(
            n for name, n in self.counters.items() if name == "sent" or name.startswith("skipped_")
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "broadcast_id": self.broadcast_id,
            "status": self.status,
            "template": self.template,
            "subject": self.subject,
            "sender": {"from": self.sender.from_header, "reply_to": self.sender.reply_to},
            "audience": self.audience.as_dict(),
            "audience_size": self.audience_size,
            "counted": self.counted,
            "queued": self.queued,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "started_at": self.started_at,
            "queued_at": self.queued_at,
            "finished_at": self.finished_at,
            "counters": dict(self.counters),
            "processed": self.processed,
            "execution_arn": self.execution_arn,
            "error": self.error,
        }


@dataclass(frozen=True)
class AudiencePage:
    profiles: Sequence[Profile]
    examined: int
    cursor: str | None  # None: the audience is exhausted


class BroadcastStore(Protocol):
    def create(self, broadcast: Broadcast) -> bool:
        """Write a new broadcast; False when the id is taken."""
        ...

    def get(self, broadcast_id: str) -> Broadcast | None: ...
    def counters(self, broadcast_id: str) -> dict[str, int]:
        """The broadcast's live counters (sent, delivered, opened, …, skipped_*)."""
        ...

    def recent(self, limit: int, cursor: str | None) -> tuple[list[Broadcast], str | None]: ...
    def transition(
        self, broadcast_id: str, allowed: Sequence[str], status: str, now: str, **fields: Any
    ) -> Broadcast | None:
        """Move to ``status`` (setting ``fields``) only from one of ``allowed``; the
        updated broadcast, or None when it was in another state."""
        ...

    def advance(
        self,
        broadcast_id: str,
        status: str,
        cursor: str | None,
        new_cursor: str | None,
        *,
        progress: Mapping[str, int],
        now: str,
    ) -> bool:
        """Move the cursor from ``cursor`` to ``new_cursor`` and add ``progress``, only
        while the broadcast is in ``status`` at ``cursor`` (a retried call changes nothing)."""
        ...  # fmt: skip

    def audience_page(self, audience: Audience, cursor: str | None, limit: int) -> AudiencePage:
        """Up to ``limit`` candidate rows from ``cursor`` on, with their profiles."""
        ...


class RecipientQueue(Protocol):
    def enqueue(self, broadcast_id: str, emails: Sequence[str]) -> None:
        """Queue every address (partial failures retried) or raise."""
        ...


class LoopRunner(Protocol):
    def start(self, name: str, state: Mapping[str, Any]) -> str:
        """Start the broadcast state machine with ``state``; returns the execution ARN."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...


class SendSlots(Protocol):
    def acquire(self) -> None:
        """Block until sending one more email keeps within the configured rate."""
        ...


@dataclass(frozen=True)
class BroadcastServices:
    core: Services
    broadcasts: BroadcastStore
    queue: RecipientQueue
    runner: LoopRunner
    slots: SendSlots
    send_rate: float
    monotonic: Callable[[], float] = time.monotonic


# --------------------------------------------------------------------------- operator actions


def create(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> Broadcast:
    """Validate, render once with a sample subscriber, record, and start the dry run."""
    svc = bsvc.core
    broadcast_id = require_id(payload, "broadcast_id")
    template = require_template_key(payload)
    subject = require_str(payload, "subject")
    sender = Sender.from_payload(payload.get("sender"))
    audience = Audience.from_payload(payload.get("audience"))
    _render_sample(svc, template, subject)
    now = iso(svc.now())
    broadcast = Broadcast(
        broadcast_id, template, subject, sender, audience, "counting", now, now
    )  # fmt: skip
    if not bsvc.broadcasts.create(broadcast):
        raise BroadcastError(f"broadcast {broadcast_id!r} already exists: choose a new id")
    try:
        return _run(bsvc, broadcast, "count")
    except Exception as exc:  # the loop never started: say so on the record, then raise
        now = iso(svc.now())
        bsvc.broadcasts.transition(
            broadcast_id, ["counting"], "failed", now, finished_at=now,
            error=f"the dry run could not start: {type(exc).__name__}: {exc}"[:1000],
        )  # fmt: skip
        raise


def start(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> Broadcast:
    """Send a broadcast whose dry run has finished (status ``ready``)."""
    broadcast = _existing(bsvc, payload)
    expected = payload.get("expected_audience")
    if expected is not None and expected != broadcast.audience_size:
        raise BroadcastError(
            f"the dry run counted {broadcast.audience_size} recipients, not {expected}"
        )
    now = iso(bsvc.core.now())
    moved = bsvc.broadcasts.transition(
        broadcast.broadcast_id, ["ready"], "sending", now, started_at=now, cursor=None
    )
    if moved is None:
        raise BroadcastError(
            f"broadcast {broadcast.broadcast_id!r} is {broadcast.status}: only a broadcast "
            "whose dry run finished (ready) can be started"
        )
    try:
        return _run(bsvc, moved, "send")
    except Exception:  # the loop never started: the broadcast can be started again
        bsvc.broadcasts.transition(
            moved.broadcast_id, ["sending"], "ready", iso(bsvc.core.now()), started_at=None
        )
        raise


def cancel(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> Broadcast:
    """Stop the loop; emails already queued are dropped at send time."""
    broadcast = _existing(bsvc, payload)
    now = iso(bsvc.core.now())
    moved = bsvc.broadcasts.transition(
        broadcast.broadcast_id, CANCELLABLE, "cancelled", now, finished_at=now
    )
    if moved is None:
        raise BroadcastError(f"broadcast {broadcast.broadcast_id!r} is already {broadcast.status}")
    if moved.execution_arn:
        bsvc.runner.stop(moved.execution_arn, "Broadcast cancelled")
    return moved


def get(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> Broadcast:
    """The broadcast with its live counters; marks it sent once the queue is drained."""
    broadcast = _existing(bsvc, payload)
    broadcast = replace(broadcast, counters=bsvc.broadcasts.counters(broadcast.broadcast_id))
    if (
        broadcast.status == "sending"
        and broadcast.queued_at
        and broadcast.processed >= broadcast.queued
    ):
        now = iso(bsvc.core.now())
        moved = bsvc.broadcasts.transition(
            broadcast.broadcast_id, ["sending"], "sent", now, finished_at=now
        )
        if moved:
            broadcast = replace(moved, counters=broadcast.counters)
    return broadcast


def fail(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The state machine's catch path: record why the loop stopped."""
    broadcast_id = require_id(payload, "broadcast_id")
    error = payload.get("error")
    text = error if isinstance(error, str) else json.dumps(error, default=str)
    now = iso(bsvc.core.now())
    moved = bsvc.broadcasts.transition(
        broadcast_id, ["counting", "sending"], "failed", now, finished_at=now, error=text[:1000]
    )
    return {"status": "failed" if moved else "unchanged"}


def after_status_change(bsvc: BroadcastServices, event: Mapping[str, Any]) -> dict[str, Any]:
    """A broadcast loop that was aborted (by hand), timed out or failed outside its catch
    path: mark the broadcast failed, unless a cancel already ended it."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidInput("status-change event without detail")
    status = detail.get("status")
    if status not in ABNORMAL_ENDS:
        return skipped("not_an_abnormal_end", execution_status=status)
    try:
        run_input = json.loads(detail.get("input") or "{}")
    except ValueError:
        run_input = {}
    if not isinstance(run_input, Mapping) or not run_input.get("broadcast_id"):
        return skipped("no_broadcast_id", execution_status=status)
    error = f"the broadcast loop ended {status}: {detail.get('executionArn')}"
    return fail(bsvc, {"broadcast_id": run_input["broadcast_id"], "error": error})


def is_loop_execution(event: Mapping[str, Any]) -> bool:
    """Whether a Step Functions status-change event is about a broadcast loop."""
    detail = event.get("detail")
    arn = detail.get("stateMachineArn") if isinstance(detail, Mapping) else None
    return isinstance(arn, str) and arn.rsplit(":", 1)[-1].endswith(LOOP_SUFFIX)


def _existing(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> Broadcast:
    broadcast_id = require_id(payload, "broadcast_id")
    broadcast = bsvc.broadcasts.get(broadcast_id)
    if broadcast is None:
        raise BroadcastError(f"no broadcast {broadcast_id!r}")
    return broadcast


def _render_sample(svc: Services, template: str, subject: str) -> None:
    """Fail at creation, not at the first of a million sends."""
    context = build_context(
        email="sample@example.com",
        first_name="Sample",
        attributes={},
        display_names=svc.display_names(),
        unsubscribe_url="https://example.com/unsubscribe",
        current_year=svc.now().year,
    )
    render_email(svc.templates, template, subject, context)


def _run(
    bsvc: BroadcastServices, broadcast: Broadcast, mode: str, cursor: str | None = None
) -> Broadcast:
    generation = broadcast.generation + 1
    name = f"{broadcast.broadcast_id}-{mode}-{generation}"
    arn = bsvc.runner.start(
        name[:80],
        {"broadcast_id": broadcast.broadcast_id, "mode": mode, "cursor": cursor, "iteration": 0},
    )
    moved = bsvc.broadcasts.transition(
        broadcast.broadcast_id, [MODES[mode]], MODES[mode], iso(bsvc.core.now()),
        execution_arn=arn, generation=generation,
    )  # fmt: skip
    return moved or replace(broadcast, execution_arn=arn, generation=generation)


# --------------------------------------------------------------------------- the loop


def chunk_size(send_rate: float) -> int:
    return max(1, min(MAX_CHUNK, int(send_rate * PACE_SECONDS)))


def resolve(bsvc: BroadcastServices, payload: Mapping[str, Any]) -> dict[str, Any]:
    """One iteration of the state machine's loop: count or queue the next chunk."""
    broadcast_id = require_id(payload, "broadcast_id")
    mode = one_of(payload.get("mode"), MODES, "mode")
    cursor = optional_str(payload, "cursor")
    iteration = int(payload.get("iteration") or 0)
    state = {"broadcast_id": broadcast_id, "mode": mode, "cursor": cursor,
             "iteration": iteration + 1, "done": True, "wait_seconds": 0}  # fmt: skip
    broadcast = bsvc.broadcasts.get(broadcast_id)
    if broadcast is None or broadcast.status != MODES[mode]:
        return {**state, "stopped": broadcast.status if broadcast else "missing"}
    if mode == "send" and broadcast.queued_at:
        return {**state, "cursor": None}  # a retry of the last call: everyone is queued
    if broadcast.cursor != cursor:
        # A retry of a call that already advanced: carry on from where it got to.
        return {**state, "cursor": broadcast.cursor, "done": False}
    if iteration >= MAX_ITERATIONS:
        _run(bsvc, broadcast, mode, cursor)
        return {**state, "continued": True}

    started = bsvc.monotonic()
    budget = chunk_size(bsvc.send_rate) if mode == "send" else COUNT_CHUNK
    recipients: list[str] = []
    examined = pages = 0
    next_cursor = cursor
    while True:
        limit = min(PAGE_LIMIT, budget - (len(recipients) if mode == "send" else examined))
        page = bsvc.broadcasts.audience_page(broadcast.audience, next_cursor, limit)
        pages += 1
        examined += page.examined
        recipients += [p.email for p in page.profiles if reachable(p, broadcast.audience)]
        next_cursor = page.cursor
        spent = len(recipients) if mode == "send" else examined
        if next_cursor is None or spent >= budget or pages >= MAX_PAGES_PER_CALL:
            break

    if mode == "send" and recipients:
        bsvc.queue.enqueue(broadcast_id, recipients)
    now = iso(bsvc.core.now())
    progress = {"queued" if mode == "send" else "counted": len(recipients)}
    if not bsvc.broadcasts.advance(
        broadcast_id, MODES[mode], cursor, next_cursor, progress=progress, now=now
    ):
        latest = bsvc.broadcasts.get(broadcast_id)
        return {**state, "cursor": latest.cursor if latest else None,
                "done": latest is None or latest.status != MODES[mode]}  # fmt: skip
    if next_cursor is None:
        # The conditional advance proves nobody moved the broadcast since it was read.
        _finish(bsvc, broadcast, mode, now, counted=broadcast.counted + len(recipients))
        return {**state, "cursor": None}
    wait = 0
    if mode == "send":
        wait = max(0, math.ceil(len(recipients) / bsvc.send_rate - (bsvc.monotonic() - started)))
    return {**state, "cursor": next_cursor, "done": False, "wait_seconds": wait}


def _finish(
    bsvc: BroadcastServices, broadcast: Broadcast, mode: str, now: str, *, counted: int
) -> None:
    if mode == "count":
        bsvc.broadcasts.transition(
            broadcast.broadcast_id, ["counting"], "ready", now, audience_size=counted, cursor=None
        )
    else:
        bsvc.broadcasts.transition(
            broadcast.broadcast_id, ["sending"], "sending", now, queued_at=now
        )


# --------------------------------------------------------------------------- one recipient


def send_one(bsvc: BroadcastServices, broadcast: Broadcast | None, email: str) -> dict[str, Any]:
    """Send a broadcast to one queued recipient, unless they can no longer receive it."""
    svc = bsvc.core
    if broadcast is None:
        return skipped("unknown_broadcast")
    if broadcast.status not in ("sending", "sent"):
        return skipped(f"broadcast_{broadcast.status}")
    attribution = Attribution(broadcast.template, broadcast_id=broadcast.broadcast_id)
    status = svc.store.get_status(email)  # read once: the audience check and the send's
    if status.profile is None or not broadcast.audience.matches(status.profile):
        result = skipped("left_audience")
    else:
        result = guarded_send(
            svc,
            subscriber=Subscriber(email=email),
            sender=broadcast.sender,
            attribution=attribution,
            subject=broadcast.subject,
            variant=None,
            transactional=False,
            claim=(f"broadcast:{broadcast.broadcast_id}", email),
            before_send=bsvc.slots.acquire,
            status=status,
        )
    reason = result.get("reason")
    if result["status"] == "skipped" and reason != "already_sent":
        svc.store.add_counts(
            broadcast_scope(broadcast.broadcast_id),
            None,
            {f"skipped_{reason}": 1},
            iso(svc.now()),
        )
    return result
