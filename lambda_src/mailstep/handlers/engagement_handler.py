"""EngagementHandler: SES delivery/open/click/bounce/complaint into the events table."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters import config
from mailstep.adapters.wiring import engagement_store, environment, publisher, store
from mailstep.domain.engagement import record_engagement
from mailstep.domain.services import iso
from mailstep.domain.ses_events import SesEvent
from mailstep.handlers._sns import for_each_event
from mailstep.observability import logger, metrics


def _handle(event: SesEvent) -> dict[str, Any]:
    from datetime import UTC, datetime  # noqa: PLC0415

    result = record_engagement(
        engagement_store(),
        store(),
        publisher(),
        event,
        now_epoch=int(time.time()),
        now_iso=iso(datetime.now(UTC)),
        ttl_days=config.events_ttl_days(environment()),
    )
    logger.info("recorded", extra={"kind": event.kind, **result})
    metrics.add_metric(
        name=f"{event.kind}_recorded", unit=MetricUnit.Count, value=result.get("recorded", 0)
    )
    return result


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"results": for_each_event(event, _handle)}
