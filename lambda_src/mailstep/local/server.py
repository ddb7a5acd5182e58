"""Start moto's server on 127.0.0.1 with the Step Functions calls Terraform needs.

moto 5.2 lacks two Step Functions operations that terraform-provider-aws calls:

* ``ValidateStateMachineDefinition`` - at plan time, whenever a state machine
  definition is fully known. The stub checks the definition is a JSON object with
  ``StartAt`` and ``States`` and otherwise reports ``FAIL`` with a diagnostic, so
  a broken definition still fails the plan as it would on AWS.
* ``ListStateMachineVersions`` - when reading a state machine. The stub lists the
  versions moto's backend has recorded (``publish = true``), newest first.

Python API::

    sandbox = start(port=0)          # 0 picks a free port
    sandbox.endpoint_url             # "http://127.0.0.1:<port>"
    sandbox.stop()

Command line (runs until interrupted)::

    python -m mailstep.local.server --port 5000 [--ready-file PATH]

The server always binds 127.0.0.1, never 0.0.0.0 (moto's default).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.core.responses import ActionResult
from moto.server import ThreadedMotoServer
from moto.stepfunctions.responses import StepFunctionResponse

LOOPBACK = "127.0.0.1"
# Pinned in requirements/dev.in; the stubs below are written against it.
MOTO_VERSION = "5.2.5"


def _validate_state_machine_definition(self: Any) -> Any:
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


def _list_state_machine_versions(self: Any) -> Any:
    arn = self._get_param("stateMachineArn")
    machine = self.stepfunction_backend.describe_state_machine(arn)
    versions = [
        {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
        for _, v in sorted(machine.versions.items(), reverse=True)
    ]
    return ActionResult({"stateMachineVersions": versions})


def install_stubs() -> None:
    """Add the missing Step Functions operations to moto's response class (idempotent).

    moto dispatches an operation to the method named after it in snake_case, so a
    method on the class is all an operation needs.
    """
    stubs = {
        "validate_state_machine_definition": _validate_state_machine_definition,
        "list_state_machine_versions": _list_state_machine_versions,
    }
    for name, function in stubs.items():
        if not hasattr(StepFunctionResponse, name):
            setattr(StepFunctionResponse, name, function)


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
        prog="python -m mailstep.local.server", description=__doc__.split("\n\n")[0]
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
        tmp = args.ready_file.with_suffix(".tmp")
        tmp.write_text(sandbox.endpoint_url, encoding="utf-8")
        tmp.replace(args.ready_file)
    print(f"mailstep sandbox listening on {sandbox.endpoint_url}", flush=True)
    stopped.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
