#!/usr/bin/env python3
"""Build the deterministic Lambda zip (``build/lambda.zip``).

Same sources + same ``requirements/lambda.txt`` -> byte-identical zip, so
``source_code_hash`` only changes when code or dependencies do:

* entries sorted by name, every entry dated 1980-01-01 00:00:00;
* modes fixed: 0o644 for files, 0o755 for directories (Unix "made by");
* DEFLATE at a fixed level; no ``__pycache__``, ``*.pyc``, ``bin/`` or hidden files.

Contents: the ``mailstep`` package minus the parts Lambdas never import
(``cli``, ``mcp``, ``local``, ``ops`` and tests), plus the pinned runtime dependencies
vendored for the Lambda platform. boto3/botocore come with the Lambda runtime and
must never be vendored (a bundled copy would shadow the runtime's).

Vendored dependencies are cached in ``build/vendor/<arch>-py<ver>-<hash>/``, keyed by
the requirements file's content, so only the first build talks to PyPI.

Usage: python scripts/package.py --arch arm64 --python 3.12 --out build/lambda.zip
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PACKAGE_DIR = REPO_ROOT / "lambda_src" / "mailstep"
DEFAULT_REQUIREMENTS = REPO_ROOT / "requirements" / "lambda.txt"
DEFAULT_VENDOR_CACHE = REPO_ROOT / "build" / "vendor"

PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}

# Fixed metadata for every entry.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
DIR_MODE = 0o040755  # directory, rwxr-xr-x
MSDOS_DIRECTORY_FLAG = 0x10
UNIX_SYSTEM = 3
COMPRESS_LEVEL = 9

# Subpackages of mailstep that serve the CLI, the MCP server and the local sandbox.
EXCLUDED_SUBPACKAGES = frozenset({"cli", "mcp", "local", "ops"})
# Provided by the Lambda runtime; vendoring them is a bug.
FORBIDDEN_DISTRIBUTIONS = ("boto3", "botocore")
# Never shipped from the project's own source, wherever they appear.
SKIPPED_SOURCE_DIRS = frozenset({"__pycache__", "tests", "test"})
TEST_FILE = re.compile(r"^(test_.*|.*_test|conftest)\.py$")
# Never shipped from the vendor dir: bytecode and console scripts (pip writes the
# building interpreter's absolute path into their shebangs, which is machine-specific
# and useless on Lambda).
SKIPPED_VENDOR_TOP_LEVEL = frozenset({"bin", "__pycache__"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


class PackageError(Exception):
    """A build step failed; the message says what went wrong and how to fix it."""


@dataclass(frozen=True)
class Entry:
    """One zip member: its archive name and, for files, where its bytes come from."""

    arcname: str
    source: Path | None = None  # None for a directory entry

    @property
    def is_dir(self) -> bool:
        return self.source is None


def log(message: str) -> None:
    print(f"[package] {message}", flush=True)


def display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- vendoring


def requirement_names(requirements: Path) -> list[str]:
    """Normalised distribution names pinned in a requirements file."""
    names = []
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match:
            names.append(re.sub(r"[-_.]+", "-", match.group(0)).lower())
    return names


def check_requirements(requirements: Path) -> None:
    if not requirements.is_file():
        raise PackageError(f"requirements file not found: {requirements}")
    names = requirement_names(requirements)
    if not names:
        raise PackageError(f"{display(requirements)} pins no packages")
    forbidden = sorted(set(names) & set(FORBIDDEN_DISTRIBUTIONS))
    if forbidden:
        raise PackageError(
            f"{display(requirements)} lists {', '.join(forbidden)}; the Lambda runtime "
            "provides boto3/botocore, remove them from the vendored requirements"
        )


def vendor_key(arch: str, python_version: str, requirements: Path) -> str:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    return f"{arch}-py{python_version}-{digest}"


def find_forbidden(vendor_dir: Path) -> list[str]:
    """Top-level names in vendor_dir that belong to boto3/botocore."""
    found = []
    for child in vendor_dir.iterdir():
        name = child.name.lower()
        for dist in FORBIDDEN_DISTRIBUTIONS:
            if name == dist or (name.startswith(f"{dist}-") and name.endswith(".dist-info")):
                found.append(child.name)
    return sorted(found)


def pip_install(arch: str, python_version: str, requirements: Path, target: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--quiet",
        "--target",
        str(target),
        "--platform",
        PLATFORMS[arch],
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--no-deps",
        "-r",
        str(requirements),
    ]
    log(f"vendoring {display(requirements)} for {PLATFORMS[arch]} / CPython {python_version}")
    started = time.monotonic()
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise PackageError(
            f"pip install failed (exit {result.returncode}); is PyPI reachable, and does "
            f"every pin in {display(requirements)} have a {PLATFORMS[arch]} / cp"
            f"{python_version.replace('.', '')} wheel? Command: {' '.join(command)}"
        )
    log(f"vendored in {time.monotonic() - started:.1f}s")


def normalise_vendor_dir(vendor_dir: Path) -> None:
    """Remove machine-specific install artefacts so the cache is the same everywhere.

    pip rewrites console-script shebangs to the building interpreter's absolute path and
    records their hashes in ``*.dist-info/RECORD`` (as ``../../bin/...``). The scripts
    are never shipped, so drop them and every RECORD line for a file outside the
    vendor dir or in ``__pycache__``.
    """
    for name in SKIPPED_VENDOR_TOP_LEVEL:
        shutil.rmtree(vendor_dir / name, ignore_errors=True)
    for pycache in sorted(vendor_dir.rglob("__pycache__"), reverse=True):
        shutil.rmtree(pycache)
    for record in sorted(vendor_dir.glob("*.dist-info/RECORD")):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = []
        for line in lines:
            fields = next(csv.reader([line]), [])
            path = fields[0] if fields else ""
            if path.startswith("../") or "__pycache__/" in path:
                continue
            kept.append(line)
        if kept != lines:
            record.write_text("".join(kept), encoding="utf-8")


def vendor_dependencies(
    arch: str, python_version: str, requirements: Path, cache_root: Path
) -> Path:
    """Return a directory holding the vendored deps, installing them on a cache miss.

    A cache directory only ever appears complete: pip installs into a scratch
    directory next to it, which is renamed into place once checked. Concurrent
    builds race harmlessly (the loser discards its copy).
    """
    target = cache_root / vendor_key(arch, python_version, requirements)
    if target.is_dir():
        log(f"vendored dependencies: cache hit {display(target)}")
    else:
        cache_root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_root))
        try:
            pip_install(arch, python_version, requirements, scratch)
            forbidden = find_forbidden(scratch)
            if forbidden:
                raise PackageError(
                    f"pip vendored {', '.join(forbidden)}; boto3/botocore must come from "
                    f"the Lambda runtime. Remove whatever pulls them in from "
                    f"{display(requirements)}"
                )
            normalise_vendor_dir(scratch)
            try:
                scratch.rename(target)
            except OSError:
                if not target.is_dir():
                    raise
                log("another build filled the cache first; using its copy")
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
        log(f"vendored dependencies cached in {display(target)}")
    forbidden = find_forbidden(target)
    if forbidden:
        raise PackageError(
            f"the vendor cache {display(target)} holds {', '.join(forbidden)}; "
            "delete it and fix the requirements"
        )
    return target


# --------------------------------------------------------------------------- collecting


def walk_files(root: Path, skip_dir: frozenset[str], top_skip: frozenset[str]) -> Iterator[Path]:
    """Yield shippable files under root (sorted, no symlinked dirs, no hidden names)."""
    for current, dirnames, filenames in os.walk(root):
        here = Path(current)
        at_top = here == root
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not name.startswith(".")
            and name not in skip_dir
            and not (at_top and name in top_skip)
            and not (here / name).is_symlink()
        )
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(SKIPPED_SUFFIXES):
                continue
            if at_top and name in top_skip:
                continue
            yield here / name


def source_entries(package_dir: Path) -> list[Entry]:
    """The project package, minus CLI/MCP/local subpackages and tests."""
    if not (package_dir / "__init__.py").is_file():
        raise PackageError(f"{package_dir} is not a Python package (no __init__.py)")
    prefix = package_dir.name
    entries = []
    for path in walk_files(package_dir, SKIPPED_SOURCE_DIRS, EXCLUDED_SUBPACKAGES):
        if TEST_FILE.match(path.name):
            continue
        entries.append(Entry(f"{prefix}/{path.relative_to(package_dir).as_posix()}", path))
    return entries


def vendor_entries(vendor_dir: Path, reserved: str) -> list[Entry]:
    entries = []
    for path in walk_files(vendor_dir, frozenset({"__pycache__"}), SKIPPED_VENDOR_TOP_LEVEL):
        arcname = path.relative_to(vendor_dir).as_posix()
        if arcname.split("/", 1)[0] == reserved:
            raise PackageError(f"a vendored distribution ships '{reserved}/', clashing with ours")
        entries.append(Entry(arcname, path))
    return entries


def with_directories(files: list[Entry]) -> list[Entry]:
    """Add an explicit entry for every parent directory, then sort by name."""
    names = {entry.arcname for entry in files}
    if len(names) != len(files):
        raise PackageError("two sources map to the same path in the zip")
    dirs = set()
    for name in names:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:depth]) + "/")
    return sorted([*files, *(Entry(name) for name in dirs)], key=lambda entry: entry.arcname)


# --------------------------------------------------------------------------- writing


def zip_info(entry: Entry) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.arcname, date_time=ZIP_EPOCH)
    info.create_system = UNIX_SYSTEM
    if entry.is_dir:
        info.external_attr = (DIR_MODE << 16) | MSDOS_DIRECTORY_FLAG
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = FILE_MODE << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(entries: list[Entry], out: Path) -> None:
    """Write entries to out atomically (temp file in the same dir, then rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            for entry in entries:
                info = zip_info(entry)
                data = b"" if entry.source is None else entry.source.read_bytes()
                archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
        tmp.chmod(0o644)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- main


def build(args: argparse.Namespace) -> Path:
    started = time.monotonic()
    package_dir: Path = args.package_dir.resolve()
    requirements: Path = args.requirements.resolve()
    out: Path = args.out.resolve()

    check_requirements(requirements)
    if not (package_dir / "__init__.py").is_file():
        raise PackageError(f"{package_dir} is not a Python package (no __init__.py)")
    vendor_dir = vendor_dependencies(
        args.arch, args.python, requirements, args.vendor_cache.resolve()
    )

    log(f"collecting {display(package_dir)} (without {', '.join(sorted(EXCLUDED_SUBPACKAGES))})")
    ours = source_entries(package_dir)
    deps = vendor_entries(vendor_dir, reserved=package_dir.name)
    entries = with_directories([*ours, *deps])
    log(f"{len(ours)} project files, {len(deps)} dependency files")

    log(f"writing {display(out)}")
    write_zip(entries, out)

    checksum = sha256_of(out)
    checksum_file = out.with_name(out.name + ".sha256")
    checksum_file.write_text(f"{checksum}  {out.name}\n", encoding="utf-8")

    size = out.stat().st_size
    log(f"done in {time.monotonic() - started:.1f}s")
    print(f"zip:    {display(out)}")
    print(f"size:   {size} bytes ({size / 1_000_000:.2f} MB)")
    print(f"sha256: {checksum}")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), required=True)
    parser.add_argument("--python", required=True, help="Lambda runtime version, e.g. 3.12")
    parser.add_argument("--out", type=Path, required=True, help="zip to write")
    parser.add_argument("--package-dir", type=Path, default=DEFAULT_PACKAGE_DIR)
    parser.add_argument("--requirements", type=Path, default=DEFAULT_REQUIREMENTS)
    parser.add_argument("--vendor-cache", type=Path, default=DEFAULT_VENDOR_CACHE)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"3\.\d{1,2}", args.python):
        parser.error(f"--python must look like 3.12, got {args.python!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        build(args)
    except PackageError as error:
        print(f"[package] error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
