"""Engagement events (delivery, open, click, bounce, complaint) into the events table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailstep.domain.attribution import stats_scope
from mailstep.domain.ports import EngagementStore, EventPublisher, SubscriberStore
from mailstep.domain.ses_events import SesEvent

EVENTS_TTL_DAYS = 365
TRACKED = {
    "delivery": "delivered",
    "open": "opened",
    "click": "clicked",
    "bounce": "bounced",
    "complaint": "complained",
}


def event_item(event: SesEvent, email: str, ttl: int) -> dict[str, Any]:
    """The events-table item. Unique per (recipient, time, type, message); index keys
    are only set when known, since DynamoDB rejects empty strings in index keys."""
    item: dict[str, Any] = {
        "PK": f"SUB#{email}",
        "SK": f"EVT#{event.timestamp}#{event.kind}#{event.message_id}",
        "email": email,
        "event_type": event.kind,
        "message_id": event.message_id,
        "timestamp": event.timestamp,
        "ttl": ttl,
    }
    optional = {
        "template_key": event.template,
        "sequence_id": event.sequence_id,
        "broadcast_id": event.broadcast_id,
        "step_id": event.step_id,
        "subject": event.subject,
        "link": event.link,
        "user_agent": event.user_agent,
        "bounce_type": event.bounce_type,
        "bounce_sub_type": event.bounce_sub_type,
        "complaint_type": event.complaint_type,
    }
    item.update({key: value for key, value in optional.items() if value})
    return item


def record_engagement(
    events: EngagementStore,
    store: SubscriberStore,
    publisher: EventPublisher,
    event: SesEvent,
    *,
    now_epoch: int,
    now_iso: str,
    ttl_days: int = EVENTS_TTL_DAYS,
) -> dict[str, Any]:
    counter = TRACKED.get(event.kind)
    if counter is None:
        return {"recorded": 0, "duplicates": 0, "ignored": event.kind}
    recorded = duplicates = 0
    for email in event.recipients:
        if not events.put_event(event_item(event, email, now_epoch + ttl_days * 86400)):
            duplicates += 1  # SNS delivered it again: counters must not move twice
            continue
        recorded += 1
        scope = stats_scope(event.sequence_id, event.broadcast_id)
        if scope:
            store.add_counts(scope, event.step_id, {counter: 1}, now_iso)
        detail: Mapping[str, Any] = {
            "email": email,
            "message_id": event.message_id,
            "sequence_id": event.sequence_id,
            **({"broadcast_id": event.broadcast_id} if event.broadcast_id else {}),
            "template": event.template,
            "step_id": event.step_id,
            **({"link": event.link} if event.link else {}),
        }
        publisher.publish(f"email.{counter}", detail)
    return {"recorded": recorded, "duplicates": duplicates}
