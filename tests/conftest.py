"""Shared fixtures: a moto-backed AWS account with mailstep's resources."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from support import ENV, SECRET, UNSUBSCRIBE_URL, Aws, LambdaContext


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A fresh mocked AWS account with mailstep's tables, bucket, SES identity, SSM
    parameters and bus; captures what is sent to SES and published to EventBridge."""
    from mailstep.adapters import schema, wiring  # noqa: PLC0415 - lazy: unit runs skip it
    from moto import mock_aws  # noqa: PLC0415 - lazy: moto is slow to import

    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        wiring.reset()
        state = Aws()
        db = state.client("dynamodb")
        db.create_table(TableName=ENV["MAILSTEP_TABLE"], **schema.MAIN_TABLE)
        db.create_table(TableName=ENV["MAILSTEP_EVENTS_TABLE"], **schema.EVENTS_TABLE)
        state.client("s3").create_bucket(Bucket=ENV["MAILSTEP_TEMPLATE_BUCKET"])
        ses = state.client("sesv2")
        ses.create_email_identity(EmailIdentity="acme.test")
        ses.create_configuration_set(ConfigurationSetName=ENV["MAILSTEP_CONFIGURATION_SET"])
        ssm = state.client("ssm")
        ssm.put_parameter(
            Name=ENV["MAILSTEP_CONFIG_PARAMETER"],
            Type="String",
            Value=json.dumps({"unsubscribe_url": UNSUBSCRIBE_URL, "data_ttl_days": 30}),
        )
        ssm.put_parameter(Name=ENV["MAILSTEP_SECRET_PARAMETER"], Type="SecureString", Value=SECRET)
        state.client("events").create_event_bus(Name=ENV["MAILSTEP_EVENT_BUS"])

        def capture_send(params: dict[str, Any], **_: Any) -> None:
            state.sent.append(copy.deepcopy(params))

        def capture_put(params: dict[str, Any], **_: Any) -> None:
            for entry in params.get("Entries", []):
                state.published.append({**entry, "Detail": json.loads(entry["Detail"])})

        def capture_stop(params: dict[str, Any], **_: Any) -> None:
            state.stopped.append(params["executionArn"])

        state.client("sesv2").meta.events.register(
            "provide-client-params.sesv2.SendEmail", capture_send
        )
        state.client("events").meta.events.register(
            "provide-client-params.events.PutEvents", capture_put
        )
        state.client("stepfunctions").meta.events.register(
            "provide-client-params.sfn.StopExecution", capture_stop
        )
        yield state
        wiring.reset()


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()
