"""Operator commands (``subscribers``, ``broadcasts``, ``suppression``, ``events``,
``sequences``, ``health``, ``templates``, ``send-test-event``) over ``mailstep.ops``.

Each takes ``--json``; destructive ones print what they would do unless given ``--yes``.
Where the deployment is comes from Terraform's outputs (``mailstep.ops.config``).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailstep.cli.sequences import Project
from mailstep.domain.errors import InvalidInput, MailstepError

Handler = Callable[[Any, argparse.Namespace], Any]


class OperationFailed(MailstepError):
    """AWS refused a call; the message names the error."""


def make_ops(args: argparse.Namespace) -> Any:
    from mailstep.ops import config  # noqa: PLC0415 - only operator commands need it
    from mailstep.ops.operations import Ops  # noqa: PLC0415

    project = Project.find(Path(args.project) if args.project else None)
    outputs = Path(args.outputs) if getattr(args, "outputs", None) else None
    return Ops(config.load(project.root, outputs), project)


def _json_arg(text: str | None, what: str) -> Any:
    if text is None:
        return None
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from exc


def _print_human(result: Any) -> None:
    if isinstance(result, dict) and "items" in result and "next_cursor" in result:
        for item in result["items"]:
            print(json.dumps(item, default=str, ensure_ascii=False))
        if not result["items"]:
            print("(nothing)", file=sys.stderr)
        if result["next_cursor"]:
            print(f"more: --cursor {result['next_cursor']}", file=sys.stderr)
        return
    if isinstance(result, dict) and "verdict" in result and "thresholds" in result:
        _print_health(result)
        return
    if isinstance(result, dict) and "summary" in result:
        prefix = "dry run: " if result.get("dry_run") else ""
        print(prefix + str(result["summary"]))
        for arn in result.get("stop_executions") or []:
            print(f"  stop   {arn}")
        for table, rows in (result.get("delete_rows") or {}).items():
            for row in rows:
                print(f"  delete {table}  {row['PK']}  {row['SK']}")
        if result.get("dry_run"):
            print("(nothing changed: add --yes to do it)", file=sys.stderr)
        return
    print(json.dumps(result, indent=2, default=str, ensure_ascii=False))


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2%}"


def _print_health(result: dict[str, Any]) -> None:
    mark = {"healthy": "✓", "at risk": "✗"}.get(result["verdict"], "·")
    print(
        f"{mark} {result['verdict']}: {result['sent']} sent, bounce rate "
        f"{_percent(result['bounce_rate'])}, complaint rate {_percent(result['complaint_rate'])}"
    )
    for problem in result["problems"]:
        print(f"  {problem}")
    for row in result["sequences"]:
        print(
            f"  {row['sequence_id']:<24} {row['verdict']:<13} sent {row['sent']:<8} "
            f"bounces {_percent(row['bounce_rate']):<8} "
            f"complaints {_percent(row['complaint_rate'])}"
        )


def _command(handler: Handler) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        ops = make_ops(args)
        try:
            result = handler(ops, args)
        except (ClientError, BotoCoreError) as exc:
            raise OperationFailed(str(exc)) from exc
        if args.json:
            print(json.dumps(result, indent=2, default=str, ensure_ascii=False))
        else:
            _print_human(result)
        if isinstance(result, dict) and result.get("verdict") == "at risk":
            return 1
        return 0

    return run


def _common(parser: argparse.ArgumentParser, paged: bool = False, act: bool = False) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--outputs", help="Terraform outputs JSON file (default: see docs)")
    if paged:
        parser.add_argument("--limit", type=int, default=50, help="items per page (default 50)")
        parser.add_argument("--cursor", help="next_cursor of the previous page")
    if act:
        parser.add_argument(
            "--yes", action="store_true", help="do it (default: print what would be done)"
        )


def _add(
    commands: Any, name: str, help_text: str, handler: Handler, **common: bool
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    _common(parser, **common)
    parser.set_defaults(func=_command(handler))
    return parser


def _subscribers(sub: Any) -> None:
    group = sub.add_parser("subscribers", help="look at and manage subscribers")
    commands = group.add_subparsers(dest="subscribers_command", required=True)
    get = _add(
        commands, "get", "profile, active runs, recent sends, suppression, tags",
        lambda ops, a: ops.get_subscriber(a.email, a.sends),
    )  # fmt: skip
    get.add_argument("email")
    get.add_argument("--sends", type=int, default=10, help="how many recent sends (default 10)")
    listing = _add(
        commands, "list", "subscribers by status",
        lambda ops, a: ops.list_subscribers(a.status, a.limit, a.cursor), paged=True,
    )  # fmt: skip
    listing.add_argument(
        "--status", choices=("active", "unsubscribed", "suppressed", "all"), default="all"
    )
    update = _add(
        commands, "update", "merge attributes, set first name or tags (never opt-out flags)",
        lambda ops, a: ops.update_subscriber(
            a.email, _json_arg(a.attributes, "--attributes"), a.first_name,
            None if a.tags is None else [t for t in a.tags.split(",") if t],
        ),
    )  # fmt: skip
    update.add_argument("email")
    update.add_argument("--attributes", help="JSON object (or @file.json) to merge")
    update.add_argument("--first-name")
    update.add_argument("--tags", help="comma-separated; replaces the tags")
    for name, help_text, method in (
        ("delete", "stop every run and delete every row of the address", "delete_subscriber"),
        ("unsubscribe", "mark unsubscribed and stop marketing runs", "unsubscribe"),
        ("resubscribe", "clear the unsubscribed flag", "resubscribe"),
    ):
        parser = _add(
            commands, name, help_text,
            functools.partial(_destructive, method), act=True,
        )  # fmt: skip
        parser.add_argument("email")


def _destructive(method: str, ops: Any, args: argparse.Namespace) -> Any:
    return getattr(ops, method)(args.email, dry_run=not args.yes)


def _suppression(sub: Any) -> None:
    group = sub.add_parser("suppression", help="suppressed addresses (bounces, complaints)")
    commands = group.add_subparsers(dest="suppression_command", required=True)
    _add(
        commands, "list", "suppressed addresses",
        lambda ops, a: ops.list_suppressions(a.limit, a.cursor), paged=True,
    )  # fmt: skip
    remove = _add(
        commands, "remove", "forget a suppression (the address may be emailed again)",
        functools.partial(_destructive, "remove_suppression"), act=True,
    )  # fmt: skip
    remove.add_argument("email")


def _events(sub: Any) -> None:
    events = sub.add_parser("events", help="engagement events, newest first")
    _common(events, paged=True)
    which = events.add_mutually_exclusive_group(required=True)
    which.add_argument("--email", help="one subscriber's events")
    which.add_argument("--template", help="events of a template key (onboarding/welcome)")
    which.add_argument("--sequence", help="events of a sequence")
    events.add_argument(
        "--type", dest="event_type", choices=("delivery", "open", "click", "bounce", "complaint")
    )
    events.set_defaults(
        func=_command(
            lambda ops, a: ops.events(
                email=a.email, template=a.template, sequence=a.sequence,
                event_type=a.event_type, limit=a.limit, cursor=a.cursor,
            )
        )
    )  # fmt: skip


def _sequences(sub: Any) -> None:
    group = sub.add_parser("sequences", help="deployed sequences: runs, failures, statistics")
    commands = group.add_subparsers(dest="sequences_command", required=True)
    _add(
        commands, "list", "local files and deployed state machines", lambda o, a: o.list_sequences()
    )
    describe = _add(
        commands, "describe", "definition, state machine, counters",
        lambda ops, a: ops.describe_sequence(a.sequence),
    )  # fmt: skip
    describe.add_argument("sequence")
    subscribers = _add(
        commands, "subscribers", "subscribers with an active run",
        lambda ops, a: ops.sequence_subscribers(a.sequence, a.limit, a.cursor), paged=True,
    )  # fmt: skip
    subscribers.add_argument("sequence")
    failures = _add(
        commands, "failures", "failed executions with their error and cause",
        lambda ops, a: ops.failures(a.sequence, a.limit, a.cursor), paged=True,
    )  # fmt: skip
    failures.add_argument("sequence")
    stats = _add(
        commands, "stats", "counters and engagement rates, per sequence and per step",
        lambda ops, a: ops.stats(a.sequence),
    )  # fmt: skip
    stats.add_argument("sequence")


def _templates(sub: Any) -> None:
    group = sub.add_parser("templates", help="deployed templates; preview and check them")
    commands = group.add_subparsers(dest="templates_command", required=True)
    _add(
        commands, "list", "template objects in the bucket",
        lambda ops, a: ops.list_templates(a.limit, a.cursor), paged=True,
    )  # fmt: skip
    preview = _add(
        commands, "preview", "render a step with a live profile or given data",
        lambda ops, a: ops.preview(
            a.sequence, a.step, a.email, _json_arg(a.data, "--data"), a.variant
        ),
    )  # fmt: skip
    preview.add_argument("sequence")
    preview.add_argument("step")
    source = preview.add_mutually_exclusive_group()
    source.add_argument("--email", help="render for this subscriber's stored profile")
    source.add_argument("--data", help="subscriber JSON (or @file.json)")
    preview.add_argument("--variant")
    validate = _add(
        commands, "validate", "parse a template and list the variables it uses",
        lambda ops, a: ops.validate_template(a.template, a.subject),
    )  # fmt: skip
    validate.add_argument("template", help="template key, e.g. onboarding/welcome")
    validate.add_argument("--subject", default="", help="also check this subject line")


def _key_values(pairs: list[str] | None) -> dict[str, Any]:
    """``--attr plan=pro --attr seats=3``: values are JSON when they parse (3, true), else text."""
    found: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise InvalidInput(f"--attr takes name=value: {pair!r}")
        try:
            found[name] = json.loads(raw)
        except ValueError:
            found[name] = raw
    return found


def _progress(record: dict[str, Any]) -> None:
    print(f"  {record['status']}: {record.get('counted', 0)} recipients counted…", file=sys.stderr)


def _create_broadcast(ops: Any, a: argparse.Namespace) -> Any:
    created = ops.broadcasts.create(
        a.broadcast_id, a.template, a.subject, a.sender, reply_to=a.reply_to,
        tags=a.tag, attributes=_key_values(a.attr),
    )  # fmt: skip
    if a.no_wait:
        return created
    record = ops.broadcasts.wait(a.broadcast_id, progress=None if a.json else _progress)
    if not a.json and record["status"] == "ready":
        print(
            f"dry run: {record['audience_size']} recipients. Send it with "
            f"`mailstep broadcasts send {a.broadcast_id} --yes`.",
            file=sys.stderr,
        )
    return record


def _broadcasts(sub: Any) -> None:
    group = sub.add_parser("broadcasts", help="one email to an audience: dry run, send, cancel")
    commands = group.add_subparsers(dest="broadcasts_command", required=True)
    create = _add(
        commands, "create", "record a broadcast and count its audience (the dry run)",
        _create_broadcast,
    )  # fmt: skip
    create.add_argument("broadcast_id", help="kebab-case id, e.g. spring-sale")
    create.add_argument("--template", required=True, help="template key, e.g. news/spring")
    create.add_argument("--subject", required=True)
    create.add_argument("--from", dest="sender", required=True, help='"Acme <hi@acme.io>"')
    create.add_argument("--reply-to")
    create.add_argument("--tag", action="append", help="only subscribers with this tag (repeat)")
    create.add_argument("--attr", action="append", help="only attribute name=value (repeat)")
    create.add_argument("--no-wait", action="store_true", help="do not wait for the count")
    send = _add(
        commands, "send", "send a broadcast whose dry run finished",
        lambda ops, a: ops.broadcasts.start(a.broadcast_id, dry_run=not a.yes,
                                            expected_audience=a.expect),
        act=True,
    )  # fmt: skip
    send.add_argument("broadcast_id")
    send.add_argument("--expect", type=int, help="refuse unless the dry run counted this many")
    cancel = _add(
        commands, "cancel", "stop a broadcast; emails still queued are dropped",
        lambda ops, a: ops.broadcasts.cancel(a.broadcast_id, dry_run=not a.yes), act=True,
    )  # fmt: skip
    cancel.add_argument("broadcast_id")
    show = _add(
        commands, "show", "status, progress and live counters",
        lambda ops, a: ops.broadcasts.get(a.broadcast_id),
    )  # fmt: skip
    show.add_argument("broadcast_id")
    _add(
        commands, "list", "broadcasts, newest first",
        lambda ops, a: ops.broadcasts.list(a.limit, a.cursor), paged=True,
    )  # fmt: skip


def register(sub: Any) -> None:
    """Add the operator commands to ``mailstep``'s subcommands."""
    _subscribers(sub)
    _broadcasts(sub)
    _suppression(sub)
    _events(sub)
    _sequences(sub)
    _add(sub, "health", "deliverability: bounce and complaint rates against SES limits",
         lambda ops, a: ops.health())  # fmt: skip
    test_event = _add(
        sub, "send-test-event", "put an event on the bus (starts real runs!)",
        lambda ops, a: ops.send_test_event(
            a.detail_type, _json_arg(a.detail, "detail"), a.source, dry_run=not a.yes
        ),
        act=True,
    )  # fmt: skip
    test_event.add_argument("detail_type", help="e.g. user.signed_up")
    test_event.add_argument("detail", help="the event detail as JSON (or @file.json)")
    test_event.add_argument("--source", default="mailstep.test")
    _templates(sub)
