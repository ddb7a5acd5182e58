"""``mailstep``: author, check and operate lifecycle email sequences."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence as Seq
from pathlib import Path
from typing import Any

from mailstep.cli import ops_commands
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
        print(
            json.dumps(
                {
                    "ok": not errors,
                    "files": [str(f) for f in files],
                    "problems": [p.as_dict() for p in problems],
                },
                indent=2,
            )
        )
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
        print(
            json.dumps(
                {
                    "template": result.template,
                    "subject": result.rendered.subject,
                    "files": [str(p) for p in written],
                },
                indent=2,
            )
        )
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


def _local_paths(args: argparse.Namespace) -> Any:
    from mailstep.local import control  # noqa: PLC0415 - only the local commands need moto

    root = Path(args.project).resolve() if args.project else Project.find().root
    return control, control.Paths(root)


def cmd_local_up(args: argparse.Namespace) -> int:
    control, paths = _local_paths(args)
    info = control.up(paths, args.port, args.http_port, args.scale)
    outputs = info.get("outputs", {})
    print(f"AWS endpoint:      {info['aws']}   (AWS_ENDPOINT_URL for boto3 / the aws CLI)")
    print(f"Event bus:         {outputs.get('event_bus_name')}")
    print(f"Unsubscribe page:  {info['unsubscribe_url']}")
    for name, arn in sorted((outputs.get("state_machine_arns") or {}).items()):
        print(f"Sequence {name + ':':<10}{arn}")
    print(f"Outbox:            {paths.outbox}/   (mailstep local outbox)")
    print("Stop with:         mailstep local down")
    return 0


def cmd_local_down(args: argparse.Namespace) -> int:
    control, paths = _local_paths(args)
    control.down(paths)
    return 0


def cmd_local_publish(args: argparse.Namespace) -> int:
    control, paths = _local_paths(args)
    ids = control.publish(paths, [Path(f) for f in args.files])
    for event_id in ids:
        print(event_id)
    return 0


def cmd_local_outbox(args: argparse.Namespace) -> int:
    control, paths = _local_paths(args)
    messages = control.api(paths, "outbox")
    if args.email:
        wanted = args.email.strip().lower()
        messages = [m for m in messages if wanted in m["to"]]
    if args.json:
        print(json.dumps(messages, indent=2))
        return 0
    control.write_index(paths.outbox, control.api(paths, "outbox"))
    if not messages:
        print("no emails yet", file=sys.stderr)
    for m in messages:
        headers = m.get("headers", {})
        print(
            f"{m['sent_at'][:19].replace('T', ' ')}  {m['to'][0]:<30} "
            f"{headers.get('X-Mailstep-Sequence', '-')}/{headers.get('X-Mailstep-Step', '-'):<16} "
            f"{m['subject']}   [{m['message_id'][:12]}…] {','.join(m.get('events', []))}"
        )
    return 0


def cmd_local_engage(args: argparse.Namespace) -> int:
    control, paths = _local_paths(args)
    kind = "click" if args.click else "open"
    result = control.api(
        paths, "engage", {"message_id": args.message_id, "kind": kind, "link": args.click}
    )
    print(f"{kind} published to {result['published']} destination(s)")
    return 0


def cmd_local_reply(args: argparse.Namespace) -> int:
    control, paths = _local_paths(args)
    inbound = control.reply(paths, args.message_id, args.sender, args.text)
    print(f"reply received by SES as {inbound} and published to the replies topic")
    return 0


def cmd_local_demo(args: argparse.Namespace) -> int:
    from mailstep.local import demo  # noqa: PLC0415

    root = Path(args.project).resolve() if args.project else Project.find().root
    return demo.main(["--project", str(root), *(["--keep"] if args.keep else [])])


def _add_local(sub: Any) -> None:
    from mailstep.local.clock import ONE_DAY_PER_SECOND  # noqa: PLC0415

    local = sub.add_parser("local", help="run everything on the local AWS sandbox (no account)")
    commands = local.add_subparsers(dest="local_command", required=True)
    up = commands.add_parser(
        "up", help="start the sandbox, package, terraform apply the root module"
    )
    up.add_argument(
        "--port", type=int, default=0, help="AWS endpoint port on 127.0.0.1 (default: any free)"
    )
    up.add_argument(
        "--http-port", type=int, default=0, help="unsubscribe page port (default: any free)"
    )
    up.add_argument(
        "--scale",
        type=float,
        default=ONE_DAY_PER_SECOND,
        help="real seconds per simulated second (default: one day per second)",
    )
    up.set_defaults(func=cmd_local_up)
    down = commands.add_parser("down", help="terraform destroy and stop the sandbox")
    down.set_defaults(func=cmd_local_down)
    publish = commands.add_parser("publish", help="PutEvents from JSON files onto the local bus")
    publish.add_argument(
        "files", nargs="+", help="event files: an entry, a list, or an EventBridge event"
    )
    publish.set_defaults(func=cmd_local_publish)
    outbox = commands.add_parser(
        "outbox", help="emails sent so far (time, to, sequence/step, subject)"
    )
    outbox.add_argument("--email", help="only this recipient")
    outbox.add_argument("--json", action="store_true")
    outbox.set_defaults(func=cmd_local_outbox)
    engage = commands.add_parser("engage", help="simulate an open or a click on a sent email")
    engage.add_argument("message_id")
    engage.add_argument("--click", metavar="URL", help="click this link (default: an open)")
    engage.set_defaults(func=cmd_local_engage)
    reply = commands.add_parser(
        "reply", help="simulate the recipient replying to a sent email (reply capture)"
    )
    reply.add_argument("message_id", help="the outbox email's message id")
    reply.add_argument(
        "--from",
        dest="sender",
        metavar="ADDR",
        help="reply from this address (default: the recipient)",
    )
    reply.add_argument("--text", help="the reply's text")
    reply.set_defaults(func=cmd_local_reply)
    demo = commands.add_parser("demo", help="the make demo scenario")
    demo.add_argument("--keep", action="store_true", help="leave the sandbox running")
    demo.set_defaults(func=cmd_local_demo)


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
    _add_local(sub)
    ops_commands.register(sub)
    return parser


def _local_error() -> type[Exception]:
    try:
        from mailstep.local.control import LocalError  # noqa: PLC0415
    except ImportError:  # pragma: no cover - moto not installed: no local commands
        return MailstepError
    return LocalError


def main(argv: Seq[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ProjectNotFound, FileNotFoundError, KeyError, MailstepError, _local_error()) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"mailstep: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
