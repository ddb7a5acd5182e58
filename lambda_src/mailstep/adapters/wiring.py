"""The composition root: real adapters behind the domain's ports, built once per container."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from mailstep.adapters import clients, config
from mailstep.adapters.dynamo import DynamoEngagementStore, DynamoSubscriberStore
from mailstep.adapters.events import EventBridgePublisher
from mailstep.adapters.s3_templates import DisplayNames, S3TemplateSource
from mailstep.adapters.ses import SesMailer, SesRawMailer
from mailstep.adapters.sfn import SfnExecutionStopper
from mailstep.domain.services import Services

if TYPE_CHECKING:
    from mailstep.domain.broadcasts import BroadcastServices


@functools.cache
def environment() -> config.Environment:
    return config.Environment.from_env()


@functools.cache
def store() -> DynamoSubscriberStore:
    return DynamoSubscriberStore(clients.client("dynamodb"), environment().table)


@functools.cache
def engagement_store() -> DynamoEngagementStore:
    return DynamoEngagementStore(clients.client("dynamodb"), environment().events_table)


@functools.cache
def templates() -> S3TemplateSource:
    return S3TemplateSource(clients.client("s3"), environment().template_bucket)


@functools.cache
def publisher() -> EventBridgePublisher:
    return EventBridgePublisher(clients.client("events"), environment().event_bus)


@functools.cache
def stopper() -> SfnExecutionStopper:
    return SfnExecutionStopper(clients.client("stepfunctions"))


@functools.cache
def raw_mailer() -> SesRawMailer:
    return SesRawMailer(clients.client("sesv2"))


@functools.cache
def services() -> Services:
    env = environment()
    return Services(
        store=store(),
        templates=templates(),
        mailer=SesMailer(clients.client("sesv2"), env.configuration_set),
        stopper=stopper(),
        publisher=publisher(),
        settings=lambda: config.runtime_settings(env),
        display_names=DisplayNames(templates(), lambda: config.display_names_key(env)),
    )


@functools.cache
def broadcast_services() -> BroadcastServices:
    # Imported here: the broadcast code renders templates, and the handlers that never
    # do should not pay for the template engine's import.
    from mailstep.adapters.broadcasts import (  # noqa: PLC0415
        DynamoBroadcastStore,
        DynamoSendSlots,
        SfnLoopRunner,
        SqsRecipientQueue,
    )
    from mailstep.domain.broadcasts import BroadcastServices  # noqa: PLC0415

    env = environment()
    db = clients.client("dynamodb")
    return BroadcastServices(
        core=services(),
        broadcasts=DynamoBroadcastStore(db, env.table),
        queue=SqsRecipientQueue(clients.client("sqs"), env.require("broadcast_queue_url")),
        runner=SfnLoopRunner(
            clients.client("stepfunctions"), env.require("broadcast_state_machine")
        ),
        slots=DynamoSendSlots(db, env.table, env.broadcast_send_rate),
        send_rate=env.broadcast_send_rate,
    )


def reset() -> None:
    """Forget every cached client, adapter and SSM value (tests; a new environment)."""
    cached_values = (
        environment, store, engagement_store, templates, publisher, stopper, raw_mailer,
        services, broadcast_services,
    )  # fmt: skip
    for cached in cached_values:
        cached.cache_clear()
    clients.reset()
    config.reset()
