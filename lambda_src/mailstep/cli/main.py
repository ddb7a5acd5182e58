"""``mailstep``: author, check and operate lifecycle email sequences."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence as Seq
from pathlib import Path

from mailstep.cli import preview as preview_mod
from mailstep.cli.sequences import Project, ProjectNotFound, load, mermaid, validate_file
from mailstep.domain.errors import MailstepError


def _project(args: argparse.Namespace) -> Project:
    return Project.find(Path(args.project) if args.project else None)


def cmd_validate(args: argparse.Namespace) -> int:
    project = _project(args)
    files = [Path(f) for f in args.files] or project.sequence_files()
    if not files:
        print(f"no sequence files in {project.sequences_dir}", file=sys.stderr)
        return 1
    files = [f if f.exists() else project.resolve_sequence(str(f)) for f in files]
    problems = [p for f in files for p in validate_file(project, f.resolve())]
    errors = [p for p in problems if p.severity == "error"]
    if args.json:
        print(json.dumps({"ok": not errors, "files": [str(f) for f in files],
                          "problems": [p.as_dict() for p in problems]}, indent=2))  # fmt: skip
    else:
        for problem in problems:
            print(f"{problem.severity}: {problem}")
        warnings = len(problems) - len(errors)
        summary = f"{len(files)} file(s): {len(errors)} error(s), {warnings} warning(s)"
        print(("✓ " if not errors else "✗ ") + summary, file=sys.stderr)
    return 1 if errors else 0


def cmd_preview(args: argparse.Namespace) -> int:
    project = _project(args)
    sequence = load(project.resolve_sequence(args.sequence))
    subscriber = preview_mod.subscriber_from(args.data)
    result = preview_mod.render_step(project, sequence, args.step, subscriber, args.variant)
    out = (
        Path(args.out)
        if args.out
        else project.root / "build" / "preview" / f"{sequence.id}-{args.step}.html"
    )
    written = preview_mod.write_preview(result, out)
    if args.json:
        print(json.dumps({"template": result.template, "subject": result.rendered.subject,
                          "files": [str(p) for p in written]}, indent=2))  # fmt: skip
    else:
        print(f"Subject:  {result.rendered.subject}")
        print(f"Template: {result.template}")
        for path in written:
            print(f"Wrote:    {path}")
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    project = _project(args)
    sequence = load(project.resolve_sequence(args.sequence))
    text = mermaid(sequence)
    if args.out:
        Path(args.out).write_text(text)
        print(f"Wrote {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailstep", description=__doc__)
    parser.add_argument("--project", help="project folder (default: found from the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check sequence files: schema, graph, templates")
    validate.add_argument("files", nargs="*", help="sequence files or ids (default: all)")
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.set_defaults(func=cmd_validate)

    preview = sub.add_parser("preview", help="render a step's email to an HTML file")
    preview.add_argument("sequence", help="sequence id or file")
    preview.add_argument("step", help="send step id (or fire-and-forget event id)")
    preview.add_argument("--data", help="subscriber JSON (or @file.json); default: sample data")
    preview.add_argument("--variant", help="A/B variant name (default: the one the address gets)")
    preview.add_argument(
        "--out", help="HTML file to write (default: build/preview/<seq>-<step>.html)"
    )
    preview.add_argument("--json", action="store_true")
    preview.set_defaults(func=cmd_preview)

    diagram = sub.add_parser("diagram", help="print a Mermaid flowchart of a sequence")
    diagram.add_argument("sequence", help="sequence id or file")
    diagram.add_argument("--out", help="write to a file instead of stdout")
    diagram.set_defaults(func=cmd_diagram)
    return parser


def main(argv: Seq[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ProjectNotFound, FileNotFoundError, KeyError, MailstepError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"mailstep: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
