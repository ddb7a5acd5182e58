"""CheckCondition: field_exists / field_equals / has_been_sent against live state."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters.wiring import store
from mailstep.domain.conditions import check_condition
from mailstep.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, bool]:
    result = check_condition(store(), event)
    logger.info("checked", extra={"check": event.get("check"), "result": result})
    return {"result": result}
