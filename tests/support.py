"""Shared test support: constants, event samples, the mocked account's helpers.

Imported as ``from support import …`` (never from ``conftest``: with several conftest.py
files, ``conftest`` names whichever pytest imported last)."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "tests" / "events"
REGION = "us-east-1"
ACCOUNT = "123456789012"
SECRET = "a-test-secret-that-is-long-enough"
UNSUBSCRIBE_URL = "https://unsub.example.test/"
SENDER = "Acme <hello@acme.test>"

ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "MAILSTEP_TABLE": "mailstep-main",
    "MAILSTEP_EVENTS_TABLE": "mailstep-events",
    "MAILSTEP_TEMPLATE_BUCKET": "mailstep-templates",
    "MAILSTEP_CONFIGURATION_SET": "mailstep-config",
    "MAILSTEP_EVENT_BUS": "mailstep-bus",
    "MAILSTEP_CONFIG_PARAMETER": "/mailstep/config",
    "MAILSTEP_SECRET_PARAMETER": "/mailstep/unsubscribe-secret",
    "POWERTOOLS_METRICS_NAMESPACE": "mailstep",
    "POWERTOOLS_SERVICE_NAME": "mailstep",
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def sns_event(*messages: dict[str, Any]) -> dict[str, Any]:
    envelope = load_event("sns_envelope.json")
    template = envelope["Records"][0]
    envelope["Records"] = []
    for message in messages:
        record = copy.deepcopy(template)
        record["Sns"]["Message"] = json.dumps(message)
        envelope["Records"].append(record)
    return envelope


def function_url_event(name: str, token: str | None) -> dict[str, Any]:
    event = load_event(name)
    raw = json.dumps(event)
    if token is None:
        event = json.loads(raw.replace("token=__TOKEN__", "").replace("__TOKEN__", ""))
        if event.get("queryStringParameters"):
            event["queryStringParameters"].pop("token", None)
    else:
        event = json.loads(raw.replace("__TOKEN__", token))
    if event.get("isBase64Encoded") and event.get("body"):
        body = base64.b64decode(event["body"]).decode()
        body = body.replace("__TOKEN__", token or "")
        event["body"] = base64.b64encode(body.encode()).decode()
    return event


class LambdaContext:
    function_name = "mailstep-test"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mailstep-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/mailstep-test"
    log_stream_name = "test"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@dataclass
class Aws:
    """The mocked account, with helpers to arrange state and observe effects."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def client(self, name: str) -> Any:
        from mailstep.adapters import clients  # noqa: PLC0415 - lazy: unit runs skip it

        return clients.client(name)

    def put_template(self, key: str, body: str) -> None:
        self.client("s3").put_object(
            Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"], Key=key, Body=body.encode()
        )

    def items(self, pk: str, table: str = ENV["MAILSTEP_TABLE"]) -> list[dict[str, Any]]:
        from mailstep.adapters.dynamo import deserialize  # noqa: PLC0415 - lazy: unit runs skip it

        response = self.client("dynamodb").query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
        )
        return [deserialize(i) for i in response["Items"]]

    def all_items(self, table: str = ENV["MAILSTEP_TABLE"]) -> list[dict[str, Any]]:
        from mailstep.adapters.dynamo import deserialize  # noqa: PLC0415 - lazy: unit runs skip it

        return [deserialize(i) for i in self.client("dynamodb").scan(TableName=table)["Items"]]

    def start_execution(self, name: str = "run-1") -> str:
        sfn = self.client("stepfunctions")
        arns = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]]
        wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
        arn = (
            arns[0]
            if arns
            else sfn.create_state_machine(
                name="mailstep-onboarding",
                definition=json.dumps(wait),
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
            )["stateMachineArn"]
        )
        return str(sfn.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"])

    def execution_status(self, arn: str) -> str:
        return str(self.client("stepfunctions").describe_execution(executionArn=arn)["status"])


# --------------------------------------------------------------------------- broadcasts

BROADCAST_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:mailstep--broadcast"


def broadcast_resources(aws: Aws, monkeypatch: Any, rate: str = "1000") -> str:
    """The broadcast queue and state machine (a parked Wait: tests play the loop with
    ``drive_broadcast``) and the functions' environment for them; returns the queue URL."""
    from mailstep.adapters import wiring  # noqa: PLC0415 - lazy: unit runs skip it
    from mailstep.handlers import broadcast_send  # noqa: PLC0415

    queue = str(aws.client("sqs").create_queue(QueueName="mailstep-broadcast")["QueueUrl"])
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    aws.client("stepfunctions").create_state_machine(
        name="mailstep--broadcast", definition=json.dumps(wait),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )  # fmt: skip
    monkeypatch.setenv("MAILSTEP_BROADCAST_QUEUE_URL", queue)
    monkeypatch.setenv("MAILSTEP_BROADCAST_STATE_MACHINE", BROADCAST_MACHINE)
    monkeypatch.setenv("MAILSTEP_BROADCAST_SEND_RATE", rate)
    wiring.environment.cache_clear()  # keeps the clients, which carry the capture hooks
    broadcast_send._cache.clear()  # a warm container's cache from an earlier test
    return queue


def drive_broadcast(aws: Aws) -> list[dict[str, Any]]:
    """Play the broadcast state machine for its newest execution: resolve until done."""
    from mailstep.handlers import broadcast  # noqa: PLC0415

    sfn = aws.client("stepfunctions")
    newest = sfn.list_executions(stateMachineArn=BROADCAST_MACHINE)["executions"][0]
    state = json.loads(sfn.describe_execution(executionArn=newest["executionArn"])["input"])
    steps = []
    while not steps or not steps[-1]["done"]:
        state = broadcast.handler({**state, "action": "resolve"}, LambdaContext())
        steps.append(state)
        assert len(steps) < 1000, "the loop does not end"
    return steps


class InProcessLambda:
    """A Lambda client whose ``invoke`` runs a handler here (moto's invoke needs Docker),
    answering in Lambda's shapes, ``FunctionError`` included."""

    def __init__(self, handlers: dict[str, Any]) -> None:
        self.handlers = handlers

    def invoke(self, FunctionName: str, Payload: bytes, **_: Any) -> dict[str, Any]:  # noqa: N803
        import io  # noqa: PLC0415

        try:
            result = self.handlers[FunctionName](json.loads(Payload), LambdaContext())
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            return {"StatusCode": 200, "FunctionError": "Unhandled",
                    "Payload": io.BytesIO(json.dumps(error).encode())}  # fmt: skip
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}
