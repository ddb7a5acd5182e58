"""``mailstep-mcp``: a stdio MCP server exposing the operator operations (``mailstep.ops``)
and the sequence authoring checks (validate, preview, diagram).

Every list is paginated (``limit`` + ``cursor`` → ``next_cursor``). Destructive tools
take ``dry_run`` (default true) and return exactly what they will do (or did). Bad
arguments come back as tool errors that say what is wrong.

    claude mcp add mailstep -- .venv/bin/mailstep-mcp
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from mailstep.cli import preview as preview_mod
from mailstep.cli.sequences import Project, ProjectNotFound, load, mermaid, validate_file
from mailstep.domain.errors import MailstepError
from mailstep.ops.operations import Ops

T = TypeVar("T")
INSTRUCTIONS = (
    "Operate a mailstep deployment (lifecycle email on AWS). Lists are paginated: pass "
    "next_cursor back as cursor. Destructive tools default to dry_run=true: show the user "
    "the plan and only call again with dry_run=false after they confirm."
)


def _guard(call: Callable[[], T]) -> T:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        return call()
    except (MailstepError, ProjectNotFound, FileNotFoundError, ValueError) as exc:
        raise ToolError(str(exc)) from exc
    except KeyError as exc:
        raise ToolError(str(exc.args[0]) if exc.args else "not found") from exc
    except (ClientError, BotoCoreError) as exc:
        raise ToolError(f"AWS refused: {exc}") from exc


def build_server(
    ops_factory: Callable[[], Ops], project_factory: Callable[[], Project] = Project.find
) -> MCPServer:
    """The server; ``ops_factory`` is called on first use (so startup never needs AWS),
    and the authoring tools need only the project (no deployment)."""
    server: MCPServer = MCPServer("mailstep", instructions=INSTRUCTIONS)
    ops = functools.cache(ops_factory)
    _subscriber_tools(server, ops)
    _insight_tools(server, ops)
    _broadcast_tools(server, ops)
    _template_tools(server, ops)
    _authoring_tools(server, functools.cache(project_factory))
    return server


def _subscriber_tools(server: MCPServer, ops: Callable[[], Ops]) -> None:

    @server.tool()
    def get_subscriber(email: str, sends: int = 10) -> dict[str, Any]:
        """A subscriber's profile, active runs, last `sends` sends, suppression and tags."""
        return _guard(lambda: ops().get_subscriber(email, sends))

    @server.tool()
    def list_subscribers(
        status: str = "all", limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """Subscribers by status (active, unsubscribed, suppressed, all), one page."""
        return _guard(lambda: ops().list_subscribers(status, limit, cursor))

    @server.tool()
    def update_subscriber(
        email: str,
        attributes: dict[str, Any] | None = None,
        first_name: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Merge attributes, set first name or replace tags. Never changes opt-out flags."""
        return _guard(lambda: ops().update_subscriber(email, attributes, first_name, tags))

    @server.tool()
    def delete_subscriber(email: str, dry_run: bool = True) -> dict[str, Any]:
        """Stop every run of the address and delete every row it has in both tables
        (profile, runs, send log, suppression, tags, engagement events). Dry run by
        default: returns the exact runs and rows."""
        return _guard(lambda: ops().delete_subscriber(email, dry_run))

    @server.tool()
    def unsubscribe_subscriber(email: str, dry_run: bool = True) -> dict[str, Any]:
        """Mark unsubscribed and stop marketing runs (transactional runs continue)."""
        return _guard(lambda: ops().unsubscribe(email, dry_run))

    @server.tool()
    def resubscribe_subscriber(email: str, dry_run: bool = True) -> dict[str, Any]:
        """Clear the unsubscribed flag (a suppression stays until removed)."""
        return _guard(lambda: ops().resubscribe(email, dry_run))

    @server.tool()
    def list_suppressions(limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """Suppressed addresses (permanent bounces, complaints), one page."""
        return _guard(lambda: ops().list_suppressions(limit, cursor))

    @server.tool()
    def remove_suppression(email: str, dry_run: bool = True) -> dict[str, Any]:
        """Forget a suppression so the address can be emailed again."""
        return _guard(lambda: ops().remove_suppression(email, dry_run))


def _broadcast_tools(server: MCPServer, ops: Callable[[], Ops]) -> None:

    @server.tool()
    def create_broadcast(  # noqa: PLR0917 - tool arguments are named by the client
        broadcast_id: str,
        template: str,
        subject: str,
        sender: str,
        reply_to: str | None = None,
        tags: list[str] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a broadcast (one email to everyone with all `tags` and these attribute
        values; no filter = every subscriber) and start its dry run, which counts the
        audience without sending. Poll get_broadcast until status is `ready`, show the
        user audience_size, then start_broadcast. Sends nothing."""
        return _guard(
            lambda: ops().broadcasts.create(
                broadcast_id, template, subject, sender,
                reply_to=reply_to, tags=tags, attributes=attributes,
            )
        )  # fmt: skip

    @server.tool()
    def get_broadcast(broadcast_id: str) -> dict[str, Any]:
        """Status (counting, ready, sending, sent, cancelled, failed), dry-run count
        (audience_size), progress (queued, processed) and live counters with rates."""
        return _guard(lambda: ops().broadcasts.get(broadcast_id))

    @server.tool()
    def list_broadcasts(limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        """Broadcasts, newest first, one page."""
        return _guard(lambda: ops().broadcasts.list(limit, cursor))

    @server.tool()
    def start_broadcast(
        broadcast_id: str, dry_run: bool = True, expected_audience: int | None = None
    ) -> dict[str, Any]:
        """Send a `ready` broadcast to the audience its dry run counted, paced to the
        deployment's send rate. Dry run by default: returns what will be sent to how many.
        `expected_audience` refuses to start if the dry run counted a different number."""
        return _guard(lambda: ops().broadcasts.start(broadcast_id, dry_run, expected_audience))

    @server.tool()
    def cancel_broadcast(broadcast_id: str, dry_run: bool = True) -> dict[str, Any]:
        """Stop a broadcast: nothing more is queued and queued emails are dropped at send
        time. Dry run by default."""
        return _guard(lambda: ops().broadcasts.cancel(broadcast_id, dry_run))


def _insight_tools(server: MCPServer, ops: Callable[[], Ops]) -> None:

    @server.tool()
    def list_events(  # noqa: PLR0917 - tool arguments are named by the client
        email: str | None = None,
        template: str | None = None,
        sequence: str | None = None,
        event_type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Engagement events (delivery, open, click, bounce, complaint), newest first, for
        exactly one of: a subscriber email, a template key, a sequence id."""
        return _guard(
            lambda: ops().events(
                email=email, template=template, sequence=sequence,
                event_type=event_type, limit=limit, cursor=cursor,
            )
        )  # fmt: skip

    @server.tool()
    def list_sequences() -> dict[str, Any]:
        """Sequence files and deployed state machines, with active run counts."""
        return {"sequences": _guard(lambda: ops().list_sequences())}

    @server.tool()
    def describe_sequence(sequence_id: str) -> dict[str, Any]:
        """A sequence's definition, state machine ARN, active runs and counters."""
        return _guard(lambda: ops().describe_sequence(sequence_id))

    @server.tool()
    def sequence_subscribers(
        sequence_id: str, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """Subscribers with an active run of the sequence, one page."""
        return _guard(lambda: ops().sequence_subscribers(sequence_id, limit, cursor))

    @server.tool()
    def sequence_failures(
        sequence_id: str, limit: int = 20, cursor: str | None = None
    ) -> dict[str, Any]:
        """Failed executions of a deployed sequence with their error and cause."""
        return _guard(lambda: ops().failures(sequence_id, limit, cursor))

    @server.tool()
    def sequence_stats(sequence_id: str) -> dict[str, Any]:
        """Counters and engagement rates (per sent), for the sequence and each step."""
        return _guard(lambda: ops().stats(sequence_id))

    @server.tool()
    def deliverability_health() -> dict[str, Any]:
        """Bounce (≥ 5 %) and complaint (≥ 0.1 %) rates against SES's limits: a verdict."""
        return _guard(lambda: ops().health())


def _template_tools(server: MCPServer, ops: Callable[[], Ops]) -> None:

    @server.tool()
    def list_templates(limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
        """Template objects in the deployed bucket, one page."""
        return _guard(lambda: ops().list_templates(limit, cursor))

    @server.tool()
    def preview_template(
        sequence_id: str,
        step_id: str,
        email: str | None = None,
        data: dict[str, Any] | None = None,
        variant: str | None = None,
    ) -> dict[str, Any]:
        """Render a send step with a stored subscriber's profile (email) or given data."""
        return _guard(lambda: ops().preview(sequence_id, step_id, email, data, variant))

    @server.tool()
    def validate_template(template: str, subject: str = "") -> dict[str, Any]:
        """Parse a template (and a subject line) and list the variables it uses."""
        return _guard(lambda: ops().validate_template(template, subject))

    @server.tool()
    def send_test_event(
        detail_type: str,
        detail: dict[str, Any],
        source: str = "mailstep.test",
        dry_run: bool = True,
    ) -> dict[str, Any]:
        """Put one event on the mailstep bus: it starts real runs and real emails."""
        return _guard(lambda: ops().send_test_event(detail_type, detail, source, dry_run))


def _authoring_tools(server: MCPServer, project: Callable[[], Project]) -> None:
    @server.tool()
    def validate_sequence(sequence: str | None = None) -> dict[str, Any]:
        """Check a sequence file (or all): schema, step graph, templates."""

        def run() -> dict[str, Any]:
            root = project()
            files = [root.resolve_sequence(sequence)] if sequence else root.sequence_files()
            problems = [p.as_dict() for f in files for p in validate_file(root, f.resolve())]
            errors = [p for p in problems if p["severity"] == "error"]
            return {"ok": not errors, "files": [str(f) for f in files], "problems": problems}

        return _guard(run)

    @server.tool()
    def preview_sequence_step(
        sequence_id: str,
        step_id: str,
        data: dict[str, Any] | None = None,
        variant: str | None = None,
    ) -> dict[str, Any]:
        """Render a step from the local files with sample (or given) data; no AWS needed."""

        def run() -> dict[str, Any]:
            import json  # noqa: PLC0415

            root = project()
            sequence = load(root.resolve_sequence(sequence_id))
            subscriber = preview_mod.subscriber_from(json.dumps(data) if data else None)
            result = preview_mod.render_step(root, sequence, step_id, subscriber, variant)
            return {
                "template": result.template,
                "subject": result.rendered.subject,
                "html": result.rendered.html,
                "text": result.rendered.text,
            }

        return _guard(run)

    @server.tool()
    def diagram_sequence(sequence_id: str) -> dict[str, Any]:
        """A Mermaid flowchart of a sequence."""
        return _guard(lambda: {"mermaid": mermaid(load(project().resolve_sequence(sequence_id)))})


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mailstep-mcp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", help="project folder (default: found from the current one)")
    parser.add_argument("--outputs", help="Terraform outputs JSON file")
    args = parser.parse_args(argv)

    def project() -> Project:
        return Project.find(Path(args.project) if args.project else None)

    def factory() -> Ops:
        from mailstep.ops import config  # noqa: PLC0415

        outputs = Path(args.outputs) if args.outputs else None
        return Ops(config.load(project().root, outputs), project())

    build_server(factory, project).run()


if __name__ == "__main__":
    main()
