"""mailstep.local.server: moto on loopback with the operations Terraform needs.

GIVEN the server started in-process on a free port, WHEN boto3 calls the operations
moto lacks or gets wrong, THEN they answer as AWS would; and the server binds
127.0.0.1 only and stops when asked.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from mailstep.local import server

DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
ROLE = "arn:aws:iam::123456789012:role/sfn"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[server.Sandbox]:
    running = server.start(0)
    urllib.request.urlopen(
        urllib.request.Request(f"{running.endpoint_url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    yield running
    running.stop()


def client(sandbox: server.Sandbox, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_binds_loopback_on_the_port_it_reports(sandbox: server.Sandbox) -> None:
    assert sandbox.host == "127.0.0.1"
    assert sandbox.endpoint_url == f"http://127.0.0.1:{sandbox.port}"
    assert sandbox.port > 0


def test_valid_definition_validates_ok(sandbox: server.Sandbox) -> None:
    result = client(sandbox, "stepfunctions").validate_state_machine_definition(
        definition=DEFINITION
    )
    assert result["result"] == "OK"
    assert result["diagnostics"] == []


@pytest.mark.parametrize("definition", ["{not json", json.dumps({"States": {}}), json.dumps([1])])
def test_broken_definition_fails_validation(sandbox: server.Sandbox, definition: str) -> None:
    result = client(sandbox, "stepfunctions").validate_state_machine_definition(
        definition=definition
    )
    assert result["result"] == "FAIL"
    assert result["diagnostics"][0]["severity"] == "ERROR"


def test_versions_are_listed_newest_first(sandbox: server.Sandbox) -> None:
    sfn = client(sandbox, "stepfunctions")
    arn = sfn.create_state_machine(
        name="versions", definition=DEFINITION, roleArn=ROLE, publish=True
    )["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=DEFINITION, publish=True)
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"]


def test_unpublished_state_machine_has_no_versions(sandbox: server.Sandbox) -> None:
    sfn = client(sandbox, "stepfunctions")
    arn = sfn.create_state_machine(name="plain", definition=DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []


def _destination(name: str, types: list[str]) -> dict[str, Any]:
    return {
        "Name": name,
        "Enabled": True,
        "MatchingEventTypes": types,
        "SNSDestination": {"TopicARN": f"arn:aws:sns:us-east-1:123456789012:{name}"},
    }


def test_configuration_set_keeps_every_event_destination(sandbox: server.Sandbox) -> None:
    ses = client(sandbox, "ses")
    ses.create_configuration_set(ConfigurationSet={"Name": "two"})
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="two",
        EventDestination=_destination("bounces", ["bounce", "complaint"]),
    )
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="two", EventDestination=_destination("engagement", ["open", "click"])
    )
    described = ses.describe_configuration_set(
        ConfigurationSetName="two", ConfigurationSetAttributeNames=["eventDestinations"]
    )
    assert {d["Name"]: d["MatchingEventTypes"] for d in described["EventDestinations"]} == {
        "bounces": ["bounce", "complaint"],
        "engagement": ["open", "click"],
    }


def test_event_destinations_are_per_configuration_set(sandbox: server.Sandbox) -> None:
    ses = client(sandbox, "ses")
    for name in ("set-a", "set-b"):
        ses.create_configuration_set(ConfigurationSet={"Name": name})
        ses.create_configuration_set_event_destination(
            ConfigurationSetName=name, EventDestination=_destination("same-name", ["delivery"])
        )
    with pytest.raises(ClientError, match="EventDestinationAlreadyExists"):
        ses.create_configuration_set_event_destination(
            ConfigurationSetName="set-a", EventDestination=_destination("same-name", ["open"])
        )


def test_event_destination_can_be_updated_and_deleted(sandbox: server.Sandbox) -> None:
    ses = client(sandbox, "ses")
    ses.create_configuration_set(ConfigurationSet={"Name": "lifecycle"})
    ses.create_configuration_set_event_destination(
        ConfigurationSetName="lifecycle", EventDestination=_destination("d", ["bounce"])
    )
    ses.update_configuration_set_event_destination(
        ConfigurationSetName="lifecycle", EventDestination=_destination("d", ["click"])
    )
    described = ses.describe_configuration_set(
        ConfigurationSetName="lifecycle", ConfigurationSetAttributeNames=["eventDestinations"]
    )
    assert described["EventDestinations"][0]["MatchingEventTypes"] == ["click"]
    ses.delete_configuration_set_event_destination(
        ConfigurationSetName="lifecycle", EventDestinationName="d"
    )
    with pytest.raises(ClientError, match="EventDestinationDoesNotExist"):
        ses.delete_configuration_set_event_destination(
            ConfigurationSetName="lifecycle", EventDestinationName="d"
        )
    ses.delete_configuration_set(ConfigurationSetName="lifecycle")
    with pytest.raises(ClientError, match="ConfigurationSetDoesNotExist"):
        ses.describe_configuration_set(ConfigurationSetName="lifecycle")


def test_a_receipt_rule_can_be_deleted(sandbox: server.Sandbox) -> None:
    ses = client(sandbox, "ses")
    ses.create_receipt_rule_set(RuleSetName="replies")
    for name in ("first", "second"):
        ses.create_receipt_rule(RuleSetName="replies", Rule={"Name": name, "Recipients": ["a.io"]})

    ses.delete_receipt_rule(RuleSetName="replies", RuleName="first")
    ses.delete_receipt_rule(RuleSetName="replies", RuleName="first")  # gone: still succeeds

    rules = ses.describe_receipt_rule_set(RuleSetName="replies")["Rules"]
    assert [r["Name"] for r in rules] == ["second"]
    with pytest.raises(ClientError, match="RuleSetDoesNotExist"):
        ses.delete_receipt_rule(RuleSetName="nope", RuleName="first")


def test_tls_only_bucket_policy_does_not_lock_out_the_sandbox(sandbox: server.Sandbox) -> None:
    s3 = client(sandbox, "s3")
    s3.create_bucket(Bucket="tls-only")
    s3.put_bucket_policy(
        Bucket="tls-only",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    s3.put_object(Bucket="tls-only", Key="k", Body=b"v")
    assert s3.get_object(Bucket="tls-only", Key="k")["Body"].read() == b"v"


def test_unconditional_deny_still_denies(sandbox: server.Sandbox) -> None:
    """The bucket-policy stub skips only conditional denies."""
    s3 = client(sandbox, "s3")
    s3.create_bucket(Bucket="deny-all")
    s3.put_bucket_policy(
        Bucket="deny-all",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": "arn:aws:s3:::deny-all/*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError):
        s3.put_object(Bucket="deny-all", Key="k", Body=b"v")


def test_redrive_policy_reads_back_as_compact_json(sandbox: server.Sandbox) -> None:
    """As AWS returns it (and jsonencode writes it): no whitespace-only re-plan."""
    sqs = client(sandbox, "sqs")
    dlq = sqs.create_queue(QueueName="compact-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName="compact",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        },
    )["QueueUrl"]
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]["RedrivePolicy"]
    assert policy == f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":5}}'


def test_stop_releases_the_port() -> None:
    running = server.start(0)
    running.stop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", running.port))  # free again


def test_command_line_writes_the_endpoint_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, "-m", "mailstep.local.server", "--port", "0", "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        endpoint = ready.read_text()
        assert endpoint.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
            assert response.status == 200
    finally:
        process.terminate()
        stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert f"listening on {endpoint}" in stdout


def test_a_cancelled_transaction_puts_back_exactly_the_items_it_touched(
    sandbox: server.Sandbox,
) -> None:
    """The transaction stub snapshots items, not tables: a cancelled transaction must still
    leave every item as it was, and a successful one must apply."""
    db = boto3.client("dynamodb", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                      aws_access_key_id="t", aws_secret_access_key="t")  # fmt: skip
    db.create_table(
        TableName="tx", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
    )  # fmt: skip
    db.put_item(TableName="tx", Item={"PK": {"S": "kept"}, "n": {"N": "1"}})
    db.put_item(TableName="tx", Item={"PK": {"S": "guard"}, "n": {"N": "1"}})
    two = {":t": {"N": "2"}}
    failing = [
        {"Update": {"TableName": "tx", "Key": {"PK": {"S": "kept"}},
                    "UpdateExpression": "SET n = :t", "ExpressionAttributeValues": two}},
        {"Put": {"TableName": "tx", "Item": {"PK": {"S": "new"}}}},
        {"ConditionCheck": {"TableName": "tx", "Key": {"PK": {"S": "guard"}},
                            "ConditionExpression": "attribute_not_exists(PK)"}},
    ]  # fmt: skip

    with pytest.raises(ClientError, match="TransactionCanceled"):
        db.transact_write_items(TransactItems=failing)

    assert db.get_item(TableName="tx", Key={"PK": {"S": "kept"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in db.get_item(TableName="tx", Key={"PK": {"S": "new"}})
    db.transact_write_items(TransactItems=failing[:2])
    assert db.get_item(TableName="tx", Key={"PK": {"S": "kept"}})["Item"]["n"] == {"N": "2"}
    assert "Item" in db.get_item(TableName="tx", Key={"PK": {"S": "new"}})
