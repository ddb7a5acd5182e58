"""reply: SES inbound mail (receipt rule → SNS) into a reply event, the ``replied``
counter and ``email.replied``; forwards the message when ``reply_forward_to`` is set."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mailstep.adapters import config
from mailstep.adapters.wiring import engagement_store, environment, publisher, raw_mailer, store
from mailstep.domain.replies import forward_reply, parse_inbound, record_reply
from mailstep.domain.services import iso
from mailstep.handlers._sns import for_each_message
from mailstep.observability import logger, metrics


def _handle(message: dict[str, Any]) -> dict[str, Any]:
    from datetime import UTC, datetime  # noqa: PLC0415

    reply = parse_inbound(message)
    if reply is None:
        kind = message.get("notificationType") or message.get("eventType")
        logger.info("skipped: not a Received notification", extra={"type": kind})
        return {"status": "skipped", "reason": "not_received"}
    env = environment()
    result = record_reply(
        engagement_store(),
        store(),
        publisher(),
        reply,
        now_epoch=int(time.time()),
        now_iso=iso(datetime.now(UTC)),
        ttl_days=config.events_ttl_days(env),
    )
    logger.info("reply", extra={"inbound_message_id": reply.message_id, **result})
    metrics.add_metric(name=f"reply_{result['status']}", unit=MetricUnit.Count, value=1)
    forward_to = config.reply_forward_to(env)
    if forward_to and result["status"] == "recorded":
        try:
            result.update(forward_reply(raw_mailer(), reply, forward_to))
        except Exception:
            # The reply is recorded; losing the copy must not make SNS deliver it again.
            logger.exception("could not forward the reply", extra={"forward_to": forward_to})
            metrics.add_metric(name="reply_forward_failed", unit=MetricUnit.Count, value=1)
            result["forwarded"] = False
    return result


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return {"results": for_each_message(event, _handle)}
