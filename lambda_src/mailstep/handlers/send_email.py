"""SendEmail: register / send / fire_and_forget / complete, and clean-up after abnormal
ends (of sequence runs, and of broadcast loops: their broadcast is marked failed)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import broadcast_services, services
from mailstep.domain import broadcasts, lifecycle
from mailstep.domain.errors import InvalidInput
from mailstep.domain.payloads import one_of
from mailstep.domain.services import Services
from mailstep.observability import logger, metrics

ACTIONS: dict[str, Callable[[Services, Mapping[str, Any]], dict[str, Any]]] = {
    "register": lifecycle.register,
    "send": lifecycle.send,
    "fire_and_forget": lifecycle.fire_and_forget,
    "complete": lifecycle.complete,
    "exit": lifecycle.exit_sequence,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInput("event must be a JSON object")
    if event.get("detail-type") == lifecycle.STATUS_CHANGE and broadcasts.is_loop_execution(event):
        action = "broadcast_cleanup"
        result = broadcasts.after_status_change(broadcast_services(), event)
    elif event.get("detail-type") == lifecycle.STATUS_CHANGE:
        action = "cleanup"
        result = lifecycle.cleanup_after_status_change(services(), event)
    else:
        action = one_of(event.get("action"), ACTIONS, "action")
        logger.append_keys(
            action=action, sequence_id=event.get("sequence_id"), step_id=event.get("step_id")
        )
        result = ACTIONS[action](services(), event)
    logger.info("done", extra={"status": result.get("status"), "reason": result.get("reason")})
    metrics.add_metric(name=f"{action}_{result.get('status')}", unit=MetricUnit.Count, value=1)
    return result
