"""The README of modules/core documents exactly its inputs and outputs, as declared.

GIVEN modules/core/variables.tf and outputs.tf, WHEN the tables are rendered from them
(tests/terraform/module_docs.py), THEN the README holds the same tables.
"""

from __future__ import annotations

from pathlib import Path

import module_docs
import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "modules" / "core"


def test_core_readme_tables_match_the_declarations() -> None:
    expected = module_docs.render(CORE)
    actual = module_docs.current(CORE / "README.md")
    assert actual == expected, (
        "modules/core/README.md is out of date: run "
        "`.venv/bin/python tests/terraform/module_docs.py modules/core`"
    )


def test_every_declared_input_and_output_is_parsed() -> None:
    """The parser must not silently miss a block (which would make the check vacuous)."""
    variables, outputs = module_docs.parse(CORE)
    declared_variables = sum(
        p.read_text().count('\nvariable "') + p.read_text().startswith('variable "')
        for p in CORE.glob("*.tf")
    )
    declared_outputs = sum(
        p.read_text().count('\noutput "') + p.read_text().startswith('output "')
        for p in CORE.glob("*.tf")
    )
    assert len(variables) == declared_variables
    assert len(outputs) == declared_outputs
    assert {"name_prefix", "lambda_zip_path", "kms_key_arn"} <= {v.name for v in variables}
    assert "core" in {o.name for o in outputs}


@pytest.mark.parametrize("name", ["name_prefix", "lambda_zip_path"])
def test_inputs_without_default_are_marked_required(name: str) -> None:
    row = next(
        line for line in module_docs.render(CORE).splitlines() if line.startswith(f"| `{name}` |")
    )
    assert row.endswith("| n/a | yes |")
