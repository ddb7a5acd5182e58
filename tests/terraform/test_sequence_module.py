"""Keep modules/sequence honest about itself: no terraform run needed.

- The `definition` type is written twice (modules/sequence and modules/asl, because
  HCL cannot share a type); the two copies must stay identical.
- Each module's README lists exactly the module's variables and outputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEQUENCE = ROOT / "modules" / "sequence"
ASL = SEQUENCE / "modules" / "asl"

BLOCK = re.compile(r'^(variable|output) "([a-z_]+)" \{', re.MULTILINE)
TABLE_ROW = re.compile(r"^\| `([a-z_]+)` \|", re.MULTILINE)


def definition_type(module: Path) -> str:
    text = (module / "variables.tf").read_text()
    start = text.index('variable "definition" {')
    type_start = text.index("  type = object({", start)
    type_end = text.index("\n  })\n", type_start)
    return text[type_start:type_end]


def declared(module: Path, kind: str) -> set[str]:
    names: set[str] = set()
    for path in module.glob("*.tf"):
        names |= {name for k, name in BLOCK.findall(path.read_text()) if k == kind}
    return names


def readme_table(module: Path, heading: str) -> set[str]:
    readme = (module / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return set(TABLE_ROW.findall(section))


def test_definition_type_is_the_same_in_both_modules() -> None:
    outer = definition_type(SEQUENCE)
    assert "steps = list(object({" in outer
    assert outer == definition_type(ASL)


@pytest.mark.parametrize("module", [SEQUENCE, ASL], ids=["sequence", "asl"])
def test_readme_lists_every_input_and_output(module: Path) -> None:
    assert readme_table(module, "Inputs") == declared(module, "variable")
    assert readme_table(module, "Outputs") == declared(module, "output")
