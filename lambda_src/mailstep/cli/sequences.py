"""Sequence files: loading, the step graph, validation with person-readable problems,
and Mermaid diagrams. Used by the CLI and the MCP server (not by the Lambdas)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

END = "end"
BASE_VARIABLES = frozenset(
    {
        "email",
        "first_name",
        "attributes",
        "unsubscribe_url",
        "current_year",
        "forloop",
        "tablerowloop",
    }
)


class ProjectNotFound(Exception):
    """No mailstep project (a folder with sequences/schema.json) around the given path."""


@dataclass(frozen=True)
class Problem:
    file: str
    where: str  # "" for the whole file, "step 'nudge'", "events[0]"…
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f" {self.where}:" if self.where else ""
        return f"{self.file}:{where} {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {
            "file": self.file,
            "where": self.where,
            "message": self.message,
            "severity": self.severity,
        }


class FileTemplateSource:
    """Templates read from the project's templates/ folder (keys as in S3)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def get(self, key: str) -> str | None:
        path = self._root / key
        return path.read_text() if path.is_file() else None


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Project:
        here = (start or Path.cwd()).resolve()
        for candidate in [here, *here.parents]:
            if (candidate / "sequences" / "schema.json").is_file():
                return cls(candidate)
        raise ProjectNotFound(
            f"no mailstep project here: expected sequences/schema.json in {here} or a parent folder"
        )

    @property
    def sequences_dir(self) -> Path:
        return self.root / "sequences"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    def schema(self) -> dict[str, Any]:
        return dict(json.loads((self.sequences_dir / "schema.json").read_text()))

    def sequence_files(self) -> list[Path]:
        return sorted(self.sequences_dir.glob("*.yaml"))

    def resolve_sequence(self, name: str) -> Path:
        """A sequence by id or by path."""
        path = Path(name)
        if path.suffix in (".yaml", ".yml") and path.exists():
            return path
        candidate = self.sequences_dir / f"{name}.yaml"
        if candidate.exists():
            return candidate
        known = ", ".join(p.stem for p in self.sequence_files()) or "none"
        raise FileNotFoundError(f"no sequence {name!r} (known: {known})")

    def template_path(self, key: str, extension: str = ".html") -> Path:
        return self.templates_dir / f"{key}{extension}"

    def display_names(self) -> dict[str, Any]:
        path = self.templates_dir / "display-names.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}


@dataclass
class Sequence:
    path: Path
    data: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)  # each with a guaranteed "id"

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    def step(self, step_id: str) -> dict[str, Any]:
        for step in self.steps:
            if step["id"] == step_id:
                return step
        known = ", ".join(s["id"] for s in self.steps)
        raise KeyError(f"no step {step_id!r} in {self.id} (steps: {known})")

    def successors(self, index: int) -> list[tuple[str, str]]:
        """(label, target id or 'end') pairs leaving step ``index``."""
        step = self.steps[index]
        following = self.steps[index + 1]["id"] if index + 1 < len(self.steps) else END
        kind = step.get("type")
        if kind == "condition":
            return [("yes", str(step.get("then", END))), ("no", str(step.get("else", END)))]
        if kind == "choice":
            pairs = [
                (f"= {c.get('value')}", str(c.get("next", END))) for c in step.get("choices") or []
            ]
            return [*pairs, ("otherwise", str(step.get("default", END)))]
        return [("", str(step.get("next", following)))]

    def templates(self) -> Iterator[tuple[str, str, str]]:
        """(where, template key, subject) for every email this sequence can send."""
        for step in self.steps:
            if step.get("type") != "send":
                continue
            if step.get("variants"):
                for variant in step["variants"]:
                    yield (
                        f"step '{step['id']}' variant '{variant.get('name')}'",
                        variant.get("template", ""),
                        variant.get("subject", ""),
                    )
            else:
                yield f"step '{step['id']}'", step.get("template", ""), step.get("subject", "")
        for index, event in enumerate(self.data.get("events") or []):
            yield (
                f"events[{index}] '{event.get('id')}'",
                event.get("template", ""),
                event.get("subject", ""),
            )


def step_ids(steps: list[Any]) -> list[dict[str, Any]]:
    """Steps with ids; an id-less step (a wait) gets ``<type>-<position>`` (1-based),
    the same rule the Terraform module applies."""
    result = []
    for position, step in enumerate(steps, start=1):
        if not isinstance(step, Mapping):
            continue
        item = dict(step)
        item.setdefault("id", f"{item.get('type', 'step')}-{position}")
        result.append(item)
    return result


def load(path: Path) -> Sequence:
    import yaml  # noqa: PLC0415 - CLI-only dependency

    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a sequence file must be a YAML mapping")
    steps = data.get("steps")
    return Sequence(path=path, data=data, steps=step_ids(steps if isinstance(steps, list) else []))


# --------------------------------------------------------------------------- validation


def _where_from_path(sequence: Sequence, path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        steps = sequence.steps
        name = steps[path[1]]["id"] if path[1] < len(steps) else None
        label = f"step '{name}'" if name else f"steps[{path[1]}]"
        rest = ".".join(str(p) for p in path[2:])
        return f"{label}{' ' + rest if rest else ''}"
    return ".".join(str(p) for p in path)


def schema_problems(project: Project, sequence: Sequence, rel: str) -> list[Problem]:
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    validator = Draft202012Validator(project.schema())
    problems = []
    for error in sorted(validator.iter_errors(sequence.data), key=lambda e: list(e.absolute_path)):
        where = _where_from_path(sequence, list(error.absolute_path))
        problems.append(Problem(rel, where, _friendly(error)))
    return problems


def _friendly(error: Any) -> str:
    """oneOf/anyOf failures carry a person-readable ``x-message`` in the schema."""
    if error.validator in ("oneOf", "anyOf") and isinstance(error.schema, Mapping):
        return str(
            error.schema.get("x-message") or "has the wrong shape (see sequences/schema.json)"
        )
    return str(error.message)


def graph_problems(sequence: Sequence, rel: str) -> list[Problem]:
    problems: list[Problem] = []
    ids = [s["id"] for s in sequence.steps]
    seen: set[str] = set()
    for step_id in ids:
        if step_id in seen:
            problems.append(Problem(rel, f"step '{step_id}'", "duplicate step id"))
        if step_id == END:
            problems.append(Problem(rel, f"step '{step_id}'", "'end' is reserved; use another id"))
        seen.add(step_id)
    known = set(ids) | {END}
    for index, step in enumerate(sequence.steps):
        for _, target in sequence.successors(index):
            if target not in known:
                problems.append(
                    Problem(
                        rel,
                        f"step '{step['id']}'",
                        f"goes to unknown step '{target}' (known: {', '.join(ids)}, end)",
                    )
                )
    if problems or not sequence.steps:
        return problems
    index_of = {s["id"]: i for i, s in enumerate(sequence.steps)}
    reachable: set[str] = set()
    stack = [sequence.steps[0]["id"]]
    while stack:
        current = stack.pop()
        if current == END or current in reachable:
            continue
        reachable.add(current)
        stack += [t for _, t in sequence.successors(index_of[current])]
    for step_id in ids:
        if step_id not in reachable:
            problems.append(
                Problem(rel, f"step '{step_id}'", "is unreachable: no step leads to it")
            )
    problems += _loops_without_wait(sequence, rel, index_of)
    return problems


def _loops_without_wait(sequence: Sequence, rel: str, index_of: dict[str, int]) -> list[Problem]:
    """A cycle made only of non-wait steps would send (or spin) without pause."""
    edges = {
        s["id"]: [
            t
            for _, t in sequence.successors(i)
            if t != END and sequence.steps[index_of[t]].get("type") != "wait"
        ]
        for i, s in enumerate(sequence.steps)
        if s.get("type") != "wait"
    }
    problems = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in edges.get(node, []):
            if state.get(target) == 1:
                loop = (
                    [*trail[trail.index(target) :], target] if target in trail else [node, target]
                )
                problems.append(
                    Problem(rel, f"step '{target}'", f"loops without a wait: {' → '.join(loop)}")
                )
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [node])
    return problems


def _variables_in(project: Project, key: str, subject: str) -> tuple[set[str], list[str]]:
    """Variables a template (HTML, text part, subject) uses, and parse errors."""
    from mailstep.domain.errors import TemplateError  # noqa: PLC0415
    from mailstep.domain.rendering import variables_used  # noqa: PLC0415

    files = FileTemplateSource(project.templates_dir)
    used: set[str] = set()
    errors: list[str] = []
    sources = [
        (project.template_path(key), True, None),
        (project.template_path(key, ".txt"), False, None),
        (None, False, subject),
    ]
    for path, html, text in sources:
        if path is not None and not path.exists():
            continue
        try:
            content = path.read_text() if path else str(text)
            # Subjects cannot include partials; bodies follow their {% include %}s.
            used |= variables_used(content, html=html, templates=files if path else None)
        except TemplateError as exc:
            name = path.relative_to(project.root) if path else "subject"
            errors.append(f"{name} does not parse: {exc}")
    return used, errors


def template_problems(project: Project, sequence: Sequence, rel: str) -> list[Problem]:
    problems: list[Problem] = []
    mapping = (sequence.data.get("trigger") or {}).get("subscriber") or {}
    has_attributes = "attributes" in mapping or not mapping  # the default mapping has $.detail
    known = set(BASE_VARIABLES) | set(project.display_names())
    transactional = bool(sequence.data.get("transactional"))
    for where, key, subject in sequence.templates():
        if not key:
            continue
        if not key.startswith(f"{sequence.id}/"):
            problems.append(Problem(rel, where, f"template {key} should live under {sequence.id}/"))
        html_path = project.template_path(key)
        if not html_path.exists():
            missing = f"template {key} does not exist ({html_path.relative_to(project.root)})"
            problems.append(Problem(rel, where, missing))
            continue
        used, errors = _variables_in(project, key, subject)
        problems += [Problem(rel, where, error) for error in errors]
        if not has_attributes:
            problems += [
                Problem(rel, where, f"{key} uses '{name}', which no subscriber mapping provides")
                for name in sorted(used - known)
            ]
        if not transactional and "unsubscribe_url" not in used:
            hint = f"{key} has no visible unsubscribe link ({{{{ unsubscribe_url }}}})"
            problems.append(Problem(rel, where, hint, "warning"))
    for step in sequence.steps:
        checked = step.get("template") if step.get("check") == "has_been_sent" else None
        if checked and not project.template_path(checked).exists():
            problems.append(
                Problem(
                    rel, f"step '{step['id']}'", f"checks template {checked}, which does not exist"
                )
            )
    return problems


def validate_file(project: Project, path: Path) -> list[Problem]:
    rel = str(path.relative_to(project.root)) if path.is_relative_to(project.root) else str(path)
    try:
        sequence = load(path)
    except Exception as exc:
        return [Problem(rel, "", f"cannot be read: {exc}")]
    problems = schema_problems(project, sequence, rel)
    if sequence.id and sequence.id != path.stem:
        problems.append(
            Problem(rel, "id", f"'{sequence.id}' must equal the file name '{path.stem}'")
        )
    problems += graph_problems(sequence, rel)
    problems += template_problems(project, sequence, rel)
    return problems


# --------------------------------------------------------------------------- diagrams


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(sequence: Sequence) -> str:
    """A Mermaid flowchart of the steps and branches."""
    node = {s["id"]: f"s{i}" for i, s in enumerate(sequence.steps)}
    trigger = (sequence.data.get("trigger") or {}).get("detail_type", "trigger")
    lines = ["flowchart TD", f'  start(["{_label(str(trigger))}"])']
    for step in sequence.steps:
        kind, sid = step.get("type"), step["id"]
        if kind == "send":
            keys = [v.get("template", "") for v in step.get("variants") or []] or [
                step.get("template", "")
            ]
            text = f"✉ {sid}<br/>{'<br/>'.join(_label(k) for k in keys)}"
            lines.append(f'  {node[sid]}["{text}"]')
        elif kind == "wait":
            parts = [f"{step[u]} {u}" for u in ("days", "hours", "minutes") if step.get(u)]
            lines.append(f'  {node[sid]}[/"⏱ wait {" ".join(parts)}"/]')
        elif kind == "condition":
            detail = step.get("field") or step.get("template") or ""
            lines.append(
                f'  {node[sid]}{{"{_label(step.get("check", ""))}<br/>{_label(str(detail))}?"}}'
            )
        else:
            lines.append(f'  {node[sid]}{{"{_label(str(step.get("field")))}?"}}')
    lines.append('  done(["end"])')
    if sequence.steps:
        lines.append(f"  start --> {node[sequence.steps[0]['id']]}")
    for index, step in enumerate(sequence.steps):
        for label, target in sequence.successors(index):
            destination = "done" if target == END else node.get(target, "done")
            arrow = f" -- {_label(label)} --> " if label else " --> "
            lines.append(f"  {node[step['id']]}{arrow}{destination}")
    for exit_event in sequence.data.get("exit_on") or []:
        lines.append(f"  %% exits on {exit_event.get('detail_type')}")
    return "\n".join(lines) + "\n"
