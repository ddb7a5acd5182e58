"""BounceHandler: permanent bounces and complaints suppress and stop every run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import services
from mailstep.domain.optout import handle_bounce_or_complaint
from mailstep.domain.ses_events import SesEvent
from mailstep.handlers._sns import for_each_event
from mailstep.observability import logger, metrics


def _handle(event: SesEvent) -> list[dict[str, Any]]:
    outcomes = handle_bounce_or_complaint(services(), event)
    for outcome in outcomes:
        metrics.add_metric(name=f"{event.kind}_{outcome.action}", unit=MetricUnit.Count, value=1)
    logger.info(
        "handled",
        extra={"kind": event.kind, "bounce_type": event.bounce_type, "outcomes": len(outcomes)},
    )
    return [{"action": o.action, "stopped": o.stopped} for o in outcomes]


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"results": for_each_event(event, _handle)}
