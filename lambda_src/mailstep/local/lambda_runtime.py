"""Run Lambda functions in-process under moto, instead of in Docker (which is not here).

moto invokes a function through ``LambdaFunction._invoke_lambda(event)``, which needs
Docker. :func:`install` replaces it with a call to the deployed function's own handler
(``handler = "mailstep.handlers.send_email.handler"``), imported from ``lambda_src/``,
with the function's environment variables applied for the duration of the call. The
result, or an error in Lambda's ``{"errorType", "errorMessage"}`` shape, goes back to
moto exactly as Docker's output would, so Step Functions tasks (``Catch`` on the error
type), the Invoke API and every moto-side caller behave as on AWS.

Invocations are serialised with a lock: the environment is process-wide. That is a
deliberate simplification for a local sandbox (no concurrency between functions).
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_LOCK = threading.RLock()
_installed: dict[str, Any] = {}


@dataclass
class Invocation:
    function_name: str
    handler: str
    event: Any
    result: Any = None
    error: str | None = None


@dataclass
class InvocationLog:
    """What ran, for tests and the sandbox's timeline."""

    invocations: list[Invocation] = field(default_factory=list)


LOG = InvocationLog()


@dataclass
class LocalContext:
    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "local"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update({k: str(v) for k, v in variables.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def resolve(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler must be module.function: {handler!r}")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


_last_environment: dict[str, str] = {}


def run(
    function_name: str, handler: str, variables: Mapping[str, str], event: Any
) -> tuple[str, bool]:
    """Invoke ``handler`` like the Lambda runtime would; returns (payload JSON, errored)."""
    from mailstep.adapters import wiring  # noqa: PLC0415

    record = Invocation(function_name, handler, event)
    LOG.invocations.append(record)
    with _LOCK, _environment(variables):
        if dict(variables) != _last_environment:
            wiring.reset()  # cached adapters were built for another function's environment
            _last_environment.clear()
            _last_environment.update(variables)
        try:
            result = resolve(handler)(event, LocalContext(function_name=function_name))
        except Exception as exc:
            record.error = type(exc).__name__
            payload = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-3:],
            }
            return json.dumps(payload), True
    record.result = result
    return json.dumps(result, default=str), False


def install() -> None:
    """Patch moto (idempotent). Call before functions are invoked."""
    if _installed:
        return
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else event
        variables = dict(self.environment_vars or {})
        output, errored = run(self.function_name, self.handler, variables, payload)
        return output, errored, ""

    _installed["original"] = LambdaFunction._invoke_lambda
    setattr(LambdaFunction, "_invoke_lambda", _invoke_lambda)  # noqa: B010


def uninstall() -> None:
    if not _installed:
        return
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415

    setattr(LambdaFunction, "_invoke_lambda", _installed.pop("original"))  # noqa: B010
