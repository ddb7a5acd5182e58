"""``mailstep local …``: run the whole stack on the local AWS sandbox.

State lives in ``build/local/`` (the sandbox's ``sandbox.json`` with its PID and
endpoints, its log, the Terraform state of the local deployment); emails land in
``build/outbox/``. Every command is safe to run twice.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from mailstep.local.clock import ONE_DAY_PER_SECOND

READY_TIMEOUT = 60
LOCAL_FORWARD_LOCAL_PART = "team"  # replies are forwarded to team@<sender domain>


class LocalError(Exception):
    """Something the user can fix; the message says what."""


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "build" / "local"

    @property
    def ready(self) -> Path:
        return self.state / "sandbox.json"

    @property
    def log(self) -> Path:
        return self.state / "sandbox.log"

    @property
    def outbox(self) -> Path:
        return self.root / "build" / "outbox"

    @property
    def tf_state_dir(self) -> Path:
        """Where scripts/tf.sh keeps the sandbox deployment's state (workspace `local`)."""
        return self.root / "terraform.tfstate.d" / "local"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def running(paths: Paths) -> dict[str, Any] | None:
    """The running sandbox's endpoints, or None (a stale file is removed)."""
    if not paths.ready.exists():
        return None
    info: dict[str, Any] = json.loads(paths.ready.read_text())
    if _alive(int(info["pid"])):
        return info
    paths.ready.unlink(missing_ok=True)
    return None


def _port_free(port: int) -> bool:
    if port == 0:
        return True
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_sandbox(
    paths: Paths, port: int = 0, http_port: int = 0, scale: float = ONE_DAY_PER_SECOND
) -> dict[str, Any]:
    info = running(paths)
    if info:
        say(f"sandbox already running (pid {info['pid']}) at {info['aws']}")
        return info
    for name, value in (("--port", port), ("--http-port", http_port)):
        if not _port_free(value):
            raise LocalError(
                f"port {value} on 127.0.0.1 is taken ({name}); pick another or stop what uses it"
            )
    paths.state.mkdir(parents=True, exist_ok=True)
    # A new sandbox is empty: Terraform state from an earlier one describes nothing real.
    for stale in paths.tf_state_dir.glob("terraform.tfstate*"):
        stale.unlink()
    command = [
        sys.executable,
        "-m",
        "mailstep.local.sandbox",
        "--state",
        str(paths.state),
        "--outbox",
        str(paths.outbox),
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--scale",
        repr(scale),
    ]
    with paths.log.open("ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = paths.log.read_text()[-2000:]
            raise LocalError(
                f"the sandbox exited during start-up (code {process.returncode}):\n{tail}"
            )
        info = running(paths)
        if info:
            say(f"sandbox started (pid {info['pid']}): AWS at {info['aws']}, web at {info['http']}")
            return info
        time.sleep(0.1)
    process.terminate()
    raise LocalError(f"the sandbox did not start within {READY_TIMEOUT} s; see {paths.log}")


def stop_sandbox(paths: Paths) -> bool:
    info = running(paths)
    if not info:
        return False
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    paths.ready.unlink(missing_ok=True)
    say(f"sandbox stopped (pid {pid})")
    return True


def terraform_env(paths: Paths, info: dict[str, Any]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "MAILSTEP_TARGET": "local",
            "MAILSTEP_SANDBOX_URL": str(info["aws"]),
            "TF_IN_AUTOMATION": "1",
        }
    )
    return env


def terraform(paths: Paths, info: dict[str, Any], *args: str, capture: bool = False) -> str:
    """Run scripts/tf.sh; its chatter goes to build/local/terraform.log (shown on failure)."""
    command = [str(paths.root / "scripts" / "tf.sh"), *args]
    log = paths.state / "terraform.log"
    with log.open("a") as sink:
        sink.write(f"\n$ {' '.join(command)}\n")
        sink.flush()
        result = subprocess.run(
            command,
            cwd=paths.root,
            env={**terraform_env(paths, info), "TF_CLI_ARGS": "-no-color"},
            text=True,
            stdout=subprocess.PIPE if capture else sink,
            stderr=sink,
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-25:])
        raise LocalError(
            f"terraform {args[0]} failed (exit {result.returncode}); from {log}:\n{tail}"
        )
    return result.stdout or ""


def sender_domains(root: Path) -> list[str]:
    """The domains the sequences send from (their SES identities must exist)."""
    import yaml  # noqa: PLC0415

    from mailstep.domain.headers import mailbox_address  # noqa: PLC0415

    domains = set()
    for path in sorted((root / "sequences").glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        sender = (data.get("sender") or {}).get("from")
        if isinstance(sender, str):
            domains.add(mailbox_address(sender).split("@", 1)[1])
    return sorted(domains)


# Broadcasts in the sandbox send at most this many emails per (real) second: about what
# the in-process consumer sustains alongside the SES event shims, so pacing shows.
LOCAL_BROADCAST_RATE = 10


def deploy_variables(paths: Paths, info: dict[str, Any]) -> list[str]:
    """The local deployment: links point at the sandbox's page, tables may be destroyed,
    the sequences' sender domain is the SES identity (more are verified directly),
    reply capture is on for the sender domains and broadcasts are paced for one host."""
    variables = [
        f"unsubscribe_base_url={info['unsubscribe_url']}",
        "deletion_protection=false",
        f"broadcast_send_rate={LOCAL_BROADCAST_RATE}",
    ]
    domains = sender_domains(paths.root)
    if domains:
        variables.append(f"ses_identity={domains[0]}")
        # Replies to the sequences' domain are captured (`mailstep local reply`) and
        # forwarded to a team address, which shows up in the outbox.
        recipients = json.dumps(domains)
        variables.append(
            f"reply_capture={{recipients={recipients}, activate=true, "
            f'forward_to="{LOCAL_FORWARD_LOCAL_PART}@{domains[0]}"}}'
        )
    return [arg for variable in variables for arg in ("-var", variable)]


def verify_other_domains(paths: Paths, info: dict[str, Any]) -> None:
    ses = aws_client(info, "ses")
    for domain in sender_domains(paths.root)[1:]:
        ses.verify_domain_identity(Domain=domain)


def up(
    paths: Paths, port: int = 0, http_port: int = 0, scale: float = ONE_DAY_PER_SECOND
) -> dict[str, Any]:
    info = start_sandbox(paths, port, http_port, scale)
    say("building the Lambda zip (make package)…")
    result = subprocess.run(
        ["make", "--no-print-directory", "package"], cwd=paths.root, check=False
    )
    if result.returncode != 0:
        raise LocalError("make package failed; see the output above")
    say("deploying the root module into the sandbox (terraform apply)…")
    started = time.monotonic()
    terraform(paths, info, "init", "-input=false")
    terraform(paths, info, "apply", "-input=false", "-auto-approve", *deploy_variables(paths, info))
    verify_other_domains(paths, info)
    say(f"deployed in {time.monotonic() - started:.0f} s (log: {paths.state / 'terraform.log'})")
    outputs = json.loads(terraform(paths, info, "output", "-json", capture=True))
    info["outputs"] = {k: v.get("value") for k, v in outputs.items() if not v.get("sensitive")}
    (paths.state / "outputs.json").write_text(json.dumps(info["outputs"], indent=2))
    return info


def down(paths: Paths) -> None:
    info = running(paths)
    if info:
        say("destroying the local deployment (terraform destroy)…")
        try:
            terraform(
                paths,
                info,
                "destroy",
                "-input=false",
                "-auto-approve",
                *deploy_variables(paths, info),
            )
        finally:
            stop_sandbox(paths)
    else:
        say("no sandbox is running; nothing to do")
    (paths.state / "outputs.json").unlink(missing_ok=True)


def outputs(paths: Paths) -> dict[str, Any]:
    file = paths.state / "outputs.json"
    if not running(paths) or not file.exists():
        raise LocalError("the sandbox is not up: run `mailstep local up` (or `make demo`)")
    return dict(json.loads(file.read_text()))


def api(paths: Paths, route: str, payload: dict[str, Any] | None = None) -> Any:
    info = running(paths)
    if not info:
        raise LocalError("the sandbox is not running: run `mailstep local up`")
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        f"{info['http']}/_local/{route}", data=data, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise LocalError(f"sandbox: {exc.read().decode()}") from exc


def aws_client(info: dict[str, Any], service: str) -> Any:
    import boto3  # noqa: PLC0415

    return boto3.client(
        service,
        endpoint_url=info["aws"],
        region_name="us-east-1",
        aws_access_key_id="mailstep-local",
        aws_secret_access_key="mailstep-local",
    )


def load_entries(path: Path, bus: str) -> list[dict[str, Any]]:
    """PutEvents entries from a file: an entry, a list of entries, or an EventBridge event."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LocalError(f"{path}: {exc}") from exc
    items = raw if isinstance(raw, list) else [raw]
    entries = []
    for item in items:
        if not isinstance(item, dict):
            raise LocalError(f"{path}: each event must be a JSON object")
        detail_type = item.get("DetailType") or item.get("detail-type")
        detail = item.get("Detail", item.get("detail"))
        if not detail_type or detail is None:
            raise LocalError(
                f"{path}: an event needs DetailType (or detail-type) and Detail (or detail)"
            )
        entries.append(
            {
                "Source": item.get("Source") or item.get("source") or "local.app",
                "DetailType": detail_type,
                "Detail": detail if isinstance(detail, str) else json.dumps(detail),
                "EventBusName": bus,
            }
        )
    return entries


def publish(paths: Paths, files: list[Path]) -> list[str]:
    info = running(paths)
    bus = outputs(paths).get("event_bus_name")
    if not info or not bus:
        raise LocalError("no deployment in the sandbox: run `mailstep local up`")
    ids = []
    for path in files:
        entries = load_entries(path, bus)
        response = aws_client(info, "events").put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise LocalError(f"{path}: EventBridge rejected events: {response['Entries']}")
        ids += [e["EventId"] for e in response["Entries"]]
    return ids


def reply(paths: Paths, message_id: str, sender: str | None = None, text: str | None = None) -> str:
    """Reply to an outbox email as its recipient (or ``sender``): SES's Received
    notification goes to the replies topic. Returns SES's id of the inbound message."""
    topic = outputs(paths).get("replies_topic_arn")
    if not topic:
        raise LocalError(
            "reply capture is not deployed (reply_capture is off): run `mailstep local up`"
        )
    payload = {"message_id": message_id, "topic_arn": topic, "sender": sender, "text": text}
    return str(api(paths, "reply", payload)["inbound_message_id"])


def write_index(
    directory: Path, messages: list[dict[str, Any]], title: str = "mailstep outbox"
) -> Path:
    """``index.html`` listing every email, each linking to its HTML file."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, message in enumerate(messages, start=1):
        stem = f"{number:04d}-{message['message_id']}"
        headers = message.get("headers") or {}
        rows.append(
            "<tr>"
            f"<td>{escape(message['sent_at'][:19].replace('T', ' '))}</td>"
            f"<td>{escape(', '.join(message['to']))}</td>"
            f'<td><a href="{escape(stem)}.html">{escape(message["subject"])}</a></td>'
            f"<td>{escape(headers.get('X-Mailstep-Sequence', ''))}</td>"
            f"<td>{escape(headers.get('X-Mailstep-Step', ''))}</td>"
            f"<td>{escape(', '.join(message.get('events') or []))}</td>"
            "</tr>"
        )
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#1f2937}"
        "table{border-collapse:collapse;width:100%}"
        "td,th{padding:.4rem .6rem;border-bottom:1px solid #e5e7eb;text-align:left;font-size:.9rem}"
        "th{background:#f9fafb}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>{len(messages)} email(s), in the order SES accepted them "
        "(simulated time).</p><table><tr><th>time</th><th>to</th><th>subject</th><th>sequence</th>"
        f"<th>step</th><th>events</th></tr>{''.join(rows)}</table></body></html>"
    )
    path = directory / "index.html"
    path.write_text(html)
    return path
