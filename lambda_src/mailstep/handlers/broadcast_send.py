"""BroadcastSend: consumes the broadcast queue (SQS event source mapping).

Each record is one recipient. Records that fail are reported in ``batchItemFailures``
(the mapping has ``ReportBatchItemFailures``), so only they are retried and, after the
queue's maximum receives, land in its dead-letter queue.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import broadcast_services
from mailstep.domain.broadcasts import Broadcast, send_one
from mailstep.domain.emails import normalise_email
from mailstep.domain.errors import InvalidInput
from mailstep.domain.payloads import require_id
from mailstep.observability import logger, metrics

# A cancel must reach consumers quickly, so a broadcast is re-read after this long.
BROADCAST_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, Broadcast | None]] = {}


def _broadcast(broadcast_id: str) -> Broadcast | None:
    now = time.monotonic()
    hit = _cache.get(broadcast_id)
    if hit and now - hit[0] < BROADCAST_CACHE_SECONDS:
        return hit[1]
    found = broadcast_services().broadcasts.get(broadcast_id)
    _cache[broadcast_id] = (now, found)
    return found


def _recipient(record: Any) -> tuple[str, str]:
    try:
        body = json.loads(record["body"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("queue record without a JSON body") from exc
    if not isinstance(body, dict):
        raise InvalidInput("queue record body is not a JSON object")
    return require_id(body, "broadcast_id"), normalise_email(body.get("email"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise InvalidInput("not an SQS event: no Records")
    failures = []
    outcomes: dict[str, int] = {}
    for record in records:
        try:
            broadcast_id, email = _recipient(record)
            result = send_one(broadcast_services(), _broadcast(broadcast_id), email)
        except Exception:
            # Retried; a message that never succeeds (malformed, say) ends in the DLQ.
            logger.exception("record failed", extra={"message_id": record.get("messageId")})
            failures.append({"itemIdentifier": record.get("messageId")})
            continue
        outcome = result.get("reason") or result["status"]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    for outcome, count in outcomes.items():
        metrics.add_metric(name=f"broadcast_{outcome}", unit=MetricUnit.Count, value=count)
    logger.info("batch done", extra={"outcomes": outcomes, "failed": len(failures)})
    return {"batchItemFailures": failures}
