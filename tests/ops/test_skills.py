"""Claude Code skills: each has YAML frontmatter naming it after its folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support import ROOT

SKILLS = sorted((ROOT / "skills").glob("*/SKILL.md"))
EXPECTED = {
    "create-sequence", "validate", "deploy", "inspect-sequence",
    "investigate-subscriber", "teardown", "first-time-setup", "broadcast",
}  # fmt: skip


def test_every_expected_skill_exists() -> None:
    assert {path.parent.name for path in SKILLS} == EXPECTED


@pytest.mark.parametrize("path", SKILLS, ids=lambda p: p.parent.name)
def test_frontmatter_names_and_describes_the_skill(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n", 2)[1])
    assert front["name"] == path.parent.name
    assert 40 < len(front["description"]) <= 1024
    assert text.split("---\n", 2)[2].strip().startswith("# ")
