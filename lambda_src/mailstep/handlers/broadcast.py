"""Broadcast: the operators' entry point (direct invoke) and the state machine's loop.

Direct invoke (``aws lambda invoke``, the CLI, the MCP server): ``create`` (records the
broadcast and starts its dry run), ``start``, ``cancel``, ``get``. The state machine
calls ``resolve`` for each chunk of the audience and ``fail`` from its catch path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import broadcast_services
from mailstep.domain import broadcasts
from mailstep.domain.broadcasts import Broadcast, BroadcastServices
from mailstep.domain.errors import InvalidInput
from mailstep.domain.payloads import one_of
from mailstep.observability import logger, metrics


def _record(
    action: Callable[[BroadcastServices, Mapping[str, Any]], Broadcast],
) -> Callable[[BroadcastServices, Mapping[str, Any]], dict[str, Any]]:
    return lambda bsvc, payload: action(bsvc, payload).as_dict()


ACTIONS: dict[str, Callable[[BroadcastServices, Mapping[str, Any]], dict[str, Any]]] = {
    "create": _record(broadcasts.create),
    "start": _record(broadcasts.start),
    "cancel": _record(broadcasts.cancel),
    "get": _record(broadcasts.get),
    "resolve": broadcasts.resolve,
    "fail": broadcasts.fail,
}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidInput("event must be a JSON object")
    action = one_of(event.get("action"), ACTIONS, "action")
    logger.append_keys(action=action, broadcast_id=event.get("broadcast_id"))
    result = ACTIONS[action](broadcast_services(), event)
    logger.info("done", extra={"status": result.get("status"), "done": result.get("done")})
    metrics.add_metric(name=f"broadcast_{action}", unit=MetricUnit.Count, value=1)
    return result
