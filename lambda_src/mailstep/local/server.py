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

SES v1 receipt rules (reply capture)
* ``DeleteReceiptRule`` is missing; the provider calls it when a receipt rule is
  destroyed or replaced. The stub removes the rule from its rule set (AWS answers
  ``RuleSetDoesNotExist`` for an unknown set and succeeds for an unknown rule).

SQS redrive policies
* moto returns a queue's ``RedrivePolicy`` as ``json.dumps`` output (``", "`` and
  ``": "`` separators); AWS returns compact JSON, which is what Terraform's
  ``jsonencode`` writes, so every re-plan showed a whitespace-only change. The stub
  returns it compact.

DynamoDB transactions
* moto deep-copies every table a ``TransactWriteItems`` touches, to roll back on
  failure: each transaction costs time in proportion to the whole table, so a sandbox
  holding thousands of subscribers slows to a crawl. The stub snapshots only the items
  the transaction names and puts exactly those back when it is cancelled.

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
import copy
import json
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.server import ThreadedMotoServer
from moto.ses.exceptions import (
    ConfigurationSetDoesNotExist,
    EventDestinationAlreadyExists,
    RuleSetDoesNotExist,
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


def _delete_receipt_rule(self: Any) -> ActionResult:
    rule_set_name = self._get_param("RuleSetName")
    rule_set = self.backend.receipt_rule_set.get(rule_set_name)
    if rule_set is None:
        raise RuleSetDoesNotExist(f"Rule set does not exist: {rule_set_name}")
    name = self._get_param("RuleName")
    rule_set.rules = [rule for rule in rule_set.rules if rule.get("Name") != name]
    return EmptyResult()


# --- SQS redrive policies ------------------------------------------------------------

_original_queue_attributes = Queue.attributes


def _queue_attributes(self: Any) -> dict[str, Any]:
    result: dict[str, Any] = _original_queue_attributes.fget(self)  # type: ignore[attr-defined]
    if "RedrivePolicy" in result:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
    return result


# --- DynamoDB transactions ------------------------------------------------------

_original_transact_write_items = DynamoDBBackend.transact_write_items


class _SharedTables:
    """Stands in for ``copy`` in moto's DynamoDB models: tables are not copied (the
    transaction stub below restores the items it touched); anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched_key(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[str, Any] | None:
    table = backend.tables.get(op.get("TableName"))
    if table is None:
        return None
    if op_type != "Put":
        return op["TableName"], op.get("Key")
    attrs = op.get("Item") or {}
    names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
    if any(name not in attrs for name in names):
        return None
    return op["TableName"], {name: attrs[name] for name in names}


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    snapshots = []
    for entry in transact_items:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue  # moto raises the right error for it
        op_type, op = next(iter(entry.items()))
        touched = _touched_key(self, op_type, op) if isinstance(op, dict) else None
        if touched and touched[1]:
            try:
                current = self.get_item(*touched)
            except Exception:  # noqa: S112 - a bad key: moto reports it below
                continue
            snapshots.append((*touched, copy.deepcopy(current)))
    try:
        _original_transact_write_items(self, transact_items)
    except Exception:
        for table_name, item_key, before in reversed(snapshots):
            if before is None:
                self.delete_item(table_name, item_key)
            else:
                self.put_item(table_name, before.to_json()["Attributes"])
        raise


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
        "delete_receipt_rule": _delete_receipt_rule,
    },
    Queue: {"attributes": property(_queue_attributes)},
    DynamoDBBackend: {"transact_write_items": _transact_write_items},
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
    setattr(dynamodb_models, "copy", _SharedTables)  # noqa: B010 - patching moto


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
