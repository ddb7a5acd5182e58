"""`mailstep preview` and `mailstep diagram`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailstep.cli.main import main
from support import ROOT


def test_preview_writes_html_and_text_with_given_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "welcome.html"
    data = json.dumps({"email": "Bob@Example.com", "first_name": "<b>Bob</b>", "attributes": {}})
    code = main(
        [
            "--project",
            str(ROOT),
            "preview",
            "onboarding",
            "welcome",
            "--data",
            data,
            "--out",
            str(out),
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["subject"] == "Welcome to Acme, <b>Bob</b>"  # subjects are plain text, not HTML
    html = out.read_text()
    assert "&lt;b&gt;Bob&lt;/b&gt;" in html
    assert "<b>Bob</b>" not in html
    assert "bob@example.com" in html
    assert out.with_suffix(".txt").read_text().startswith("Hi <b>Bob</b>,")


def test_preview_variant_and_display_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nudge.html"
    code = main(
        [
            "--project",
            str(ROOT),
            "preview",
            "trial-expiring",
            "nudge",
            "--variant",
            "a",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "Subject:  Your trial ends in a week" in printed
    assert "trial-expiring/nudge-a" in printed
    main(
        [
            "--project",
            str(ROOT),
            "preview",
            "trial-expiring",
            "pro-tips",
            "--data",
            '{"plan": "team"}',
            "--out",
            str(out),
        ]
    )
    assert "Get the most out of Acme Team" in capsys.readouterr().out


def test_preview_refuses_a_wait_step(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--project", str(ROOT), "preview", "onboarding", "wait-2"])
    assert code == 2
    assert "wait step" in capsys.readouterr().err


def test_preview_unknown_step_lists_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--project", str(ROOT), "preview", "onboarding", "nope"])
    assert code == 2
    assert "steps: welcome, wait-2" in capsys.readouterr().err


def test_diagram_has_every_step_and_branch(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--project", str(ROOT), "diagram", "trial-expiring"])
    text = capsys.readouterr().out
    assert code == 0
    assert text.startswith("flowchart TD\n")
    for fragment in [
        "✉ trial-welcome",
        "trial-expiring/nudge-a<br/>trial-expiring/nudge-b",
        "plan?",
        "-- = pro -->",
        "-- otherwise -->",
        "⏱ wait 7 days",
        'done(["end"])',
    ]:
        assert fragment in text
