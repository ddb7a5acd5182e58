"""The ports bundle and the small helpers every use case shares (no template engine here,
so handlers that never render stay cheap to import)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mailstep.domain.errors import MailstepError
from mailstep.domain.ports import (
    EventPublisher,
    ExecutionStopper,
    Mailer,
    SubscriberStore,
    TemplateSource,
)

# A send claim still pending after this long belongs to a Lambda that died before SES
# answered (send-email times out after 30 s): a retry may take it over.
STALE_CLAIM_SECONDS = 300


class ConfigurationError(MailstepError):
    """The deployment is missing a setting the operation needs."""


@dataclass(frozen=True)
class RuntimeSettings:
    unsubscribe_url: str
    secret: bytes
    data_ttl_days: int = 0
    token_ttl_days: int = 90


@dataclass(frozen=True)
class Services:
    store: SubscriberStore
    templates: TemplateSource
    mailer: Mailer
    stopper: ExecutionStopper
    publisher: EventPublisher
    settings: Callable[[], RuntimeSettings]
    display_names: Callable[[], Mapping[str, Mapping[str, str]]]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def now(self) -> datetime:
        return self.clock()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def skipped(reason: str, **extra: Any) -> dict[str, Any]:
    return {"status": "skipped", "reason": reason, **extra}


def stop_all_executions(
    store: SubscriberStore,
    stopper: ExecutionStopper,
    email: str,
    *,
    keep_transactional: bool,
    cause: str,
) -> int:
    """Stop every run of a subscriber (but transactional ones when asked) and drop its rows."""
    stopped = 0
    for execution in store.list_executions(email):
        if keep_transactional and execution.transactional:
            continue
        stopper.stop(execution.execution_arn, cause)
        store.delete_execution(email, execution.sequence_id, execution.execution_arn)
        stopped += 1
    return stopped
