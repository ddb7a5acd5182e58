"""In-memory fakes of the domain's ports (``mailstep.domain.ports``), for unit tests.

``FakeStore`` follows the same rules as the DynamoDB adapter: upserts merge attributes
and never clear ``unsubscribed``/``suppressed``; executions are written and deleted as a
pair, conditionally on the execution ARN; claims are first-writer-wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mailstep.domain.models import (
    Execution,
    OutgoingEmail,
    Profile,
    SendRecord,
    Subscriber,
    SubscriberStatus,
    Suppression,
    UnsubscribeChange,
)
from mailstep.domain.services import STALE_CLAIM_SECONDS, RuntimeSettings, Services

SECRET = b"unit-test-secret-0123456789"
UNSUBSCRIBE_URL = "https://unsub.example.test/"
NOW = datetime(2025, 3, 10, 9, 0, 0, tzinfo=UTC)


class StoreFailure(Exception):
    """What a fake raises when a test asks one of its methods to fail."""


@dataclass
class FakeStore:
    profiles: dict[str, Profile] = field(default_factory=dict)
    suppressions: dict[str, Suppression] = field(default_factory=dict)
    executions: dict[tuple[str, str], Execution] = field(default_factory=dict)
    enrolled: set[tuple[str, str]] = field(default_factory=set)
    event_claims: dict[str, str] = field(default_factory=dict)
    send_claims: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    send_log: list[tuple[str, SendRecord, int | None]] = field(default_factory=list)
    templates_sent: set[tuple[str, str]] = field(default_factory=set)
    counts: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    # message id -> attributes a send log row carries beyond SendRecord (broadcast_id)
    send_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    # method name -> exception to raise (once) when it is called
    fail_next: dict[str, Exception] = field(default_factory=dict)

    def _enter(self, method: str) -> None:
        self.calls[method] += 1
        if method in self.fail_next:
            raise self.fail_next.pop(method)

    # ------------------------------------------------------------------ profiles

    def upsert_profile(self, subscriber: Subscriber, now: str) -> Profile:
        self._enter("upsert_profile")
        old = self.profiles.get(subscriber.email)
        if old is None:
            profile = Profile(
                email=subscriber.email,
                first_name=subscriber.first_name,
                attributes=dict(subscriber.attributes),
                tags=subscriber.tags or (),
                unsubscribed=False,
                suppressed=False,
                created_at=now,
                updated_at=now,
            )
        else:
            profile = replace(
                old,
                first_name=subscriber.first_name or old.first_name,
                attributes={**old.attributes, **subscriber.attributes},
                tags=old.tags if subscriber.tags is None else subscriber.tags,
                updated_at=now,
            )
        self.profiles[subscriber.email] = profile
        return profile

    def change_tags(
        self, email: str, change: Callable[[tuple[str, ...]], tuple[str, ...]], now: str
    ) -> tuple[str, ...]:
        self._enter("change_tags")
        profile = self.profiles[email]
        tags = tuple(sorted(set(change(profile.tags))))
        self.profiles[email] = replace(profile, tags=tags, updated_at=now)
        return tags

    def get_profile(self, email: str) -> Profile | None:
        self._enter("get_profile")
        return self.profiles.get(email)

    def get_status(self, email: str) -> SubscriberStatus:
        self._enter("get_status")
        return SubscriberStatus(self.profiles.get(email), self.suppressions.get(email))

    def set_unsubscribed(self, email: str, now: str) -> UnsubscribeChange:
        self._enter("set_unsubscribed")
        profile = self.profiles.get(email)
        if profile is None:
            return "unknown"
        if profile.unsubscribed:
            return "already"
        self.profiles[email] = replace(profile, unsubscribed=True, updated_at=now)
        return "unsubscribed"

    def suppress(self, email: str, suppression: Suppression) -> None:
        self._enter("suppress")
        self.suppressions[email] = suppression
        if email in self.profiles:
            self.profiles[email] = replace(self.profiles[email], suppressed=True)

    # ------------------------------------------------------------------ executions

    def get_execution(self, email: str, sequence_id: str) -> Execution | None:
        self._enter("get_execution")
        return self.executions.get((email, sequence_id))

    def list_executions(self, email: str) -> list[Execution]:
        self._enter("list_executions")
        return [e for (owner, _), e in sorted(self.executions.items()) if owner == email]

    def find_run(self, sequence_id: str, execution_arn: str) -> str | None:
        self._enter("find_run")
        return next(
            (
                owner
                for (owner, seq), run in sorted(self.executions.items())
                if seq == sequence_id and run.execution_arn == execution_arn
            ),
            None,
        )

    def put_execution(self, email: str, execution: Execution, replaces: Execution | None) -> bool:
        self._enter("put_execution")
        current = self.executions.get((email, execution.sequence_id))
        current_arn = current.execution_arn if current else None
        if current_arn != (replaces.execution_arn if replaces else None):
            return False  # someone else's run is there (or the one to replace is gone)
        self.executions[(email, execution.sequence_id)] = execution
        return True

    def delete_execution(self, email: str, sequence_id: str, execution_arn: str | None) -> bool:
        self._enter("delete_execution")
        current = self.executions.get((email, sequence_id))
        if current is None or (execution_arn and current.execution_arn != execution_arn):
            return False
        del self.executions[(email, sequence_id)]
        return True

    def mark_enrolled(self, email: str, sequence_id: str, now: str) -> None:
        self._enter("mark_enrolled")
        self.enrolled.add((email, sequence_id))

    def was_enrolled(self, email: str, sequence_id: str) -> bool:
        self._enter("was_enrolled")
        return (email, sequence_id) in self.enrolled

    # ------------------------------------------------------------------ idempotency

    def claim_event(self, event_key: str, owner: str, expires_at: int) -> bool:
        self._enter("claim_event")
        return self.event_claims.setdefault(event_key, owner) == owner

    def claim_send(self, execution_arn: str, step_id: str, now: int, expires_at: int) -> bool:
        self._enter("claim_send")
        claim = self.send_claims.get((execution_arn, step_id))
        if claim and not (
            claim["state"] == "pending" and claim["claimed_at"] < now - STALE_CLAIM_SECONDS
        ):
            return False
        self.send_claims[(execution_arn, step_id)] = {"state": "pending", "claimed_at": now}
        return True

    def complete_send(self, execution_arn: str, step_id: str, message_id: str) -> None:
        self._enter("complete_send")
        self.send_claims[(execution_arn, step_id)] = {"state": "sent", "message_id": message_id}

    def release_send(self, execution_arn: str, step_id: str) -> None:
        self._enter("release_send")
        claim = self.send_claims.get((execution_arn, step_id))
        if claim and claim["state"] == "pending":
            del self.send_claims[(execution_arn, step_id)]

    def record_send(self, email: str, record: SendRecord, expires_at: int | None) -> None:
        self._enter("record_send")
        self.send_log.append((email, record, expires_at))
        self.templates_sent.add((email, record.template))

    def has_been_sent(self, email: str, template: str) -> bool:
        self._enter("has_been_sent")
        return (email, template) in self.templates_sent

    def last_send(self, email: str) -> SendRecord | None:
        self._enter("last_send")
        mine = [record for address, record, _ in self.send_log if address == email]
        return max(mine, key=lambda record: record.sent_at) if mine else None

    def add_counts(
        self, scope: str, step_id: str | None, counts: Mapping[str, int], now: str
    ) -> None:
        self._enter("add_counts")
        for sk in ["COUNTERS", *([f"STEP#{step_id}"] if step_id else [])]:
            self.counts.setdefault((scope, sk), Counter()).update(counts)

    def find_send(self, email: str, message_id: str) -> dict[str, Any] | None:
        self._enter("find_send")
        for owner, record, _ in self.send_log:
            if owner == email and record.message_id == message_id:
                row = {"email": owner, "message_id": record.message_id,
                       "sequence_id": record.sequence_id, "template_key": record.template,
                       "step_id": record.step_id, "subject": record.subject}  # fmt: skip
                row.update(self.send_extras.get(record.message_id, {}))
                return {k: v for k, v in row.items() if v is not None}
        return None

    # ------------------------------------------------------------------ arranging

    def given_profile(self, email: str, **overrides: Any) -> Profile:
        fields: dict[str, Any] = {
            "email": email,
            "first_name": None,
            "attributes": {},
            "tags": (),
            "unsubscribed": False,
            "suppressed": False,
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z",
            **overrides,
        }
        self.profiles[email] = Profile(**fields)
        return self.profiles[email]


@dataclass
class FakeEngagementStore:
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def put_event(self, item: Mapping[str, Any]) -> bool:
        item_key = (item["PK"], item["SK"])
        if item_key in self.items:
            return False
        self.items[item_key] = dict(item)
        return True


@dataclass
class FakeTemplates:
    files: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        return self.files.get(key)


@dataclass
class FakeMailer:
    outbox: list[OutgoingEmail] = field(default_factory=list)
    fail_next: Exception | None = None

    def send(self, email: OutgoingEmail) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.outbox.append(email)
        return f"msg-{len(self.outbox)}"


@dataclass
class FakeRawMailer:
    sent: list[tuple[str, str, bytes]] = field(default_factory=list)
    fail_next: Exception | None = None

    def send_raw(self, from_address: str, to: str, raw: bytes) -> str:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.sent.append((from_address, to, raw))
        return f"raw-{len(self.sent)}"


@dataclass
class FakeStopper:
    stopped: list[tuple[str, str]] = field(default_factory=list)

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append((execution_arn, cause))

    @property
    def arns(self) -> list[str]:
        return [arn for arn, _ in self.stopped]


@dataclass
class FakePublisher:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        self.events.append((detail_type, dict(detail)))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        return [detail for kind, detail in self.events if kind == detail_type]


@dataclass
class World:
    """Every fake behind one ``Services``; tests arrange and observe through it."""

    store: FakeStore = field(default_factory=FakeStore)
    templates: FakeTemplates = field(default_factory=FakeTemplates)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    stopper: FakeStopper = field(default_factory=FakeStopper)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    settings: RuntimeSettings = field(
        default_factory=lambda: RuntimeSettings(unsubscribe_url=UNSUBSCRIBE_URL, secret=SECRET)
    )
    display_names: dict[str, dict[str, str]] = field(default_factory=dict)
    now: datetime = NOW

    @property
    def services(self) -> Services:
        return Services(
            store=self.store,
            templates=self.templates,
            mailer=self.mailer,
            stopper=self.stopper,
            publisher=self.publisher,
            settings=lambda: self.settings,
            display_names=lambda: self.display_names,
            clock=lambda: self.now,  # read at call time: tests move the clock
        )
