"""Subscribe: ``subscriber.subscribed``/``subscriber.updated`` events upsert a profile.

The rule passes the whole EventBridge event; a bad event raises, so EventBridge retries
it and then dead-letters it. Starts no sequence and publishes nothing (no loops).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import services
from mailstep.domain.errors import InvalidInput
from mailstep.domain.payloads import one_of
from mailstep.domain.services import iso
from mailstep.domain.subscribers import DETAIL_TYPES, apply_update
from mailstep.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInput("event must be a JSON object")
    detail_type = one_of(event.get("detail-type"), DETAIL_TYPES, "detail-type")
    logger.append_keys(detail_type=detail_type, event_id=event.get("id"))
    deps = services()
    result = apply_update(deps.store, event.get("detail"), iso(deps.now()))
    logger.info("done", extra={"status": result["status"], "tag_count": len(result["tags"])})
    metrics.add_metric(name="subscriber_updated", unit=MetricUnit.Count, value=1)
    return result
