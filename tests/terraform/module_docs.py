"""Inputs/outputs tables of a module README, rendered from its variables.tf/outputs.tf.

The README holds the tables between ``<!-- BEGIN_TF_DOCS -->`` and
``<!-- END_TF_DOCS -->``; test_module_docs.py fails when they drift. Regenerate with

    .venv/bin/python tests/terraform/module_docs.py modules/core

The parser reads the house style (one attribute per line; ``type``, ``description``,
``default``, ``sensitive`` on single lines), not arbitrary HCL.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
BLOCK = re.compile(r'^(variable|output) "([A-Za-z0-9_]+)" \{\n(.*?)\n\}', re.MULTILINE | re.DOTALL)
ATTRIBUTE = re.compile(r"^  ([a-z_]+)\s*=\s*(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    description: str
    default: str | None  # HCL text; None when required
    sensitive: bool


@dataclass(frozen=True)
class Output:
    name: str
    description: str


def _attributes(body: str) -> dict[str, str]:
    # Only top-level attributes (two-space indent); nested blocks are skipped.
    return {name: value.strip() for name, value in ATTRIBUTE.findall(body)}


def _string(hcl: str) -> str:
    value = json.loads(hcl)  # HCL quoted strings use JSON's escapes in this codebase
    assert isinstance(value, str)
    return value


def parse(module: Path) -> tuple[list[Variable], list[Output]]:
    variables: list[Variable] = []
    outputs: list[Output] = []
    for path in sorted(module.glob("*.tf")):
        for kind, name, body in BLOCK.findall(path.read_text()):
            attrs = _attributes(body)
            if kind == "variable":
                variables.append(
                    Variable(
                        name=name,
                        type=attrs["type"],
                        description=_string(attrs["description"]),
                        default=attrs.get("default"),
                        sensitive=attrs.get("sensitive") == "true",
                    )
                )
            else:
                outputs.append(Output(name=name, description=_string(attrs["description"])))
    return variables, outputs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(module: Path) -> str:
    variables, outputs = parse(module)
    lines = [
        BEGIN,
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    for v in sorted(variables, key=lambda v: (v.default is not None, v.name)):
        default = "n/a" if v.default is None else f"`{_cell(v.default)}`"
        description = _cell(v.description) + (" (sensitive)" if v.sensitive else "")
        required = "yes" if v.default is None else "no"
        lines.append(f"| `{v.name}` | {description} | `{_cell(v.type)}` | {default} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    lines += [
        f"| `{o.name}` | {_cell(o.description)} |" for o in sorted(outputs, key=lambda o: o.name)
    ]
    lines.append(END)
    return "\n".join(lines)


def current(readme: Path) -> str:
    text = readme.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def write(module: Path) -> None:
    readme = module / "README.md"
    text = readme.read_text()
    readme.write_text(text.replace(current(readme), render(module)))


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        write(Path(arg))
