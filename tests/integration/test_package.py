"""scripts/package.py builds a deterministic Lambda zip with only what Lambdas import.

The first build of a session may download the pinned wheels from PyPI; later builds
reuse the vendor cache under build/vendor, so each build here takes about a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SCRIPT = REPO_ROOT / "scripts" / "package.py"
PACKAGE_DIR = REPO_ROOT / "lambda_src" / "mailstep"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def build(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PACKAGE_SCRIPT), "--arch", "arm64", "--python", "3.12",
         "--out", str(out), *extra],
        capture_output=True, text=True, timeout=600, check=False, cwd=REPO_ROOT,
    )  # fmt: skip


def build_ok(out: Path, *extra: str) -> Path:
    result = build(out, *extra)
    assert result.returncode == 0, f"package.py failed:\n{result.stdout}\n{result.stderr}"
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """GIVEN the repository's sources, built twice into different paths."""
    first = build_ok(tmp_path_factory.mktemp("first") / "lambda.zip")
    second = build_ok(tmp_path_factory.mktemp("second") / "lambda.zip")
    return first, second


@pytest.fixture
def decoy_package(tmp_path: Path) -> Path:
    """GIVEN a copy of the package plus everything that must stay out of the zip."""
    package = tmp_path / "src" / "mailstep"
    shutil.copytree(PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("cli", "mcp", "local", "ops"):
        (package / sub).mkdir(exist_ok=True)
        (package / sub / "__init__.py").write_text("# not for Lambdas\n")
    (package / "tests").mkdir()
    (package / "tests" / "test_inside.py").write_text("def test_x(): ...\n")
    (package / "handlers" / "test_handler.py").write_text("def test_y(): ...\n")
    (package / "handlers" / "conftest.py").write_text("")
    (package / "handlers" / "__pycache__").mkdir(exist_ok=True)
    (package / "handlers" / "__pycache__" / "x.cpython-312.pyc").write_bytes(b"\0")
    (package / "stray.pyc").write_bytes(b"\0")
    (package / ".editor-backup.py").write_text("")
    return package


def test_same_sources_give_byte_identical_zips(two_builds: tuple[Path, Path]) -> None:
    first, second = two_builds

    assert first.read_bytes() == second.read_bytes()
    assert sha256(first) == sha256(second)


def test_checksum_file_matches_the_zip(two_builds: tuple[Path, Path]) -> None:
    first, _ = two_builds

    checksum_file = first.with_name("lambda.zip.sha256")

    assert checksum_file.read_text() == f"{sha256(first)}  lambda.zip\n"


def test_zip_holds_handlers_and_vendored_runtime_deps(two_builds: tuple[Path, Path]) -> None:
    entries = set(names(two_builds[0]))

    assert "mailstep/__init__.py" in entries
    assert "mailstep/handlers/__init__.py" in entries
    assert "liquid/__init__.py" in entries
    assert "aws_lambda_powertools/__init__.py" in entries
    assert "markupsafe/__init__.py" in entries


def test_zip_leaves_out_boto3_and_non_lambda_code(two_builds: tuple[Path, Path]) -> None:
    entries = names(two_builds[0])

    tops = {name.split("/", 1)[0].lower() for name in entries}
    assert not {top for top in tops if top.startswith(("boto3", "botocore"))}
    assert not [
        n for n in entries if n.startswith(("mailstep/cli/", "mailstep/mcp/", "mailstep/ops/"))
    ]
    assert not [n for n in entries if n.startswith("mailstep/local/")]
    assert not [n for n in entries if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in entries if n.startswith("bin/")]


def test_entries_are_sorted_with_fixed_timestamps_and_modes(
    two_builds: tuple[Path, Path],
) -> None:
    with zipfile.ZipFile(two_builds[0]) as archive:
        infos = archive.infolist()

    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert {info.date_time for info in infos} == {ZIP_EPOCH}
    modes = {(info.is_dir(), info.external_attr >> 16) for info in infos}
    assert modes == {(False, 0o100644), (True, 0o040755)}


def test_excluded_subpackages_tests_and_bytecode_never_reach_the_zip(
    decoy_package: Path, tmp_path: Path
) -> None:
    # WHEN the decoy package is built
    zip_path = build_ok(tmp_path / "decoy.zip", "--package-dir", str(decoy_package))

    # THEN only Lambda code is in it
    ours = [name for name in names(zip_path) if name.startswith("mailstep/")]
    assert "mailstep/handlers/__init__.py" in ours
    assert not [n for n in ours if n.split("/")[1] in {"cli", "mcp", "local", "ops", "tests"}]
    assert not [n for n in ours if "test_" in n or "conftest" in n]
    assert not [n for n in ours if "__pycache__" in n or n.endswith(".pyc")]
    assert "mailstep/.editor-backup.py" not in ours


def test_file_times_do_not_change_the_zip(decoy_package: Path, tmp_path: Path) -> None:
    before = build_ok(tmp_path / "before.zip", "--package-dir", str(decoy_package))

    # WHEN every source file gets a different modification time
    for path in decoy_package.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    after = build_ok(tmp_path / "after.zip", "--package-dir", str(decoy_package))

    assert sha256(before) == sha256(after)


def test_requirements_listing_boto3_fail_before_downloading(tmp_path: Path) -> None:
    requirements = tmp_path / "lambda.txt"
    requirements.write_text("six==1.17.0\nboto3==1.44.8\n")

    result = build(tmp_path / "x.zip", "--requirements", str(requirements),
                   "--vendor-cache", str(tmp_path / "vendor"))  # fmt: skip

    assert result.returncode != 0
    assert "boto3" in result.stderr
    assert not (tmp_path / "x.zip").exists()
    assert not (tmp_path / "vendor").exists()
