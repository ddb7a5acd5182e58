"""``make demo``: the example sequences, end to end, on the local sandbox.

Five subscribers take different paths through ``onboarding`` and ``trial-expiring``
while simulated time runs at one day per second:

* alice completes onboarding (she has a team, so she gets the team tips);
* bob starts a trial, gets the A/B nudge, then upgrades: the run exits at once;
* carol unsubscribes through the real unsubscribe page (GET shows it, POST confirms);
* the SES mailbox simulator's bounce address hard-bounces: it is suppressed;
* dave's trial event is delivered twice (same event id): he gets each email once,
  plus a fire-and-forget payment-failed email.

Each email is printed as it is sent, every one is written to ``build/outbox/`` with an
``index.html``, and the run exits non-zero if anything did not happen as expected.
"""

from __future__ import annotations

import argparse
import html.parser
import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mailstep.local import control

DAY = 86400
BOUNCE = "bounce@simulator.amazonses.com"
EXPECTED = {
    "alice@example.com": ["onboarding/welcome", "onboarding/team-tips", "onboarding/check-in"],
    "carol@example.com": ["onboarding/welcome"],
    BOUNCE: ["onboarding/welcome"],
    "bob@example.com": ["trial-expiring/trial-welcome", "trial-expiring/nudge-?"],
    "dave@example.com": [
        "trial-expiring/trial-welcome",
        "trial-expiring/payment-failed",
        "trial-expiring/pro-tips",
        "trial-expiring/last-day",
    ],
}
LAST_DAY = 25  # a safety stop: every run has ended long before (the longest waits 13 days)


def event(detail_type: str, detail: dict[str, Any], source: str = "acme.app") -> dict[str, Any]:
    return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}


@dataclass
class Action:
    """Something the demo does once simulated time reaches ``day`` and ``ready`` holds."""

    day: float
    label: str
    run: Callable[[Demo], None]
    ready: Callable[[Demo], bool] = lambda _: True
    done: bool = False


class _Form(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = "/"
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action") or "/"
        if tag == "input" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


@dataclass
class Demo:
    paths: control.Paths
    info: dict[str, Any] = field(default_factory=dict)
    start: datetime | None = None
    seen: int = 0
    problems: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- helpers

    def put(self, *entries: dict[str, Any]) -> None:
        bus = self.info["outputs"]["event_bus_name"]
        client = control.aws_client(self.info, "events")
        response = client.put_events(Entries=[{**e, "EventBusName": bus} for e in entries])
        if response.get("FailedEntryCount"):
            self.problems.append(f"PutEvents rejected: {response['Entries']}")

    def messages(self) -> list[dict[str, Any]]:
        return list(control.api(self.paths, "outbox"))

    def received(self, email: str, template_prefix: str) -> bool:
        return any(
            m["to"] == [email]
            and m["headers"].get("X-Mailstep-Template", "").startswith(template_prefix)
            for m in self.messages()
        )

    def day(self, sent_at: str) -> float:
        assert self.start is not None
        moment = datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
        return (moment - self.start).total_seconds() / DAY

    def now_day(self) -> float:
        status = control.api(self.paths, "status")
        return self.day(status["simulated_now"])

    def print_new(self) -> None:
        messages = self.messages()
        for message in messages[self.seen :]:
            step = message["headers"].get("X-Mailstep-Template", "?")
            when = self.day(message["sent_at"])
            print(f"  day {when:5.1f}  ✉  {message['to'][0]:<32} {step:<32} “{message['subject']}”")
        self.seen = len(messages)

    # ---------------------------------------------------------------- actions

    def unsubscribe_carol(self) -> None:
        welcome = [m for m in self.messages() if m["to"] == ["carol@example.com"]]
        if not welcome:
            self.problems.append("carol never got the welcome email to unsubscribe from")
            return
        url = welcome[0]["headers"]["List-Unsubscribe"].strip("<>")
        with urllib.request.urlopen(url, timeout=30) as page:
            form = _Form()
            form.feed(page.read().decode())
        target = urllib.parse.urljoin(url, form.action)
        body = urllib.parse.urlencode(form.fields).encode()
        request = urllib.request.Request(
            target,
            data=body,
            method="POST",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            if "unsubscribed" not in response.read().decode():
                self.problems.append("the unsubscribe page did not confirm")

    # ---------------------------------------------------------------- run

    def actions(self) -> list[Action]:
        trial = {"firstName": "Bob", "plan": "starter", "eventId": "trial-bob-1"}
        dave = {
            "email": "dave@example.com",
            "firstName": "Dave",
            "plan": "pro",
            "eventId": "trial-dave-1",
        }
        return [
            Action(
                0,
                "alice signs up (with a team), carol signs up, the bounce address signs up",
                lambda d: d.put(
                    event(
                        "user.signed_up",
                        {"email": "alice@example.com", "firstName": "Alice", "team_name": "Rocket"},
                    ),
                    event("user.signed_up", {"email": "carol@example.com", "firstName": "Carol"}),
                    event("user.signed_up", {"email": BOUNCE, "firstName": "Bounce"}),
                ),
            ),
            Action(
                0,
                "bob starts a starter trial; dave a pro trial, and his event arrives twice",
                lambda d: d.put(
                    event("trial.started", {"email": "bob@example.com", **trial}),
                    event("trial.started", dave),
                    event("trial.started", dave),
                ),
            ),
            Action(
                0.5,
                "carol opens the unsubscribe link (GET: confirmation page) and confirms (POST)",
                lambda d: d.unsubscribe_carol(),
                ready=lambda d: d.received("carol@example.com", "onboarding/welcome"),
            ),
            Action(
                3,
                "dave's card is declined: a fire-and-forget email",
                lambda d: d.put(
                    event("payment.failed", {"email": "dave@example.com", "firstName": "Dave"})
                ),
            ),
            Action(
                8,
                "bob upgrades after the nudge: his trial run exits",
                lambda d: d.put(event("subscription.upgraded", {"email": "bob@example.com"})),
                ready=lambda d: d.received("bob@example.com", "trial-expiring/nudge-"),
            ),
        ]

    def runs_active(self) -> int:
        sfn = control.aws_client(self.info, "stepfunctions")
        machines = self.info["outputs"].get("state_machine_arns") or {}
        return sum(
            len(sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"])
            for arn in machines.values()
        )

    def play(self) -> None:
        status = control.api(self.paths, "status")
        self.start = datetime.fromisoformat(status["simulated_now"])
        actions = self.actions()
        print("\nTimeline (one simulated day per second):")
        while True:
            today = self.now_day()
            self.print_new()
            for action in actions:
                if not action.done and today >= action.day and action.ready(self):
                    print(f"  day {today:5.1f}  →  {action.label}")
                    action.run(self)
                    action.done = True
            if today >= LAST_DAY or (
                all(a.done for a in actions) and today > 14 and not self.runs_active()
            ):
                break
            time.sleep(0.25)
        control.api(self.paths, "drain", {})
        self.print_new()

    def check(self) -> None:
        messages = self.messages()
        got: dict[str, list[str]] = {}
        for message in messages:
            got.setdefault(message["to"][0], []).append(
                message["headers"].get("X-Mailstep-Template", "?")
            )
        print("\nWho got what:")
        for email, expected in EXPECTED.items():
            actual = got.get(email, [])
            ok = len(actual) == len(expected) and all(
                a == e or (e.endswith("?") and a.startswith(e[:-1]))
                for a, e in zip(actual, expected, strict=False)
            )
            print(f"  {'✓' if ok else '✗'} {email:<32} {', '.join(actual) or '(nothing)'}")
            if not ok:
                self.problems.append(f"{email}: expected {expected}, got {actual}")
        for extra in sorted(set(got) - set(EXPECTED)):
            self.problems.append(f"unexpected recipient {extra}: {got[extra]}")
        db = control.aws_client(self.info, "dynamodb")
        table = self.info["outputs"]["main_table_name"]

        def item(pk: str, sk: str) -> dict[str, Any]:
            return (
                db.get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}).get("Item")
                or {}
            )

        checks = [
            (
                "carol is unsubscribed",
                item("SUB#carol@example.com", "PROFILE").get("unsubscribed", {}).get("BOOL")
                is True,
            ),
            ("the bounce address is suppressed", bool(item(f"SUB#{BOUNCE}", "SUPPRESSION"))),
            ("no run is left active", self.runs_active() == 0),
            ("no execution rows are left behind", not _exec_rows(db, table)),
            (
                "nothing failed to deliver",
                not control.api(self.paths, "status")["delivery_failures"],
            ),
        ]
        for label, ok in checks:
            print(f"  {'✓' if ok else '✗'} {label}")
            if not ok:
                self.problems.append(label)
        index = control.write_index(self.paths.outbox, messages, "mailstep demo outbox")
        print(
            f"\n{len(messages)} emails written to {self.paths.outbox}/ — open {index} in a browser."
        )


def _exec_rows(db: Any, table: str) -> list[Any]:
    items = db.scan(
        TableName=table,
        FilterExpression="begins_with(SK, :e) OR begins_with(PK, :s)",
        ExpressionAttributeValues={":e": {"S": "EXEC#"}, ":s": {"S": "SEQ#"}},
    )["Items"]
    return list(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mailstep local demo", description=__doc__)
    parser.add_argument("--project", type=Path, default=Path.cwd())
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    args = parser.parse_args(argv)
    paths = control.Paths(args.project.resolve())
    started = time.monotonic()
    demo = Demo(paths)
    try:
        control.stop_sandbox(paths)  # a clean slate, whatever was left from before
        demo.info = control.up(paths)
        demo.play()
        demo.check()
    except control.LocalError as exc:
        demo.problems.append(str(exc))
    finally:
        if not args.keep:
            try:
                control.down(paths)
            except control.LocalError as exc:
                demo.problems.append(str(exc))
    took = time.monotonic() - started
    if demo.problems:
        print(f"\n✗ demo failed after {took:.0f} s:", file=sys.stderr)
        for problem in demo.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"\n✓ demo passed in {took:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
