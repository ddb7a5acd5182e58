"""Shims that make moto behave like the AWS services mailstep relies on.

Each fills one documented gap of moto 5.2.5 (see ``docs/local-sandbox.md``):

* **EventBridge delivery** — moto raises NotImplementedError for rules that target
  Step Functions, Lambda or SNS. :func:`install_eventbridge` delivers to those targets,
  applying input transformers with EventBridge's real rules (moto's own template
  parser does not quote strings), and sends undeliverable events to the target's
  dead-letter queue as EventBridge does.
* **SES outbox and event publishing** — moto's SES v2 ``SendEmail`` drops headers,
  tags and the text part, and publishes nothing. :func:`install_ses` records every
  accepted message in the :class:`Outbox` and publishes configuration-set events
  (Send, Delivery; Bounce/Complaint for the mailbox simulator addresses; Open/Click on
  demand) to the configuration set's SNS event destinations, shaped as SES does.
  Raw messages (forwarded replies) are recorded too, their MIME parsed.
* **SES receiving** — moto receives no mail. :func:`reply` builds the reply a
  subscriber would send to an outbox message and publishes the ``Received``
  notification an SES receipt rule's SNS action (UTF-8) would, to the replies topic.
* **SQS event sources** — moto invokes a queue's function inside ``SendMessage`` (in the
  sender's thread, one record per call, without ``batchItemFailures``).
  :class:`SqsEventSources` polls instead, as Lambda does: batches, partial failures,
  redelivery and the queue's redrive to its dead-letter queue.

Deliveries that AWS makes asynchronously (EventBridge targets, SNS notifications of SES
events) run on one background :class:`Deliveries` worker, as they would on AWS: the
caller never waits for them, and a Lambda never runs inside another one's call.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mailstep.local import lambda_runtime
from mailstep.local.clock import SimClock

ACCOUNT = "123456789012"
SIMULATOR_DOMAIN = "simulator.amazonses.com"
_state: dict[str, Any] = {}


# --------------------------------------------------------------------------- async work


class Deliveries:
    """One worker thread running queued deliveries in order; ``drain()`` waits for them."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, name="mailstep-deliveries", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        self._queue.put(job)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                job()
            except Exception as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            finally:
                self._queue.task_done()

    def drain(self) -> None:
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------- EventBridge

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def _json_path(event: Any, path: str) -> tuple[bool, Any]:
    """Resolve the ``$.a.b`` paths EventBridge input paths use."""
    if path == "$":
        return True, event
    current = event
    for part in path.removeprefix("$.").split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def transform_input(template: str, paths: Mapping[str, str], event: Mapping[str, Any]) -> str:
    """EventBridge's input transformation: a placeholder inside a JSON string is replaced
    by the value's text; outside a string by the value as JSON (strings quoted). A path
    that matches nothing gives null (or nothing, inside a string). Only defined keys are
    placeholders, so other ``<…>`` text is left alone."""
    values: dict[str, tuple[bool, Any]] = {k: _json_path(event, p) for k, p in paths.items()}
    values["aws.events.event.json"] = (True, event)
    values["aws.events.event"] = (True, event)
    out: list[str] = []
    in_string = escaped = False
    index = 0
    while index < len(template):
        char = template[index]
        match = _PLACEHOLDER.match(template, index) if char == "<" else None
        if match and match.group(1) in values:
            found, value = values[match.group(1)]
            if in_string:
                text = value if isinstance(value, str) else ("" if not found else json.dumps(value))
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value) if found else "null")
            index = match.end()
            continue
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        out.append(char)
        index += 1
    return "".join(out)


def target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(_json_path(event, target["InputPath"])[1])
    transformer = target.get("InputTransformer")
    if transformer:
        return transform_input(
            transformer["InputTemplate"], transformer.get("InputPathsMap", {}), event
        )
    return json.dumps(event)


@dataclass
class Delivery:
    rule: str
    target_arn: str
    ok: bool
    error: str | None = None


DELIVERY_LOG: list[Delivery] = []


def _deliver(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    from moto.awslambda.utils import get_backend as lambda_backend  # noqa: PLC0415
    from moto.sns.models import sns_backends  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415
    from moto.stepfunctions.responses import get_backend as sfn_backend  # noqa: PLC0415

    arn: str = target["Arn"]
    parts = arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    payload = target_input(target, event)
    try:
        if service == "states":
            sfn_backend(account, region).start_execution(
                arn, name=str(uuid.uuid4()), execution_input=payload
            )
        elif service == "lambda":
            function = lambda_backend(account, region).get_function(arn)
            response_headers: dict[str, str] = {}
            function.invoke(payload, {"x-amz-invocation-type": "Event"}, response_headers)
            if response_headers.get("x-amz-function-error"):
                raise RuntimeError(f"function error: {payload[:200]}")
        elif service == "sns":
            sns_backends[account][region].publish(message=payload, arn=arn)
        else:
            raise NotImplementedError(f"no local delivery to {service}")
        DELIVERY_LOG.append(Delivery(rule.name, arn, True))
    except Exception as exc:
        DELIVERY_LOG.append(Delivery(rule.name, arn, False, f"{type(exc).__name__}: {exc}"))
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq:
            queue_parts = dlq.split(":")
            sqs_backends[queue_parts[4]][queue_parts[3]].send_message(
                queue_name=queue_parts[5],
                message_body=json.dumps(event),
                message_attributes={
                    "ERROR_CODE": {"DataType": "String", "StringValue": type(exc).__name__},
                    "RULE_ARN": {"DataType": "String", "StringValue": rule.arn},
                    "TARGET_ARN": {"DataType": "String", "StringValue": arn},
                },
            )
        raise


def install_eventbridge(deliveries: Deliveries) -> None:
    """Deliver matching events to Step Functions, Lambda and SNS targets (idempotent)."""
    from moto.events.models import Rule  # noqa: PLC0415

    if "events" in _state:
        _state["events"]["deliveries"] = deliveries
        return
    original = Rule.send_to_targets
    _state["events"] = {"original": original, "deliveries": deliveries}

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if t["Arn"].split(":")[2] in ("states", "lambda", "sns")]
        others = [t for t in self.targets if t not in ours]
        event = {k: v for k, v in original_event.items() if k != "ingestion-time"}
        for target in ours:
            _state["events"]["deliveries"].submit(lambda t=target: _deliver(self, t, event))
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    setattr(Rule, "send_to_targets", send_to_targets)  # noqa: B010 - patching moto


# --------------------------------------------------------------------------- Step Functions

STATUS_CHANGE = "Step Functions Execution Status Change"


def _millis(moment: Any) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def status_change_event(execution: Any) -> dict[str, Any]:
    """The ``Step Functions Execution Status Change`` event AWS puts on the default bus."""
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date),
        "input": execution.execution_input,
        "inputDetails": {"included": True},
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "outputDetails": {"included": True},
        "error": execution.error,
        "cause": execution.cause,
    }
    return {
        "Source": "aws.states",
        "DetailType": STATUS_CHANGE,
        "Detail": json.dumps(detail),
        "Resources": [execution.exec_arn],
        "EventBusName": "default",
    }


def install_status_events() -> None:
    """Publish an execution's end to the default bus, as Step Functions does (idempotent).
    moto publishes nothing, so the core module's clean-up rule would never fire."""
    from moto.events.models import events_backends  # noqa: PLC0415
    from moto.stepfunctions.parser.backend.execution import (  # noqa: PLC0415
        BaseExecutionWorkerCommunication,
    )

    if "status" in _state:
        return
    original = BaseExecutionWorkerCommunication.terminated
    _state["status"] = original

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        backend = events_backends[execution.account_id][execution.region_name]
        backend.put_events([status_change_event(execution)])

    setattr(BaseExecutionWorkerCommunication, "terminated", terminated)  # noqa: B010


# --------------------------------------------------------------------------- SQS → Lambda

# How long a record the function failed stays invisible before it is received again.
# On AWS that is the rest of the queue's visibility timeout (360 s for the broadcast
# queue); compressed here so a message that keeps failing reaches the queue's DLQ (on
# the receive after maxReceiveCount) within seconds.
REDELIVERY_SECONDS = 1


def sqs_record(message: Any, queue_arn: str) -> dict[str, Any]:
    """One record of the event Lambda's SQS poller passes to the function."""
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if message.group_id:
        attributes.update(
            MessageGroupId=message.group_id, MessageDeduplicationId=message.deduplication_id
        )
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.message_attributes.items()
        },
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def failed_records(
    message_ids: list[str], output: str, errored: bool, report_item_failures: bool
) -> set[str]:
    """Which records of a batch Lambda leaves on the queue, given the function's result.

    An error fails the whole batch. With ``ReportBatchItemFailures`` a null result, or
    one without (or with an empty) ``batchItemFailures``, is a complete success, and
    the records it names are failures; a malformed list (an identifier that is empty,
    null or not in the batch) fails the whole batch, as Lambda documents.
    """
    if errored:
        return set(message_ids)
    if not report_item_failures:
        return set()
    result = json.loads(output)
    if result is None:
        return set()
    if not isinstance(result, Mapping):
        return set(message_ids)
    items = result.get("batchItemFailures") or []
    named = [item.get("itemIdentifier") if isinstance(item, Mapping) else None for item in items]
    if any(i not in message_ids for i in named):
        return set(message_ids)
    return {str(i) for i in named}  # every one is in message_ids


@dataclass
class Batch:
    """One invocation of a function by an event source mapping."""

    function_name: str
    message_ids: list[str]
    failed: set[str]


class SqsEventSources:
    """Lambda's SQS poller for every enabled event source mapping, on one thread.

    Each pass receives up to ``BatchSize`` messages per mapping through moto's SQS
    backend (so receive counts and the queue's redrive policy apply), runs the function
    in-process (:mod:`mailstep.local.lambda_runtime`), deletes the records that
    succeeded and makes the failed ones visible again after :data:`REDELIVERY_SECONDS`.
    One batch runs at a time: the sandbox runs one Lambda at a time anyway.
    """

    def __init__(self, account: str = ACCOUNT, region: str = "us-east-1") -> None:
        self.account, self.region = account, region
        self.batches: list[Batch] = []
        self.failures: list[str] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailstep-sqs-poller", daemon=True)

    def start(self, interval: float = 0.1) -> None:
        self._interval = interval
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                busy = self.poll()
            except Exception as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
                busy = False
            if not busy:
                self._stopped.wait(self._interval)

    def poll(self) -> bool:
        """One pass over the enabled SQS mappings; whether any function ran."""
        from moto.awslambda.utils import get_backend  # noqa: PLC0415

        mappings = get_backend(self.account, self.region).list_event_source_mappings("", "")
        ran = False
        for mapping in list(mappings):
            if mapping.enabled and mapping.event_source_arn.split(":")[2] == "sqs":
                ran = self._deliver(mapping) or ran
        return ran

    def _deliver(self, mapping: Any) -> bool:
        from moto.awslambda.utils import get_backend  # noqa: PLC0415
        from moto.sqs.models import sqs_backends  # noqa: PLC0415

        queue_arn: str = mapping.event_source_arn
        _, _, _, region, account, queue_name = queue_arn.split(":")
        sqs = sqs_backends[account][region]
        queue = sqs.queues.get(queue_name)
        if queue is None:
            return False
        messages = sqs.receive_message(
            queue_name, mapping.batch_size, 0, queue.attributes["VisibilityTimeout"], ["All"]
        )
        if not messages:
            return False
        function = get_backend(account, region).get_function(mapping.function_arn)
        event = {"Records": [sqs_record(m, queue_arn) for m in messages]}
        output, errored = lambda_runtime.run(
            function.function_name,
            str(function.handler),
            dict(function.environment_vars or {}),
            event,
        )
        ids = [m.id for m in messages]
        reports = "ReportBatchItemFailures" in (mapping.function_response_types or [])
        failed = failed_records(ids, output, errored, reports)
        for message in messages:
            if message.id in failed:
                sqs.change_message_visibility(
                    queue_name, str(message.receipt_handle), REDELIVERY_SECONDS
                )
            else:
                sqs.delete_message(queue_name, str(message.receipt_handle))
        self.batches.append(Batch(function.function_name, ids, failed))
        return True


def install_sqs_event_sources(region: str = "us-east-1") -> SqsEventSources:
    """Stop moto invoking functions inside SendMessage and poll instead (idempotent patch).

    moto registers an SQS mapping on its queue, and ``Queue.add_message`` then runs the
    function synchronously in the sender's request (a Lambda that enqueues would run
    the consumer nested in its own call). The patch takes the mapping off the queue;
    the returned poller, once started, delivers for every mapping instead.
    """
    from moto.awslambda.models import LambdaBackend  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    if "sqs" not in _state:
        original = LambdaBackend.create_event_source_mapping
        _state["sqs"] = original

        def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
            mapping = original(self, spec)
            for queue in sqs_backends[self.account_id][self.region_name].queues.values():
                if queue.queue_arn == mapping.event_source_arn:
                    queue.lambda_event_source_mappings.pop(mapping.function_arn, None)
            return mapping

        setattr(LambdaBackend, "create_event_source_mapping", create_event_source_mapping)  # noqa: B010
    return SqsEventSources(region=region)


# --------------------------------------------------------------------------- SES


@dataclass
class OutboxMessage:
    """One message SES accepted, as the recipient would see it."""

    message_id: str
    to: list[str]
    from_address: str
    reply_to: list[str]
    subject: str
    html: str
    text: str | None
    headers: dict[str, str]
    tags: dict[str, str]
    configuration_set: str | None
    sent_at: str  # simulated time
    real_time: float
    events: list[str] = field(default_factory=list)


class Outbox:
    """Every message sent; optionally mirrored to ``directory`` as JSON + HTML files."""

    def __init__(self, directory: Path | None = None) -> None:
        self.messages: list[OutboxMessage] = []
        self.directory = directory
        self._lock = threading.Lock()
        if directory:  # a new sandbox starts with an empty outbox
            directory.mkdir(parents=True, exist_ok=True)
            for old in [*directory.glob("*.json"), *directory.glob("*.html")]:
                old.unlink()

    def add(self, message: OutboxMessage) -> None:
        with self._lock:
            self.messages.append(message)
            if self.directory:
                stem = f"{len(self.messages):04d}-{message.message_id}"
                (self.directory / f"{stem}.json").write_text(json.dumps(asdict(message), indent=2))
                (self.directory / f"{stem}.html").write_text(message.html)

    def find(self, message_id: str) -> OutboxMessage | None:
        return next((m for m in self.messages if m.message_id == message_id), None)


def _simulator_outcome(address: str) -> str:
    local, _, domain = address.lower().partition("@")
    if domain != SIMULATOR_DOMAIN:
        return "delivery"
    if local.startswith("bounce"):
        return "bounce"
    if local.startswith("complaint"):
        return "complaint"
    if local.startswith("suppressionlist"):
        return "bounce"
    return "delivery"  # success@, ooto@ (auto-reply is not simulated)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mail_object(message: OutboxMessage, region: str) -> dict[str, Any]:
    """The ``mail`` object of an SES event record."""
    headers = [{"name": k, "value": v} for k, v in message.headers.items()]
    headers += [
        {"name": "From", "value": message.from_address},
        {"name": "To", "value": ", ".join(message.to)},
        {"name": "Subject", "value": message.subject},
    ]
    tags = {k: [v] for k, v in message.tags.items()}
    if message.configuration_set:
        tags["ses:configuration-set"] = [message.configuration_set]
    domain = message.from_address.rsplit("@", 1)[-1].rstrip(">")
    return {
        "timestamp": message.sent_at,
        "source": message.from_address,
        "sourceArn": f"arn:aws:ses:{region}:{ACCOUNT}:identity/{domain}",
        "sendingAccountId": ACCOUNT,
        "messageId": message.message_id,
        "destination": message.to,
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": [message.from_address],
            "to": message.to,
            "messageId": message.message_id,
            "subject": message.subject,
        },
        "tags": tags,
    }


def event_record(
    kind: str, message: OutboxMessage, region: str, now: datetime, **extra: Any
) -> dict[str, Any]:
    """An SES event-publishing record (``eventType``) as SES sends it to SNS."""
    stamp = _iso(now)
    recipients = message.to
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "send": ("Send", {}),
        "delivery": (
            "Delivery",
            {
                "timestamp": stamp,
                "processingTimeMillis": 120,
                "recipients": recipients,
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
            },
        ),
        "bounce": (
            "Bounce",
            {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": r,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                    for r in recipients
                ],
                "timestamp": stamp,
                "feedbackId": f"{uuid.uuid4()}-000000",
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            },
        ),
        "complaint": (
            "Complaint",
            {
                "complainedRecipients": [{"emailAddress": r} for r in recipients],
                "timestamp": stamp,
                "feedbackId": f"{uuid.uuid4()}-000000",
                "complaintFeedbackType": "abuse",
                "userAgent": "Amazon SES Mailbox Simulator",
            },
        ),
        "open": (
            "Open",
            {
                "timestamp": stamp,
                "ipAddress": "192.0.2.1",
                "userAgent": "Mozilla/5.0 (local sandbox)",
            },
        ),
        "click": (
            "Click",
            {
                "timestamp": stamp,
                "ipAddress": "192.0.2.1",
                "userAgent": "Mozilla/5.0 (local sandbox)",
                "link": extra.get("link", "https://example.com/"),
                "linkTags": {},
            },
        ),
    }
    event_type, body = bodies[kind]
    key = {
        "Delivery": "delivery",
        "Bounce": "bounce",
        "Complaint": "complaint",
        "Open": "open",
        "Click": "click",
        "Send": "send",
    }[event_type]
    return {"eventType": event_type, "mail": mail_object(message, region), key: body}


def _destinations(region: str, configuration_set: str | None) -> list[dict[str, Any]]:
    from moto.ses.models import ses_backends  # noqa: PLC0415

    if not configuration_set:
        return []
    backend = ses_backends[ACCOUNT][region]
    found = backend.__dict__.get("mailstep_event_destinations", {}).get(configuration_set, {})
    return list(found.values())


def _members(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        value = value.get("member", [])
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


def publish_event(
    kind: str, message: OutboxMessage, region: str, clock: SimClock, **extra: Any
) -> int:
    """Publish one SES event to every matching SNS destination; returns how many."""
    from moto.sns.models import sns_backends  # noqa: PLC0415

    published = 0
    record = event_record(kind, message, region, clock.now(), **extra)
    for destination in _destinations(region, message.configuration_set):
        enabled = destination.get("Enabled", True) not in (False, "false")
        types = {t.lower() for t in _members(destination.get("MatchingEventTypes"))}
        topic = (destination.get("SNSDestination") or {}).get("TopicARN")
        if enabled and topic and kind in types:
            sns_backends[ACCOUNT][region].publish(message=json.dumps(record), arn=topic)
            published += 1
    message.events.append(kind)
    return published


def install_ses(
    outbox: Outbox, deliveries: Deliveries, clock: SimClock, region: str = "us-east-1"
) -> None:
    """Record SES v2 sends in ``outbox`` and publish their events (idempotent)."""
    from moto.sesv2.responses import SESV2Response  # noqa: PLC0415

    _state["ses"] = {"outbox": outbox, "deliveries": deliveries, "clock": clock, "region": region}
    if "ses_original" in _state:
        return
    original = SESV2Response.send_email
    _state["ses_original"] = original

    def send_email(self: Any) -> Any:
        params = json.loads(self.body)
        response = original(self)  # validates the sender identity, returns {"MessageId"}
        _record(params, str(json.loads(response)["MessageId"]))
        return response

    setattr(SESV2Response, "send_email", send_email)  # noqa: B010 - patching moto


def _raw_as_simple(data: str) -> dict[str, Any]:
    """A raw message (base64 MIME) in the shape of ``Content.Simple``."""
    import base64  # noqa: PLC0415
    import email  # noqa: PLC0415
    from email import policy  # noqa: PLC0415

    message = email.message_from_bytes(base64.b64decode(data), policy=policy.default)
    assert isinstance(message, EmailMessage)
    body: dict[str, Any] = {}
    for subtype, key in (("html", "Html"), ("plain", "Text")):
        part = message.get_body(preferencelist=(subtype,))
        if part is not None and part.get_content_subtype() == subtype:
            body[key] = {"Data": str(part.get_content())}
    skip = {"subject", "content-type", "content-transfer-encoding", "mime-version"}
    return {
        "Subject": {"Data": str(message.get("Subject") or "")},
        "Body": body,
        "Headers": [{"Name": k, "Value": str(v)} for k, v in message.items()
                    if k.lower() not in skip],
    }  # fmt: skip


def _record(params: Mapping[str, Any], message_id: str) -> None:
    ses = _state["ses"]
    content = params.get("Content") or {}
    simple = content.get("Simple") or {}
    if "Raw" in content:
        simple = _raw_as_simple(str(content["Raw"].get("Data", "")))
    body = simple.get("Body") or {}
    headers = {h["Name"]: h["Value"] for h in simple.get("Headers") or []}
    message = OutboxMessage(
        message_id=message_id,
        to=list((params.get("Destination") or {}).get("ToAddresses") or []),
        from_address=str(params.get("FromEmailAddress", "")),
        reply_to=list(params.get("ReplyToAddresses") or []),
        subject=str((simple.get("Subject") or {}).get("Data", "")),
        html=str((body.get("Html") or {}).get("Data", "")),
        text=(body.get("Text") or {}).get("Data"),
        headers=headers,
        tags={t["Name"]: t["Value"] for t in params.get("EmailTags") or []},
        configuration_set=params.get("ConfigurationSetName"),
        sent_at=_iso(ses["clock"].now()),
        real_time=datetime.now(UTC).timestamp(),
    )
    ses["outbox"].add(message)
    outcome = _simulator_outcome(message.to[0]) if message.to else "delivery"
    region = ses["region"]
    clock = ses["clock"]

    def publish() -> None:
        publish_event("send", message, region, clock)
        if outcome == "bounce":
            publish_event("bounce", message, region, clock)
        else:
            publish_event("delivery", message, region, clock)
            if outcome == "complaint":
                publish_event("complaint", message, region, clock)

    ses["deliveries"].submit(publish)


def engage(message_id: str, kind: str, link: str | None = None) -> int:
    """Simulate the recipient opening or clicking a sent message."""
    if kind not in ("open", "click"):
        raise ValueError("kind must be open or click")
    ses = _state["ses"]
    message = ses["outbox"].find(message_id)
    if message is None:
        raise KeyError(f"no message {message_id} in the outbox")
    extra = {"link": link} if link else {}
    done = threading.Event()
    count: list[int] = []

    def publish() -> None:
        count.append(publish_event(kind, message, ses["region"], ses["clock"], **extra))
        done.set()

    ses["deliveries"].submit(publish)
    done.wait(timeout=30)
    return count[0] if count else 0


def inbound_notification(
    original: OutboxMessage,
    topic_arn: str,
    region: str,
    now: datetime,
    *,
    sender: str | None = None,
    text: str | None = None,
) -> dict[str, Any]:
    """The SES ``Received`` notification (SNS action, UTF-8) of a reply to ``original``:
    a real MIME message whose In-Reply-To/References carry the Message-ID SES gave the
    original (``<ses-message-id>@<region>.amazonses.com``)."""
    from email.utils import format_datetime, make_msgid  # noqa: PLC0415

    sender = sender or original.to[0]
    to = (original.reply_to or [original.from_address])[0]
    references = f"<{original.message_id}@{region}.amazonses.com>"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Re: {original.subject}"
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="mail.example.test")
    message["In-Reply-To"] = references
    message["References"] = references
    quoted = "\n".join(f"> {line}" for line in (original.text or original.subject).splitlines())
    message.set_content(f"{text or 'Thanks, this helps!'}\n\n{quoted}\n")
    # Long Message-IDs must stay as they are (the default policy would encode them).
    content = message.as_string(policy=message.policy.clone(max_line_length=998))
    stamp = _iso(now)
    inbound_id = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    verdict = {"status": "PASS"}
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": stamp,
            "source": sender,
            "messageId": inbound_id,
            "destination": [to],
            "headersTruncated": False,
            "headers": [{"name": k, "value": str(v)} for k, v in message.items()],
            "commonHeaders": {
                "returnPath": sender,
                "from": [sender],
                "date": str(message["Date"]),
                "to": [to],
                "messageId": str(message["Message-ID"]),
                "subject": str(message["Subject"]),
            },
        },
        "receipt": {
            "timestamp": stamp,
            "processingTimeMillis": 250,
            "recipients": [to],
            "spamVerdict": verdict,
            "virusVerdict": verdict,
            "spfVerdict": verdict,
            "dkimVerdict": verdict,
            "dmarcVerdict": verdict,
            "action": {"type": "SNS", "topicArn": topic_arn, "encoding": "UTF8"},
        },
        "content": content,
    }


def reply(
    message_id: str, topic_arn: str, sender: str | None = None, text: str | None = None
) -> str:
    """Simulate the recipient replying to a sent message: SES receives it and publishes
    it to the replies topic (the reply function runs). Returns the inbound message id."""
    from moto.sns.models import sns_backends  # noqa: PLC0415

    ses = _state["ses"]
    message = ses["outbox"].find(message_id)
    if message is None:
        raise KeyError(f"no message {message_id} in the outbox")
    notification = inbound_notification(
        message, topic_arn, ses["region"], ses["clock"].now(), sender=sender, text=text
    )
    done = threading.Event()
    errors: list[Exception] = []

    def publish() -> None:
        try:
            sns_backends[ACCOUNT][ses["region"]].publish(
                message=json.dumps(notification), arn=topic_arn
            )
        except Exception as exc:
            errors.append(exc)
            raise
        finally:
            done.set()

    ses["deliveries"].submit(publish)
    done.wait(timeout=30)
    if errors:
        raise ValueError(f"could not publish the reply to {topic_arn}: {errors[0]}")
    return str(notification["mail"]["messageId"])


def uninstall() -> None:
    """Put moto back as it was (tests that run the sandbox in-process)."""
    from moto.events.models import Rule  # noqa: PLC0415
    from moto.sesv2.responses import SESV2Response  # noqa: PLC0415

    events = _state.pop("events", None)
    if events:
        setattr(Rule, "send_to_targets", events["original"])  # noqa: B010
    original = _state.pop("ses_original", None)
    if original:
        setattr(SESV2Response, "send_email", original)  # noqa: B010
    _state.pop("ses", None)
    status = _state.pop("status", None)
    if status:
        from moto.stepfunctions.parser.backend.execution import (  # noqa: PLC0415
            BaseExecutionWorkerCommunication,
        )

        setattr(BaseExecutionWorkerCommunication, "terminated", status)  # noqa: B010
    original_mapping = _state.pop("sqs", None)
    if original_mapping:
        from moto.awslambda.models import LambdaBackend  # noqa: PLC0415

        setattr(LambdaBackend, "create_event_source_mapping", original_mapping)  # noqa: B010
    DELIVERY_LOG.clear()
