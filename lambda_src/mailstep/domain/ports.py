"""The ports the domain needs. Adapters in ``mailstep.adapters`` implement them with boto3."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

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


class SubscriberStore(Protocol):
    def upsert_profile(self, subscriber: Subscriber, now: str) -> Profile: ...
    def get_profile(self, email: str) -> Profile | None: ...
    def change_tags(
        self, email: str, change: Callable[[tuple[str, ...]], tuple[str, ...]], now: str
    ) -> tuple[str, ...]:
        """Set an existing profile's tags to ``change(stored tags)`` and its TAG# index rows
        with it, as one conditional write; re-read and retry when another writer changed
        the tags in between. Returns the tags written."""
        ...

    def get_status(self, email: str) -> SubscriberStatus: ...
    def set_unsubscribed(self, email: str, now: str) -> UnsubscribeChange: ...
    def suppress(self, email: str, suppression: Suppression) -> None: ...

    def get_execution(self, email: str, sequence_id: str) -> Execution | None: ...
    def list_executions(self, email: str) -> list[Execution]: ...
    def put_execution(
        self, email: str, execution: Execution, replaces: Execution | None
    ) -> bool: ...
    def delete_execution(self, email: str, sequence_id: str, execution_arn: str | None) -> bool: ...
    def find_run(self, sequence_id: str, execution_arn: str) -> str | None:
        """The email whose active run of ``sequence_id`` is ``execution_arn``, if any."""
        ...

    def mark_enrolled(self, email: str, sequence_id: str, now: str) -> None: ...
    def was_enrolled(self, email: str, sequence_id: str) -> bool: ...

    def claim_event(self, event_key: str, owner: str, expires_at: int) -> bool: ...
    def claim_send(self, execution_arn: str, step_id: str, now: int, expires_at: int) -> bool:
        """Claim a step's send; a pending claim older than STALE_CLAIM_SECONDS (its Lambda
        died before reaching SES) may be taken over."""
        ...

    def complete_send(self, execution_arn: str, step_id: str, message_id: str) -> None: ...
    def release_send(self, execution_arn: str, step_id: str) -> None: ...
    def record_send(self, email: str, record: SendRecord, expires_at: int | None) -> None: ...
    def has_been_sent(self, email: str, template: str) -> bool: ...
    def add_counts(
        self, scope: str, step_id: str | None, counts: Mapping[str, int], now: str
    ) -> None:
        """Add to ``STATS#<scope>`` (a sequence id or ``broadcast#<id>``) and its step."""
        ...

    def last_send(self, email: str) -> SendRecord | None:
        """The most recent email sent to this address, if any."""
        ...

    def find_send(self, email: str, message_id: str) -> dict[str, Any] | None:
        """The send log row of ``email`` for SES message ``message_id``, if any."""
        ...


class EngagementStore(Protocol):
    def put_event(self, item: Mapping[str, Any]) -> bool:
        """Write an engagement event once; False when it was already there."""
        ...


class TemplateSource(Protocol):
    def get(self, key: str) -> str | None: ...


class Mailer(Protocol):
    def send(self, email: OutgoingEmail) -> str: ...


class RawMailer(Protocol):
    def send_raw(self, from_address: str, to: str, raw: bytes) -> str:
        """Send a complete MIME message as it is; returns the SES message id."""
        ...


class ExecutionStopper(Protocol):
    def stop(self, execution_arn: str, cause: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...
