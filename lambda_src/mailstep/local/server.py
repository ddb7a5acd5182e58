"""Start moto's server on 127.0.0.1 with the operations Terraform needs filled in.

Gaps of moto 5.2.5 (pinned in requirements/dev.in) that ``terraform apply`` of the
root module hits, and what the stubs here do instead:

Step Functions (needed once state machines exist)
* ``ValidateStateMachineDefinition`` is missing; the provider calls it at plan
  time for every fully known definition. The stub reports ``OK`` for a JSON object
  with ``StartAt`` and ``States`` and ``FAIL`` with a diagnostic otherwise, so a
  broken definition still fails the plan as it would on AWS.
* ``ListStateMachineVersions`` is missing; the provider calls it when reading a
  state machine. The stub lists the versions moto recorded, newest first.

IAM policy conditions (S3 bucket policies)
* moto ignores condition operators it does not implement (``Bool``, ``ArnLike``...),
  which turns a condition-guarded Deny into an unconditional one: the templates
  bucket's "deny unless TLS" statement denies every request. The stub skips Deny
  statements that carry a Condition: requests to the sandbox are taken to meet
  such guards (loopback HTTP stands in for TLS). Allow statements are unchanged.

SES v1 configuration-set event destinations
* moto keeps ONE destination per configuration set (a second one replaces the
  first) and has no ``DeleteConfigurationSetEventDestination``. The stubs keep
  every destination by name per configuration set, describe them all, update and
  delete them, and drop them with their configuration set.

SQS redrive policies
* moto returns a queue's ``RedrivePolicy`` as ``json.dumps`` output (``", "`` and
  ``": "`` separators); AWS returns compact JSON, which is what Terraform's
  ``jsonencode`` writes, so every re-plan showed a whitespace-only change. The stub
  returns it compact.

Python API::

    sandbox = start(port=0)          # 0 picks a free port
    sandbox.endpoint_url             # "http://127.0.0.1:<port>"
    sandbox.stop()

Command line (runs until SIGINT/SIGTERM)::

    python -m mailstep.local.server --port 5000 [--ready-file PATH]

The server always binds 127.0.0.1, never moto's default 0.0.0.0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.server import ThreadedMotoServer
from moto.ses.exceptions import (
    ConfigurationSetDoesNotExist,
    EventDestinationAlreadyExists,
    SesError,
)
from moto.ses.responses import EmailResponse
from moto.sqs.models import Queue
from moto.stepfunctions.responses import StepFunctionResponse

LOOPBACK = "127.0.0.1"
MOTO_VERSION = "5.2.5"  # the version these stubs were written and tested against


# --- Step Functions ----------------------------------------------------------------


def _validate_state_machine_definition(self: Any) -> ActionResult:
    definition = self._get_param("definition")
    diagnostics: list[dict[str, str]] = []
    try:
        parsed = json.loads(definition) if isinstance(definition, str) else None
    except ValueError as exc:
        parsed = None
        diagnostics.append(
            {"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": str(exc)}
        )
    if not diagnostics and not (
        isinstance(parsed, dict) and "StartAt" in parsed and "States" in parsed
    ):
        diagnostics.append(
            {
                "severity": "ERROR",
                "code": "SCHEMA_VALIDATION_FAILED",
                "message": "a state machine definition needs StartAt and States",
            }
        )
    return ActionResult(
        {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}
    )


def _list_state_machine_versions(self: Any) -> ActionResult:
    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = [
        {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
        for _, v in sorted(machine.versions.items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


# --- IAM policy conditions -------------------------------------------------------

_original_statement_is_action_permitted = IAMPolicyStatement.is_action_permitted


def _statement_is_action_permitted(self: Any, *args: Any, **kwargs: Any) -> Any:
    if self._statement.get("Effect") == "Deny" and self._statement.get("Condition"):
        return PermissionResult.NEUTRAL
    return _original_statement_is_action_permitted(self, *args, **kwargs)


# --- SES v1 event destinations -----------------------------------------------------


class EventDestinationDoesNotExist(SesError):
    code = "EventDestinationDoesNotExist"


def _destinations(self: Any, configuration_set_name: str) -> dict[str, dict[str, Any]]:
    """The named destinations of one configuration set (raises if the set is unknown)."""
    backend = self.backend
    if configuration_set_name not in backend.config_sets:
        raise ConfigurationSetDoesNotExist(
            f"Configuration set <{configuration_set_name}> does not exist."
        )
    by_set: dict[str, dict[str, dict[str, Any]]] = backend.__dict__.setdefault(
        "mailstep_event_destinations", {}
    )
    return by_set.setdefault(configuration_set_name, {})


def _create_configuration_set_event_destination(self: Any) -> ActionResult:
    destination = self._get_param("EventDestination", {})
    destinations = _destinations(self, self._get_param("ConfigurationSetName"))
    if destination["Name"] in destinations:
        raise EventDestinationAlreadyExists(
            f"Event destination {destination['Name']} already exists."
        )
    destinations[destination["Name"]] = destination
    return EmptyResult()


def _update_configuration_set_event_destination(self: Any) -> ActionResult:
    destination = self._get_param("EventDestination", {})
    destinations = _destinations(self, self._get_param("ConfigurationSetName"))
    if destination["Name"] not in destinations:
        raise EventDestinationDoesNotExist(
            f"Event destination {destination['Name']} does not exist."
        )
    destinations[destination["Name"]] = destination
    return EmptyResult()


def _delete_configuration_set_event_destination(self: Any) -> ActionResult:
    name = self._get_param("EventDestinationName")
    destinations = _destinations(self, self._get_param("ConfigurationSetName"))
    if destinations.pop(name, None) is None:
        raise EventDestinationDoesNotExist(f"Event destination {name} does not exist.")
    return EmptyResult()


def _describe_configuration_set(self: Any) -> ActionResult:
    name = self._get_param("ConfigurationSetName")
    destinations = _destinations(self, name)
    result: dict[str, Any] = {"ConfigurationSet": {"Name": name}}
    if "eventDestinations" in self._get_param("ConfigurationSetAttributeNames", []):
        result["EventDestinations"] = list(destinations.values())
    return ActionResult(result)


_original_delete_configuration_set = EmailResponse.delete_configuration_set


def _delete_configuration_set(self: Any) -> Any:
    response = _original_delete_configuration_set(self)
    self.backend.__dict__.get("mailstep_event_destinations", {}).pop(
        self._get_param("ConfigurationSetName"), None
    )
    return response


# --- SQS redrive policies ------------------------------------------------------------

_original_queue_attributes = Queue.attributes


def _queue_attributes(self: Any) -> dict[str, Any]:
    result: dict[str, Any] = _original_queue_attributes.fget(self)  # type: ignore[attr-defined]
    if "RedrivePolicy" in result:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
    return result


# --- installation --------------------------------------------------------------

STUBS: dict[type, dict[str, Callable[..., Any] | property]] = {
    StepFunctionResponse: {
        "validate_state_machine_definition": _validate_state_machine_definition,
        "list_state_machine_versions": _list_state_machine_versions,
    },
    IAMPolicyStatement: {"is_action_permitted": _statement_is_action_permitted},
    EmailResponse: {
        "create_configuration_set_event_destination": _create_configuration_set_event_destination,
        "update_configuration_set_event_destination": _update_configuration_set_event_destination,
        "delete_configuration_set_event_destination": _delete_configuration_set_event_destination,
        "describe_configuration_set": _describe_configuration_set,
        "delete_configuration_set": _delete_configuration_set,
    },
    Queue: {"attributes": property(_queue_attributes)},
}


def install_stubs() -> None:
    """Install the stubs on moto's classes (idempotent).

    moto dispatches an operation to the response-class method named after it in
    snake_case, so setting the method is all an operation needs (a model's property
    is replaced by a property).
    """
    for cls, methods in STUBS.items():
        for name, function in methods.items():
            setattr(cls, name, function)


@dataclass
class Sandbox:
    """A running moto server; ``stop()`` shuts it down and joins its thread."""

    server: ThreadedMotoServer
    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.stop()


def start(port: int = 0, *, log_requests: bool = False) -> Sandbox:
    """Start the sandbox on 127.0.0.1:``port`` (0 = a free port) and return it.

    Sets ``MOTO_PORT``: moto's Step Functions interpreter calls back into the server
    on ``localhost:$MOTO_PORT``. Request lines are logged only with ``log_requests``.
    """
    if not log_requests:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    install_stubs()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    os.environ["MOTO_PORT"] = str(bound_port)
    return Sandbox(server=server, host=host, port=bound_port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mailstep.local.server",
        description="Run the mailstep local AWS sandbox (moto) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--log-requests", action="store_true", help="log every request line")
    parser.add_argument(
        "--ready-file", type=Path, help="write the endpoint URL here once the server listens"
    )
    args = parser.parse_args(argv)

    sandbox = start(args.port, log_requests=args.log_requests)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    if args.ready_file is not None:
        tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
        tmp.write_text(sandbox.endpoint_url, encoding="utf-8")
        tmp.replace(args.ready_file)
    print(f"mailstep sandbox listening on {sandbox.endpoint_url}", flush=True)
    stopped.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
