"""Tiny handlers the sandbox runs in-process for tests/local (``stub_handlers.<name>``).

They stand in for functions this branch does not have, and record what they were given.
"""

from __future__ import annotations

import json
from typing import Any

SEEN: list[dict[str, Any]] = []  # every record or payload, in order


def sqs_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS consumer reporting partial failures. A body ``{"fail": "always"}`` always
    fails; ``{"fail": "once"}`` fails on its first receive only; anything else succeeds."""
    failures = []
    for record in event["Records"]:
        SEEN.append(record)
        fail = json.loads(record["body"]).get("fail")
        first = record["attributes"]["ApproximateReceiveCount"] == "1"
        if fail == "always" or (fail == "once" and first):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def broadcast(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The broadcast function's resolve/fail actions: done after 3 iterations; a
    broadcast id starting with ``boom`` raises on its second resolve, one starting
    with ``bad`` returns neither ``done`` nor ``wait_seconds``."""
    SEEN.append(event)
    if event["action"] == "fail":
        return {"status": "failed"}
    iteration = event["iteration"] + 1
    if event["broadcast_id"].startswith("boom") and iteration == 2:
        raise RuntimeError("audience page unreadable")
    if event["broadcast_id"].startswith("bad"):
        return {"broadcast_id": event["broadcast_id"]}
    return {
        "broadcast_id": event["broadcast_id"],
        "mode": event["mode"],
        "cursor": f"page-{iteration}",
        "iteration": iteration,
        "done": iteration >= 3,
        "wait_seconds": 1,
    }
