#!/usr/bin/env python3
"""Print mailstep's performance figures: measured, never guessed (DESIGN 7).

``make bench`` runs ``python scripts/bench.py --zip build/lambda.zip``. Every figure is
reported against its target as "ok" / "over"; nothing is asserted and the exit code
is 0 whenever the measurements could be taken.

Sections (each a function returning a Table; add new ones to SECTIONS):

* zip size and what takes the space;
* handler import time, the cold-start proxy: each handler module is imported in a
  fresh interpreter laid out like the Lambda runtime -- the unzipped package first on
  ``sys.path``, then the standard library, then boto3 and its dependencies (what the
  runtime provides) -- and nothing else: no site-packages, no bytecode written (the
  task root is read-only on Lambda). Median of N runs, compared with ``import boto3``.

Later sections (state transitions per run, cost table) plug in the same way.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ZIP_TARGET_BYTES = 5_000_000
BASELINE_MODULE = "boto3"
# Handler module -> allowed import time as a multiple of bare `import boto3`.
HANDLER_TARGETS: dict[str, float] = {
    "mailstep.handlers.send_email": 2.0,
    "mailstep.handlers.check_condition": 1.5,
    "mailstep.handlers.unsubscribe": 1.5,
    "mailstep.handlers.bounce_handler": 1.5,
    "mailstep.handlers.engagement_handler": 1.5,
    "mailstep.handlers.subscribe": 1.5,
    "mailstep.handlers.broadcast": 2.0,
    "mailstep.handlers.broadcast_send": 2.0,
    "mailstep.handlers.reply": 1.5,
}
# What the Lambda Python runtime puts on sys.path besides the function's code.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
# Environment every function gets (docs/runtime-contract.md) plus what Lambda sets.
LAMBDA_ENV = {
    "MAILSTEP_TABLE": "mailstep-main",
    "MAILSTEP_EVENTS_TABLE": "mailstep-events",
    "MAILSTEP_TEMPLATE_BUCKET": "mailstep-templates",
    "MAILSTEP_CONFIGURATION_SET": "mailstep-config",
    "MAILSTEP_EVENT_BUS": "mailstep-bus",
    "MAILSTEP_CONFIG_PARAMETER": "/mailstep/config",
    "MAILSTEP_SECRET_PARAMETER": "/mailstep/unsubscribe-secret",
    "POWERTOOLS_SERVICE_NAME": "mailstep",
    "POWERTOOLS_METRICS_NAMESPACE": "mailstep",
    "LOG_LEVEL": "INFO",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
}

# Runs inside the measured interpreter (python -I -S -B). Prints one JSON line.
CHILD_SOURCE = r"""
import importlib, json, sys, time
module, task_root, runtime_dir = sys.argv[1:4]
sys.path.insert(0, task_root)
sys.path.append(runtime_dir)
started = time.perf_counter()
try:
    loaded = importlib.import_module(module)
except ModuleNotFoundError as error:
    missing = error.name or ""
    own = module == missing or module.startswith(missing + ".")
    status = "missing" if own else "error"
    print(json.dumps({"status": status, "detail": f"ModuleNotFoundError: {error}"}))
except BaseException as error:
    print(json.dumps({"status": "error", "detail": f"{type(error).__name__}: {error}"}))
else:
    elapsed = time.perf_counter() - started
    print(json.dumps({"status": "ok", "seconds": elapsed, "file": loaded.__file__}))
"""


# --------------------------------------------------------------------------- tables


@dataclass
class Table:
    title: str
    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def render(self) -> str:
        widths = [len(header) for header in self.headers]
        for row in self.rows:
            widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))

        out = [self.title, "=" * len(self.title), line(self.headers)]
        out.append("  ".join("-" * width for width in widths))
        out.extend(line(row) for row in self.rows)
        out.extend(f"  * {note}" for note in self.notes)
        return "\n".join(line.rstrip() for line in out)


@dataclass
class Bench:
    """What every section may use."""

    zip_path: Path
    task_root: Path  # the zip, extracted
    runtime_dir: Path  # boto3 & co, as the Lambda runtime provides them
    interpreter: str
    runs: int
    recipients: int = 200
    rate: float = 10.0


def verdict(value: float, limit: float) -> str:
    return "ok" if value <= limit else "over"


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


# --------------------------------------------------------------------------- zip size


def zip_size_section(bench: Bench) -> list[Table]:
    size = bench.zip_path.stat().st_size
    with zipfile.ZipFile(bench.zip_path) as archive:
        infos = archive.infolist()
    uncompressed = sum(info.file_size for info in infos)
    summary = Table(
        f"Lambda zip: {bench.zip_path}",
        ("figure", "value", "target", "status"),
        [
            (
                "zip size",
                f"{megabytes(size)} ({size} bytes)",
                f"<= {megabytes(ZIP_TARGET_BYTES)}",
                verdict(size, ZIP_TARGET_BYTES),
            ),
            ("unzipped size", megabytes(uncompressed), "", ""),
            ("entries", str(len(infos)), "", ""),
        ],
    )
    by_top: Counter[str] = Counter()
    for info in infos:
        top = info.filename.split("/", 1)[0]
        if top.endswith(".dist-info"):
            top = "*.dist-info"
        by_top[top] += info.compress_size
    largest = Table(
        "Largest top-level entries (compressed)",
        ("entry", "size", "share"),
        [
            (name, megabytes(compressed), f"{compressed / size:.0%}")
            for name, compressed in by_top.most_common(6)
        ],
    )
    return [summary, largest]


# --------------------------------------------------------------------------- import time


@dataclass
class ImportResult:
    status: str  # ok | missing | error
    seconds: list[float] = field(default_factory=list)
    detail: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def child_env(bench: Bench, module: str) -> dict[str, str]:
    function = module.rsplit(".", 1)[-1].replace("_", "-")
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(LAMBDA_ENV)
    env["AWS_LAMBDA_FUNCTION_NAME"] = f"mailstep-{function}"
    env["LAMBDA_TASK_ROOT"] = str(bench.task_root)
    return env


def import_once(bench: Bench, module: str) -> dict[str, object]:
    command = [
        bench.interpreter,
        "-I",
        "-S",
        "-B",
        "-c",
        CHILD_SOURCE,
        module,
        str(bench.task_root),
        str(bench.runtime_dir),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=child_env(bench, module),
        cwd=bench.task_root,
        timeout=120,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": "error", "detail": f"exit {result.returncode}: {tail}"}
    outcome: dict[str, object] = json.loads(lines[-1])
    return outcome


def measure_import(bench: Bench, module: str) -> ImportResult:
    """Median-ready timings of importing module in fresh interpreters (1 warm-up run)."""
    first = import_once(bench, module)  # warm-up: fills the OS file cache, discarded
    if first["status"] != "ok":
        return ImportResult(str(first["status"]), detail=str(first.get("detail", "")))
    if module != BASELINE_MODULE and not str(first["file"]).startswith(str(bench.task_root)):
        return ImportResult("error", detail=f"imported from {first['file']}, not from the zip")
    result = ImportResult("ok")
    for _ in range(bench.runs):
        outcome = import_once(bench, module)
        if outcome["status"] != "ok":
            return ImportResult("error", detail=str(outcome.get("detail", "")))
        result.seconds.append(float(str(outcome["seconds"])))
    return result


def import_time_section(bench: Bench) -> list[Table]:
    baseline = measure_import(bench, BASELINE_MODULE)
    if baseline.status != "ok":
        raise SystemExit(f"bench: cannot import boto3 from {bench.runtime_dir}: {baseline.detail}")
    table = Table(
        f"Handler import time (cold-start proxy; median of {bench.runs} fresh interpreters)",
        ("module", "median", "x boto3", "target", "status"),
        [
            (
                f"import {BASELINE_MODULE} (baseline)",
                f"{baseline.median * 1000:.0f} ms",
                "1.00x",
                "",
                "",
            )
        ],
    )
    for module, limit in HANDLER_TARGETS.items():
        result = measure_import(bench, module)
        if result.status == "ok":
            ratio = result.median / baseline.median
            table.rows.append(
                (
                    module,
                    f"{result.median * 1000:.0f} ms",
                    f"{ratio:.2f}x",
                    f"<= {limit:.1f}x",
                    verdict(ratio, limit),
                )
            )
        else:
            table.rows.append((module, "-", "-", f"<= {limit:.1f}x", result.status))
            if result.detail and result.status == "error":
                table.notes.append(f"{module}: {result.detail}")
    table.notes.append(
        f"interpreter {bench.interpreter} (Python {interpreter_version(bench.interpreter)}) on "
        f"{platform.machine()}; Lambda runs the zip's target runtime, so absolute times differ "
        "while ratios carry over"
    )
    table.notes.append("no bytecode is written or shipped: zip modules compile on every import")
    return [table]


def interpreter_version(interpreter: str) -> str:
    result = subprocess.run(
        [interpreter, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "?"


# --------------------------------------------------------------------------- setup


def build_runtime_dir(root: Path) -> Path:
    """A directory holding only what the Lambda runtime provides (symlinks into this venv)."""
    runtime = root / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            if name == BASELINE_MODULE:
                raise SystemExit(
                    "bench: boto3 is not installed in this interpreter; run make setup"
                )
            continue
        source = Path(spec.origin)
        if spec.submodule_search_locations:  # a package: link its directory
            source = source.parent
        (runtime / source.name).symlink_to(source)
    return runtime


# --------------------------------------------------------------------------- broadcast


def broadcast_section(bench: Bench) -> list[Table]:
    """A broadcast to ``bench.recipients`` subscribers in an in-process moto account: the
    real loop (``resolve``) and two concurrent ``broadcast-send`` consumers sharing the
    rate limiter, against ``bench.rate``. Every SES call is timestamped."""
    import time  # noqa: PLC0415

    from mailstep.local import server  # noqa: PLC0415
    from moto import mock_aws  # noqa: PLC0415 - dev dependency, bench only

    server.install_stubs()  # the sandbox's moto fixes (transactions copy items, not tables)
    os.environ.update({**LAMBDA_ENV, "MAILSTEP_BROADCAST_SEND_RATE": str(bench.rate)})
    with mock_aws():
        from mailstep.adapters import clients, schema, wiring  # noqa: PLC0415
        from mailstep.domain import broadcasts  # noqa: PLC0415

        wiring.reset()
        queue = _bench_account(clients.client, bench.recipients, schema)
        os.environ["MAILSTEP_BROADCAST_QUEUE_URL"] = queue
        os.environ["MAILSTEP_BROADCAST_STATE_MACHINE"] = _parked_machine(clients.client)
        wiring.environment.cache_clear()
        sends: list[float] = []
        clients.client("sesv2").meta.events.register(
            "provide-client-params.sesv2.SendEmail", lambda **_: sends.append(time.monotonic())
        )
        bsvc = wiring.broadcast_services()
        payload = {"broadcast_id": "bench", "template": "bench/news", "subject": "News",
                   "sender": {"from": "Bench <bench@bench.test>"}}  # fmt: skip
        started = time.monotonic()
        broadcasts.create(bsvc, payload)
        count_calls = _loop(bsvc, "count")
        counted = time.monotonic() - started
        broadcasts.start(bsvc, {"broadcast_id": "bench"})
        send_started = time.monotonic()
        send_calls = _loop(bsvc, "send")
        _consume(clients.client("sqs"), queue, sends, bench)
        elapsed = max(sends) - send_started if sends else 0.0
    peak = _peak_per_second(sends)
    achieved = len(sends) / elapsed if elapsed else 0.0
    chunk = broadcasts.chunk_size(bench.rate)
    million = 1_000_000
    iterations = -(-million // chunk)
    table = Table(
        f"Broadcast to {bench.recipients} subscribers at {bench.rate:g}/s "
        "(in-process moto, 2 consumers)",
        ("figure", "value", "target", "status"),
        [
            ("dry run (count) time", f"{counted:.1f} s", "", ""),
            (
                "emails sent (each once)",
                str(len(sends)),
                str(bench.recipients),
                verdict(abs(len(sends) - bench.recipients), 0),
            ),
            (
                "send throughput",
                f"{achieved:.1f}/s",
                f"<= {bench.rate:g}/s",
                verdict(achieved, bench.rate * 1.001),
            ),
            (
                "busiest 1-s window",
                f"{peak} emails",
                f"~{bench.rate:g} (+1 jitter)",
                verdict(peak, bench.rate + 1),
            ),
            ("throughput / configured rate", f"{achieved / bench.rate:.0%}", "", ""),
            ("loop calls (count + send)", f"{count_calls} + {send_calls}", "", ""),
            (
                "1M subscribers at this rate",
                f"{million / bench.rate / 3600:.1f} h, "
                f"{iterations} loop iterations in {-(-iterations // broadcasts.MAX_ITERATIONS)} "
                "executions",
                "",
                "",
            ),
        ],
    )
    table.notes.append(
        f"sends are spaced {1 / bench.rate:.3f} s apart by the limiter's slots; a call that "
        "starts late can share a 1-s window with the next one (SES accepts short bursts "
        "above the rate, not sustained ones)"
    )
    table.notes.append(
        "the state machine's waits are skipped here: the consumers' shared limiter alone holds "
        "the rate; above ~20/s in-process moto, not the limiter, caps the throughput"
    )
    return [table]


def _consume(sqs: Any, queue: str, sends: list[float], bench: Bench) -> None:
    """Two consumers, as the event source mapping runs them, until everyone is sent."""
    import threading  # noqa: PLC0415

    from mailstep.handlers import broadcast_send  # noqa: PLC0415

    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set():
            got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = got.get("Messages", [])
            records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in messages]
            if records:
                broadcast_send.handler({"Records": records}, _BenchContext())
                for m in messages:
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            elif len(sends) >= bench.recipients:
                return

    workers = [threading.Thread(target=consume) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=bench.recipients / bench.rate * 3 + 60)
    stop.set()


class _BenchContext:
    function_name = "mailstep-broadcast-send"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def _bench_account(client: Callable[[str], object], recipients: int, schema: object) -> str:
    db: Any = client("dynamodb")
    db.create_table(TableName=LAMBDA_ENV["MAILSTEP_TABLE"], **schema.MAIN_TABLE)  # type: ignore[attr-defined]
    s3: Any = client("s3")
    s3.create_bucket(Bucket=LAMBDA_ENV["MAILSTEP_TEMPLATE_BUCKET"])
    s3.put_object(Bucket=LAMBDA_ENV["MAILSTEP_TEMPLATE_BUCKET"], Key="bench/news.html",
                  Body=b"<p>Hello {{ first_name }}</p>")  # fmt: skip
    ses: Any = client("sesv2")
    ses.create_email_identity(EmailIdentity="bench.test")
    ssm: Any = client("ssm")
    ssm.put_parameter(Name=LAMBDA_ENV["MAILSTEP_CONFIG_PARAMETER"], Type="String",
                      Value=json.dumps({"unsubscribe_url": "https://u.bench.test/"}))  # fmt: skip
    ssm.put_parameter(Name=LAMBDA_ENV["MAILSTEP_SECRET_PARAMETER"], Type="SecureString",
                      Value="a-bench-secret-long-enough")  # fmt: skip
    client("events").create_event_bus(Name=LAMBDA_ENV["MAILSTEP_EVENT_BUS"])  # type: ignore[attr-defined]
    rows = [
        {"PutRequest": {"Item": {
            "PK": {"S": f"SUB#user{n}@bench.test"}, "SK": {"S": "PROFILE"},
            "email": {"S": f"user{n}@bench.test"}, "first_name": {"S": f"U{n}"},
            "unsubscribed": {"BOOL": False}, "suppressed": {"BOOL": False},
        }}}
        for n in range(recipients)
    ]  # fmt: skip
    for start in range(0, len(rows), 25):
        db.batch_write_item(RequestItems={LAMBDA_ENV["MAILSTEP_TABLE"]: rows[start : start + 25]})
    sqs: Any = client("sqs")
    return str(sqs.create_queue(QueueName="bench-broadcast")["QueueUrl"])


def _parked_machine(client: Callable[[str], object]) -> str:
    sfn: Any = client("stepfunctions")
    wait = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    return str(sfn.create_state_machine(
        name="bench--broadcast", definition=json.dumps(wait),
        roleArn="arn:aws:iam::123456789012:role/bench",
    )["stateMachineArn"])  # fmt: skip


def _loop(bsvc: Any, mode: str) -> int:
    """Play the state machine: resolve until done (its waits skipped)."""
    from mailstep.domain import broadcasts  # noqa: PLC0415

    state: dict[str, Any] = {"broadcast_id": "bench", "mode": mode, "cursor": None, "iteration": 0}
    calls = 0
    while True:
        state = broadcasts.resolve(bsvc, state)
        calls += 1
        if state["done"]:
            return calls


def _peak_per_second(moments: list[float]) -> int:
    """The most sends inside any one-second window."""
    ordered, peak, first = sorted(moments), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 1.0:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


SECTIONS: list[Callable[[Bench], list[Table]]] = [
    zip_size_section,
    import_time_section,
    broadcast_section,
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zip", type=Path, required=True, help="the Lambda zip to measure")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per module (median)")
    parser.add_argument(
        "--interpreter",
        default=sys.executable,
        help="Python used for import timings (default: this one)",
    )
    parser.add_argument("--broadcast-recipients", type=int, default=200)
    parser.add_argument(
        "--broadcast-rate", type=float, default=10.0,
        help="emails/second (keep it below what in-process moto can serve, ~20/s)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.broadcast_recipients < 1 or args.broadcast_rate <= 0:
        parser.error("--broadcast-recipients and --broadcast-rate must be positive")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.zip.is_file():
        print(f"bench: {args.zip} not found; run `make package` first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="mailstep-bench-") as scratch:
        root = Path(scratch)
        task_root = root / "task"
        with zipfile.ZipFile(args.zip) as archive:
            archive.extractall(task_root)
        bench = Bench(
            zip_path=args.zip,
            task_root=task_root,
            runtime_dir=build_runtime_dir(root),
            interpreter=args.interpreter,
            runs=args.runs,
            recipients=args.broadcast_recipients,
            rate=args.broadcast_rate,
        )
        for section in SECTIONS:
            for table in section(bench):
                print(table.render(), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
