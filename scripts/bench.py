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

ZIP_TARGET_BYTES = 5_000_000
BASELINE_MODULE = "boto3"
# Handler module -> allowed import time as a multiple of bare `import boto3`.
HANDLER_TARGETS: dict[str, float] = {
    "mailstep.handlers.send_email": 2.0,
    "mailstep.handlers.check_condition": 1.5,
    "mailstep.handlers.unsubscribe": 1.5,
    "mailstep.handlers.bounce_handler": 1.5,
    "mailstep.handlers.engagement_handler": 1.5,
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


SECTIONS: list[Callable[[Bench], list[Table]]] = [zip_size_section, import_time_section]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zip", type=Path, required=True, help="the Lambda zip to measure")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per module (median)")
    parser.add_argument(
        "--interpreter",
        default=sys.executable,
        help="Python used for import timings (default: this one)",
    )
    args = parser.parse_args(argv)
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
        )
        for section in SECTIONS:
            for table in section(bench):
                print(table.render(), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
