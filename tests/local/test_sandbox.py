"""The sandbox's shims end to end, in-process, on resources created with boto3.

(tests/system runs the same through `terraform apply`; this file pins each shim.)
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from mailstep.adapters import schema
from mailstep.local.sandbox import LocalAws

ENV = {
    "MAILSTEP_TABLE": "main",
    "MAILSTEP_EVENTS_TABLE": "events",
    "MAILSTEP_TEMPLATE_BUCKET": "templates",
    "MAILSTEP_CONFIGURATION_SET": "config",
    "MAILSTEP_EVENT_BUS": "bus",
    "MAILSTEP_CONFIG_PARAMETER": "/local/config",
    "MAILSTEP_SECRET_PARAMETER": "/local/secret",
    "LOG_LEVEL": "WARNING",
}
HANDLERS = {
    "send-email": "send_email",
    "unsubscribe": "unsubscribe",
    "bounce-handler": "bounce_handler",
    "engagement-handler": "engagement_handler",
}


class Stack:
    failing_machine = ""

    def __init__(self, sandbox: LocalAws, aws: str, http: str) -> None:
        self.sandbox, self.aws, self.http = sandbox, aws, http

    def client(self, name: str) -> Any:
        return boto3.client(
            name,
            endpoint_url=self.aws,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        entry = {
            "Source": "app",
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": "bus",
        }
        assert self.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0

    def settle(self, timeout: float = 20) -> None:
        """Wait until no run is RUNNING and every queued delivery is done."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sandbox.deliveries.drain()
            machines = sfn.list_state_machines()["stateMachines"]
            running = [
                e
                for m in machines
                for e in sfn.list_executions(stateMachineArn=m["stateMachineArn"])["executions"]
                if e["status"] == "RUNNING"
            ]
            if not running:
                self.sandbox.deliveries.drain()
                return
            time.sleep(0.05)
        raise AssertionError("runs still RUNNING")

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return (
            self.client("dynamodb")
            .get_item(TableName="main", Key={"PK": {"S": pk}, "SK": {"S": sk}})
            .get("Item")
        )

    def sent_to(self, email: str) -> list[Any]:
        return [m for m in self.sandbox.outbox.messages if m.to == [email]]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    sandbox = LocalAws(tmp_path_factory.mktemp("local"), scale=0.0)
    endpoints = sandbox.start()
    stack = Stack(sandbox, endpoints.aws, endpoints.http)
    try:
        _provision(stack, endpoints.unsubscribe_url)
        yield stack
    finally:
        sandbox.stop()


def _provision(stack: Stack, unsubscribe_url: str) -> None:
    c = stack.client
    c("dynamodb").create_table(TableName="main", **schema.MAIN_TABLE)
    c("dynamodb").create_table(TableName="events", **schema.EVENTS_TABLE)
    c("s3").create_bucket(Bucket="templates")
    body = b"<p>Hi {{ first_name }} <a href='{{ unsubscribe_url }}'>unsubscribe</a></p>"
    c("s3").put_object(Bucket="templates", Key="demo/hello.html", Body=body)
    c("sesv2").create_email_identity(EmailIdentity="acme.test")
    c("ses").create_configuration_set(ConfigurationSet={"Name": "config"})
    topics = {n: c("sns").create_topic(Name=n)["TopicArn"] for n in ("bounces", "engagement")}
    for name, types in (
        ("bounces", ["bounce", "complaint"]),
        ("engagement", ["delivery", "open", "click", "bounce", "complaint"]),
    ):
        c("ses").create_configuration_set_event_destination(
            ConfigurationSetName="config",
            EventDestination={
                "Name": name,
                "Enabled": True,
                "MatchingEventTypes": types,
                "SNSDestination": {"TopicARN": topics[name]},
            },
        )
    c("ssm").put_parameter(
        Name="/local/config", Type="String", Value=json.dumps({"unsubscribe_url": unsubscribe_url})
    )
    c("ssm").put_parameter(Name="/local/secret", Type="SecureString", Value="s" * 32)
    c("events").create_event_bus(Name="bus")
    role = c("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("placeholder.py", "")
    arns = {
        name: c("lambda").create_function(
            FunctionName=f"local-{name}",
            Runtime="python3.12",
            Role=role,
            Handler=f"mailstep.handlers.{module}.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={"Variables": ENV},
        )["FunctionArn"]
        for name, module in HANDLERS.items()
    }
    c("sns").subscribe(
        TopicArn=topics["bounces"], Protocol="lambda", Endpoint=arns["bounce-handler"]
    )
    c("sns").subscribe(
        TopicArn=topics["engagement"], Protocol="lambda", Endpoint=arns["engagement-handler"]
    )
    send = arns["send-email"]
    common = {
        "sequence_id": "demo",
        "subscriber.$": "$.subscriber",
        "execution_arn.$": "$$.Execution.Id",
    }
    definition = {
        "StartAt": "Register",
        "States": {
            "Register": {
                "Type": "Task",
                "Resource": send,
                "ResultPath": "$.registration",
                "Next": "Hello",
                "Parameters": {"action": "register", "event_id.$": "$.event_id", **common},
            },
            "Hello": {
                "Type": "Task",
                "Resource": send,
                "ResultPath": "$.last_send",
                "Next": "Wait",
                "Parameters": {
                    "action": "send",
                    "step_id": "hello",
                    "template": "demo/hello",
                    "subject": "Hello",
                    "sender": {"from": "Acme <hello@acme.test>"},
                    **common,
                },
            },
            "Wait": {"Type": "Wait", "Seconds": 3 * 86400, "Next": "Complete"},
            "Complete": {
                "Type": "Task",
                "Resource": send,
                "ResultPath": None,
                "End": True,
                "Parameters": {"action": "complete", **common},
            },
        },
    }
    machine = c("stepfunctions").create_state_machine(
        name="local-demo", definition=json.dumps(definition), roleArn=role
    )
    failing = {
        "StartAt": "Register",
        "States": {
            "Register": {
                "Type": "Task",
                "Resource": send,
                "ResultPath": "$.registration",
                "Next": "Broken",
                "Parameters": {"action": "register", "event_id.$": "$.event_id", **common},
            },
            "Broken": {
                "Type": "Task",
                "Resource": send,
                "Parameters": {"action": "nope"},
                "End": True,
            },
        },
    }
    fails = c("stepfunctions").create_state_machine(
        name="local-fails", definition=json.dumps(failing), roleArn=role
    )
    stack.failing_machine = fails["stateMachineArn"]
    c("events").put_rule(
        Name="cleanup",
        EventPattern=json.dumps(
            {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"]},
            }
        ),
    )
    c("events").put_targets(Rule="cleanup", Targets=[{"Id": "send-email", "Arn": send}])
    dlq = c("sqs").create_queue(QueueName="dlq")["QueueUrl"]
    dlq_arn = c("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = c("events")
    events.put_rule(
        Name="demo-trigger",
        EventBusName="bus",
        EventPattern=json.dumps({"detail-type": ["user.signed_up"]}),
    )
    transformer = {
        "InputPathsMap": {
            "id": "$.id",
            "email": "$.detail.email",
            "name": "$.detail.firstName",
            "attrs": "$.detail",
        },
        "InputTemplate": (
            '{"event_id": <id>, "subscriber": '
            '{"email": <email>, "first_name": <name>, "attributes": <attrs>}}'
        ),
    }
    events.put_targets(
        Rule="demo-trigger",
        EventBusName="bus",
        Targets=[
            {
                "Id": "run",
                "Arn": machine["stateMachineArn"],
                "RoleArn": role,
                "InputTransformer": transformer,
            }
        ],
    )
    events.put_rule(
        Name="demo-broken",
        EventBusName="bus",
        EventPattern=json.dumps({"detail-type": ["broken.thing"]}),
    )
    events.put_targets(
        Rule="demo-broken",
        EventBusName="bus",
        Targets=[
            {
                "Id": "f",
                "Arn": send,
                "Input": '{"action": "nope"}',
                "DeadLetterConfig": {"Arn": dlq_arn},
            }
        ],
    )


def test_an_event_runs_the_state_machine_and_the_email_lands_in_the_outbox(stack: Stack) -> None:
    stack.publish("user.signed_up", {"email": "Jane@Example.com", "firstName": "Jane"})
    stack.settle()
    [message] = stack.sent_to("jane@example.com")
    assert message.subject == "Hello"
    assert "Hi Jane" in message.html
    assert message.headers["X-Mailstep-Sequence"] == "demo"
    assert message.events == ["send", "delivery"]
    assert stack.item("SUB#jane@example.com", "EXEC#demo") is None  # completed: rows gone


def test_mailbox_simulator_bounce_suppresses_the_address(stack: Stack) -> None:
    stack.publish("user.signed_up", {"email": "bounce@simulator.amazonses.com", "firstName": "B"})
    stack.settle()
    assert stack.sent_to("bounce@simulator.amazonses.com")[0].events == ["send", "bounce"]
    suppression = stack.item("SUB#bounce@simulator.amazonses.com", "SUPPRESSION")
    assert suppression is not None
    assert suppression["reason"]["S"] == "bounce"


def test_mailbox_simulator_complaint_is_delivered_then_complained(stack: Stack) -> None:
    stack.publish(
        "user.signed_up", {"email": "complaint@simulator.amazonses.com", "firstName": "C"}
    )
    stack.settle()
    assert stack.sent_to("complaint@simulator.amazonses.com")[0].events == [
        "send",
        "delivery",
        "complaint",
    ]
    assert (
        stack.item("SUB#complaint@simulator.amazonses.com", "SUPPRESSION")["reason"]["S"]
        == "complaint"
    )


def test_open_and_click_on_demand_reach_the_events_table(stack: Stack) -> None:
    stack.publish("user.signed_up", {"email": "olga@example.com", "firstName": "Olga"})
    stack.settle()
    [message] = stack.sent_to("olga@example.com")
    request = urllib.request.Request(
        f"{stack.http}/_local/engage",
        method="POST",
        data=json.dumps(
            {"message_id": message.message_id, "kind": "click", "link": "https://acme.test/x"}
        ).encode(),
    )
    assert json.loads(urllib.request.urlopen(request).read()) == {"published": 1}
    items = stack.client("dynamodb").query(
        TableName="events",
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "SUB#olga@example.com"}},
    )["Items"]
    assert sorted(i["event_type"]["S"] for i in items) == ["click", "delivery"]


def test_unsubscribe_page_over_http_get_changes_nothing_and_post_unsubscribes(stack: Stack) -> None:
    stack.publish("user.signed_up", {"email": "una@example.com", "firstName": "Una"})
    stack.settle()
    [message] = stack.sent_to("una@example.com")
    url = message.headers["List-Unsubscribe"].strip("<>")
    page = urllib.request.urlopen(url)
    assert page.status == 200
    assert "Unsubscribe?" in page.read().decode()
    assert stack.item("SUB#una@example.com", "PROFILE")["unsubscribed"]["BOOL"] is False
    one_click = urllib.request.Request(
        url,
        method="POST",
        data=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert urllib.request.urlopen(one_click).status == 200
    assert stack.item("SUB#una@example.com", "PROFILE")["unsubscribed"]["BOOL"] is True


def test_forged_token_gets_a_4xx_page(stack: Stack) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{stack.http}/?token=v1.forged.1.2.x")
    assert error.value.code == 400
    assert "does not work" in error.value.read().decode()


def test_a_target_that_fails_lands_in_its_dead_letter_queue(stack: Stack) -> None:
    stack.publish("broken.thing", {"email": "x@example.com"})
    stack.settle()
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="dlq")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["detail-type"] == "broken.thing"
    assert message["MessageAttributes"]["RULE_ARN"]["StringValue"].endswith("demo-broken")


def test_a_failed_run_is_cleaned_up_through_the_status_change_event(stack: Stack) -> None:
    run_input = {"event_id": "e-fail", "subscriber": {"email": "fay@example.com"}}
    run = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack.failing_machine, input=json.dumps(run_input)
    )
    stack.settle()
    status = stack.client("stepfunctions").describe_execution(executionArn=run["executionArn"])
    assert status["status"] == "FAILED"
    assert stack.item("SUB#fay@example.com", "PROFILE") is not None  # register did run
    assert stack.item("SUB#fay@example.com", "EXEC#demo") is None
    assert stack.item("SEQ#demo", "SUB#fay@example.com") is None
