"""Broadcast operations for the CLI and the MCP server.

Changes go through the deployed ``broadcast`` function (the same direct invoke an app
or ``aws lambda invoke`` uses), so the state machine is started with the function's own
role and code; reads come straight from the table. Starting and cancelling are dry runs
unless ``dry_run=False``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mailstep.domain.errors import MailstepError
from mailstep.ops.paging import Page, check_limit

if TYPE_CHECKING:
    from mailstep.ops.operations import Ops

FINISHED_COUNTING = ("ready", "cancelled", "failed")


class BroadcastFailed(MailstepError):
    """The broadcast function refused the request; the message is its error."""


class BroadcastOps:
    def __init__(self, ops: Ops) -> None:
        self._ops = ops

    @property
    def function_name(self) -> str:
        return self._ops.config.broadcast_function or f"{self._ops.config.name_prefix}-broadcast"

    def _invoke(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._ops.client("lambda").invoke(
            FunctionName=self.function_name, Payload=json.dumps(payload).encode()
        )
        body = response["Payload"].read()
        result = json.loads(body) if body else {}
        if response.get("FunctionError"):
            message = result.get("errorMessage") if isinstance(result, dict) else None
            raise BroadcastFailed(str(message or result))
        return dict(result)

    def create(
        self,
        broadcast_id: str,
        template: str,
        subject: str,
        sender: str,
        *,
        reply_to: str | None = None,
        tags: list[str] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record the broadcast and start its dry run (the audience count)."""
        return self._invoke({
            "action": "create", "broadcast_id": broadcast_id, "template": template,
            "subject": subject, "sender": {"from": sender, "reply_to": reply_to},
            "audience": {"tags": tags or [], "attributes": attributes or {}},
        })  # fmt: skip

    def get(self, broadcast_id: str) -> dict[str, Any]:
        """The broadcast with its live counters and rates (per email sent)."""
        from mailstep.ops.operations import rates  # noqa: PLC0415 - avoids an import cycle

        record = self._invoke({"action": "get", "broadcast_id": broadcast_id})
        return {**record, "rates": rates(record.get("counters") or {})}

    def wait(
        self,
        broadcast_id: str,
        until: tuple[str, ...] = FINISHED_COUNTING,
        progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float = 3600.0,
        interval: float = 1.0,
    ) -> dict[str, Any]:
        """Poll until the broadcast reaches one of ``until`` (the dry run, by default)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.get(broadcast_id)
            if record["status"] in until or time.monotonic() > deadline:
                return record
            if progress:
                progress(record)
            time.sleep(interval)

    def start(
        self, broadcast_id: str, dry_run: bool = True, expected_audience: int | None = None
    ) -> dict[str, Any]:
        record = self.get(broadcast_id)
        size = record.get("audience_size")
        if record["status"] != "ready":
            raise BroadcastFailed(
                f"broadcast {broadcast_id!r} is {record['status']}: only a broadcast whose "
                "dry run finished (ready) can be started"
            )
        rate = self._ops.config.broadcast_send_rate
        pace = (
            f"at {rate:g} emails/s (about {_duration((size or 0) / rate)})"
            if rate
            else "paced to the deployment's broadcast_send_rate"
        )
        summary = (
            f"send {record['template']} ({record['subject']!r}) to {size} recipients counted "
            f"by the dry run, {pace}"
        )
        if dry_run:
            return {"dry_run": True, "summary": summary, "broadcast": record}
        started = self._invoke({
            "action": "start", "broadcast_id": broadcast_id,
            "expected_audience": size if expected_audience is None else expected_audience,
        })  # fmt: skip
        return {"dry_run": False, "summary": summary, "broadcast": started}

    def cancel(self, broadcast_id: str, dry_run: bool = True) -> dict[str, Any]:
        record = self.get(broadcast_id)
        left = max(0, int(record.get("queued") or 0) - int(record.get("processed") or 0))
        summary = (
            f"cancel broadcast {broadcast_id!r} ({record['status']}): stop queueing and drop "
            f"the emails still queued (about {left})"
        )
        if dry_run:
            return {"dry_run": True, "summary": summary, "broadcast": record}
        cancelled = self._invoke({"action": "cancel", "broadcast_id": broadcast_id})
        return {"dry_run": False, "summary": summary, "broadcast": cancelled}

    def list(self, limit: int = 20, cursor: str | None = None) -> Page:
        """Broadcasts, newest first."""
        from mailstep.adapters.broadcasts import DynamoBroadcastStore  # noqa: PLC0415

        check_limit(limit)
        store = DynamoBroadcastStore(self._ops.client("dynamodb"), self._ops.config.table)
        found, next_cursor = store.recent(limit, cursor)
        items = [
            {k: v for k, v in b.as_dict().items() if k not in ("sender", "counters")} for b in found
        ]
        return {"items": items, "next_cursor": next_cursor}


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
