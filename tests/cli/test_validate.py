"""`mailstep validate`: examples pass; each kind of mistake is pinpointed by file and step."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from mailstep.cli.main import main
from support import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's sequences and templates to break at will."""
    shutil.copytree(ROOT / "sequences", tmp_path / "sequences")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    return tmp_path


def edit(project: Path, name: str, change) -> Path:  # type: ignore[no-untyped-def]
    path = project / "sequences" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(
    project: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, list[dict[str, str]]]:
    code = main(["--project", str(project), "validate", "--json", *args])
    report = json.loads(capsys.readouterr().out)
    return code, [p for p in report["problems"] if p["severity"] == "error"]


def test_the_examples_are_valid(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, errors = run(project, capsys)
    assert (code, errors) == (0, [])


@pytest.mark.parametrize(
    ("change", "where", "fragment"),
    [
        (
            lambda d: d["steps"][0].pop("subject"),
            "step 'trial-welcome'",
            "needs template and subject",
        ),
        (
            lambda d: d["steps"][2]["choices"][0].update(next="nowhere"),
            "step 'plan'",
            "unknown step 'nowhere'",
        ),
        (lambda d: d["steps"][3].update(id="nudge"), "step 'nudge'", "duplicate step id"),
        (
            lambda d: d["steps"][0].update(template="trial-expiring/missing"),
            "step 'trial-welcome'",
            "template trial-expiring/missing does not exist",
        ),
        (
            lambda d: d["steps"][1].update(days=0),
            "step 'wait-2'",
            "needs a positive days, hours or minutes",
        ),
        (lambda d: d.update(id="other-name"), "id", "must equal the file name"),
        (
            lambda d: d["steps"][0].update(subject="Hi {{ first_name "),
            "step 'trial-welcome'",
            "subject does not parse",
        ),
        (lambda d: d["steps"][0].update(kind="send"), "step 'trial-welcome'", "kind"),
        (
            lambda d: d["sender"].update({"from": "Acme\r\nBcc: x@y.z <a@b.c>"}),
            "sender.from",
            "does not match",
        ),
    ],
    ids=[
        "missing-subject",
        "unknown-target",
        "duplicate-id",
        "missing-template",
        "zero-wait",
        "id-mismatch",
        "subject-syntax",
        "unknown-key",
        "crlf-sender",
    ],
)
def test_each_mistake_is_reported_with_file_and_step(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    change,
    where: str,
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    edit(project, "trial-expiring", change)
    code, errors = run(project, capsys, "trial-expiring")
    assert code == 1
    assert any(
        e["file"] == "sequences/trial-expiring.yaml"
        and e["where"].startswith(where)
        and fragment in e["message"]
        for e in errors
    ), errors


def test_unreachable_step_and_loop_without_wait(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def change(data: dict) -> None:  # type: ignore[type-arg]
        data["steps"][0]["next"] = "pro-tips"  # skips wait-2 and plan; nudge only via plan
        data["steps"][3]["next"] = "trial-welcome"  # pro-tips → trial-welcome → pro-tips, no wait

    edit(project, "trial-expiring", change)
    code, errors = run(project, capsys, "trial-expiring")
    messages = [f"{e['where']}: {e['message']}" for e in errors]
    assert code == 1
    assert any(m.startswith("step 'plan': is unreachable") for m in messages), messages
    assert any("loops without a wait" in m for m in messages), messages


def test_template_that_does_not_parse(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "templates" / "onboarding" / "welcome.html").write_text("<p>{% if %}</p>")
    code, errors = run(project, capsys, "onboarding")
    assert code == 1
    assert any("welcome.html does not parse" in e["message"] for e in errors), errors


def test_variable_no_mapping_provides(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def change(data: dict) -> None:  # type: ignore[type-arg]
        data["trigger"]["subscriber"] = {
            "email": "$.detail.email",
            "first_name": "$.detail.firstName",
        }

    edit(project, "onboarding", change)
    code, errors = run(project, capsys, "onboarding")
    assert code == 1
    assert any(
        "uses 'team_name', which no subscriber mapping provides" in e["message"] for e in errors
    )


def test_human_output_names_file_and_step(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(project, "onboarding", lambda d: d["steps"][2].update(then="nope"))
    code = main(["--project", str(project), "validate"])
    out = capsys.readouterr().out
    assert code == 1
    assert "error: sequences/onboarding.yaml: step 'has-team': goes to unknown step 'nope'" in out


def test_unreadable_yaml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "sequences" / "onboarding.yaml").write_text("id: [unclosed")
    code, errors = run(project, capsys, "onboarding")
    assert code == 1
    assert errors[0]["message"].startswith("cannot be read")


def test_a_missing_partial_is_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "templates" / "layout" / "footer.html").unlink()
    code, errors = run(project, capsys, "onboarding")
    assert code == 1
    assert any("layout/footer" in e["message"] for e in errors), errors
