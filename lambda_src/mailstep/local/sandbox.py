"""The local AWS sandbox: moto on 127.0.0.1 plus mailstep's shims, in one process.

What runs here (each piece documented in ``docs/local-sandbox.md``):

* moto's server with the stubs Terraform needs (:mod:`mailstep.local.server`);
* Step Functions executing ASL, with Wait states and retries compressed
  (:mod:`mailstep.local.clock`) and Lambda tasks running the deployed handlers
  in-process (:mod:`mailstep.local.lambda_runtime`);
* EventBridge delivery to Step Functions / Lambda / SNS targets, SQS event source
  mappings polled like Lambda does, and the SES outbox with configuration-set event
  publishing (:mod:`mailstep.local.shims`);
* an HTTP front on 127.0.0.1 that serves the unsubscribe Function URL (any path but
  ``/_local/``) by invoking the deployed unsubscribe function, plus a small control API
  under ``/_local/`` (outbox, engagement, replies, drain, status) for the CLI and tests.

``python -m mailstep.local.sandbox --state build/local`` runs it until SIGTERM and
writes ``<state>/sandbox.json`` once it is ready.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mailstep.local import clock as clock_mod
from mailstep.local import lambda_runtime, server, shims

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
UNSUBSCRIBE_HANDLER = "mailstep.handlers.unsubscribe.handler"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "mailstep-local",
    "AWS_SECRET_ACCESS_KEY": "mailstep-local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class Endpoints:
    pid: int
    aws: str
    http: str
    unsubscribe_url: str
    scale: float


class LocalAws:
    def __init__(
        self,
        state_dir: Path,
        port: int = 0,
        http_port: int = 0,
        scale: float = clock_mod.ONE_DAY_PER_SECOND,
        outbox_dir: Path | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.port = port
        self.http_port = http_port
        self.scale = scale
        self.outbox = shims.Outbox(outbox_dir or state_dir / "outbox")
        self.deliveries = shims.Deliveries()
        self.event_sources: shims.SqsEventSources | None = None
        self.clock = clock_mod.SimClock(scale=scale)
        self._moto: server.Sandbox | None = None
        self._http: ThreadingHTTPServer | None = None
        # What start() overrides process-wide, put back by stop(): an in-process
        # sandbox (tests) must not leave later boto3 clients pointing at a dead endpoint.
        self._saved_env: dict[str, str | None] = {}
        self._saved_execute: bool | None = None

    def start(self) -> Endpoints:
        from moto.core.config import default_user_config  # noqa: PLC0415

        self._saved_env = {k: os.environ.get(k) for k in (*FAKE_CREDENTIALS, "AWS_ENDPOINT_URL")}
        sfn_config = default_user_config.setdefault("stepfunctions", {})
        self._saved_execute = sfn_config.get("execute_state_machine")
        os.environ.update(FAKE_CREDENTIALS)
        sfn_config["execute_state_machine"] = True
        self._moto = server.start(self.port)
        os.environ["AWS_ENDPOINT_URL"] = self._moto.endpoint_url  # for the in-process handlers
        lambda_runtime.install()
        self.clock = clock_mod.install(self.scale)
        shims.install_eventbridge(self.deliveries)
        shims.install_status_events()
        shims.install_ses(self.outbox, self.deliveries, self.clock, REGION)
        self.event_sources = shims.install_sqs_event_sources(REGION)
        self.event_sources.start()
        self._http = ThreadingHTTPServer((LOOPBACK, self.http_port), _handler_for(self))
        threading.Thread(target=self._http.serve_forever, name="mailstep-http", daemon=True).start()
        http = f"http://{LOOPBACK}:{self._http.server_address[1]}"
        return Endpoints(os.getpid(), self._moto.endpoint_url, http, f"{http}/", self.scale)

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()
        self.deliveries.stop()
        if self.event_sources:
            self.event_sources.stop()
        if self._moto:
            self._moto.stop()
        shims.uninstall()
        clock_mod.uninstall()
        lambda_runtime.uninstall()
        self._restore_process_settings()

    def _restore_process_settings(self) -> None:
        from moto.core.config import default_user_config  # noqa: PLC0415

        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        if self._saved_execute is not None:
            sfn_config = default_user_config.setdefault("stepfunctions", {})
            sfn_config["execute_state_machine"] = self._saved_execute
            self._saved_execute = None

    # ------------------------------------------------------------------ control API

    def unsubscribe_function(self) -> tuple[str, dict[str, str]]:
        from moto.awslambda.utils import get_backend  # noqa: PLC0415

        backend = get_backend(shims.ACCOUNT, REGION)
        for function in backend.list_functions():
            if function.handler == UNSUBSCRIBE_HANDLER:
                return function.function_name, dict(function.environment_vars or {})
        raise LookupError("no unsubscribe function is deployed (run `mailstep local up`)")

    def status(self) -> dict[str, Any]:
        return {
            "messages": len(self.outbox.messages),
            "delivery_failures": self.deliveries.failures,
            "deliveries": [asdict(d) for d in shims.DELIVERY_LOG[-200:]],
            "invocations": [
                {"function": i.function_name, "error": i.error}
                for i in lambda_runtime.LOG.invocations[-200:]
            ],
            "simulated_now": self.clock.now().isoformat(),
        }


def function_url_event(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """A Lambda Function URL request (payload format 2.0), as AWS builds it."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "requestContext": {
            "accountId": "anonymous",
            "domainName": headers.get("Host", LOOPBACK),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": LOOPBACK,
                "userAgent": headers.get("User-Agent", ""),
            },
            "requestId": str(time.time_ns()),
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(body),
    }
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query))
    if body:
        event["body"] = base64.b64encode(body).decode()
    return event


def _handler_for(sandbox: LocalAws) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mailstep-local"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            payload = body.encode()
            self.send_response(status)
            for key, value in (headers or {"content-type": "application/json"}).items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def _body(self) -> bytes:
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(min(length, 64 * 1024)) if length else b""

        def _function_url(self) -> None:
            parts = urlsplit(self.path)
            try:
                name, variables = sandbox.unsubscribe_function()
            except LookupError as exc:
                self._send(503, json.dumps({"error": str(exc)}))
                return
            event = function_url_event(
                self.command, parts.path or "/", parts.query, dict(self.headers), self._body()
            )
            output, errored = lambda_runtime.run(name, UNSUBSCRIBE_HANDLER, variables, event)
            result = json.loads(output)
            if errored:
                self._send(502, json.dumps(result))
                return
            self._send(
                int(result.get("statusCode", 200)),
                str(result.get("body", "")),
                result.get("headers"),
            )

        def _control(self) -> None:
            route = urlsplit(self.path).path.removeprefix("/_local/")
            if route == "status":
                self._send(200, json.dumps(sandbox.status()))
            elif route == "outbox":
                self._send(200, json.dumps([asdict(m) for m in sandbox.outbox.messages]))
            elif route == "drain" and self.command == "POST":
                sandbox.deliveries.drain()
                self._send(200, "{}")
            elif route == "engage" and self.command == "POST":
                request = json.loads(self._body() or b"{}")
                try:
                    count = shims.engage(
                        request["message_id"], request["kind"], request.get("link")
                    )
                except (KeyError, ValueError) as exc:
                    self._send(400, json.dumps({"error": str(exc)}))
                    return
                self._send(200, json.dumps({"published": count}))
            elif route == "reply" and self.command == "POST":
                request = json.loads(self._body() or b"{}")
                try:
                    inbound = shims.reply(
                        request["message_id"],
                        request["topic_arn"],
                        request.get("sender"),
                        request.get("text"),
                    )
                except (KeyError, ValueError) as exc:
                    self._send(400, json.dumps({"error": str(exc)}))
                    return
                self._send(200, json.dumps({"inbound_message_id": inbound}))
            else:
                self._send(404, json.dumps({"error": f"no route {route}"}))

        def _dispatch(self) -> None:
            if self.path.startswith("/_local/"):
                self._control()
            else:
                self._function_url()

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _dispatch  # noqa: N815

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mailstep.local.sandbox", description=__doc__)
    parser.add_argument("--state", type=Path, default=Path("build/local"))
    parser.add_argument(
        "--outbox", type=Path, help="folder for sent emails (default: <state>/outbox)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="AWS endpoint port on 127.0.0.1 (0: any)"
    )
    parser.add_argument(
        "--http-port", type=int, default=0, help="unsubscribe/control port (0: any)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=clock_mod.ONE_DAY_PER_SECOND,
        help="real seconds per simulated second (default: a day per second)",
    )
    args = parser.parse_args(argv)
    args.state.mkdir(parents=True, exist_ok=True)
    sandbox = LocalAws(args.state, args.port, args.http_port, args.scale, args.outbox)
    endpoints = sandbox.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    ready = args.state / "sandbox.json"
    tmp = ready.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(endpoints), indent=2))
    tmp.replace(ready)
    stopped.wait()
    sandbox.stop()
    ready.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
