"""mailstep's own lifecycle events onto the bus (source ``mailstep``). Best effort:
an outage of EventBridge never fails a send or an unsubscribe; it is logged."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mailstep.observability import logger

SOURCE = "mailstep"


class EventBridgePublisher:
    def __init__(self, client: Any, bus_name: str | None) -> None:
        self._events = client
        self._bus = bus_name

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        if not self._bus:
            return
        entry = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self._bus,
        }
        try:
            response = self._events.put_events(Entries=[entry])
        except (ClientError, BotoCoreError):
            logger.warning(
                "could not publish event", extra={"detail_type": detail_type}, exc_info=True
            )
            return
        if response.get("FailedEntryCount"):
            logger.warning(
                "event rejected by EventBridge",
                extra={"detail_type": detail_type, "entries": response.get("Entries")},
            )
