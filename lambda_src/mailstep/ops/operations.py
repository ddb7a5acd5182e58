"""What an operator can do to a deployment, over boto3 clients. Every list is paginated
(``limit`` + opaque ``cursor`` → ``{"items": [...], "next_cursor": ...}``); every
destructive operation takes ``dry_run`` (default True) and returns exactly what it would
do (or did)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailstep.adapters.dynamo import (
    PROFILE,
    SUPPRESSION,
    DynamoSubscriberStore,
    counts_from_item,
    deserialize,
    key,
    serialize,
    sub_pk,
)
from mailstep.adapters.events import EventBridgePublisher
from mailstep.adapters.s3_templates import S3TemplateSource
from mailstep.adapters.ses import SesMailer
from mailstep.adapters.sfn import SfnExecutionStopper
from mailstep.cli import preview as preview_mod
from mailstep.cli import sequences as seq_mod
from mailstep.domain import optout
from mailstep.domain.emails import normalise_email
from mailstep.domain.engagement import TRACKED
from mailstep.domain.errors import InvalidInput
from mailstep.domain.models import Subscriber
from mailstep.domain.payloads import one_of
from mailstep.domain.services import (
    ConfigurationError,
    RuntimeSettings,
    Services,
    iso,
    stop_all_executions,
)
from mailstep.ops.broadcasts import BroadcastOps
from mailstep.ops.config import Config
from mailstep.ops.paging import Page, check_limit, read_page

STATUSES = ("active", "unsubscribed", "suppressed", "all")
BOUNCE_THRESHOLD = 0.05
COMPLAINT_THRESHOLD = 0.001
# delivered, opened, clicked, bounced, complained, plus opt-outs and replies
ENGAGEMENT = (*TRACKED.values(), "unsubscribed", "replied")
BATCH = 25
OPERATOR_CAUSE = "Stopped by an operator"


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _no_settings() -> RuntimeSettings:
    raise ConfigurationError("operator tooling does not read the unsubscribe secret")


class Ops:
    def __init__(
        self,
        config: Config,
        project: seq_mod.Project | None = None,
        client_factory: Callable[[str], Any] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.project = project
        self._factory = client_factory or self._boto3_client
        self._clients: dict[str, Any] = {}
        self.clock = clock

    # ------------------------------------------------------------------ plumbing

    def _boto3_client(self, service: str) -> Any:
        import boto3  # noqa: PLC0415

        extra: dict[str, Any] = {}
        if self.config.local:
            extra = {"aws_access_key_id": "mailstep-local", "aws_secret_access_key": "local"}
        return boto3.client(
            service, region_name=self.config.region, endpoint_url=self.config.endpoint, **extra
        )

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    @property
    def store(self) -> DynamoSubscriberStore:
        return DynamoSubscriberStore(self.client("dynamodb"), self.config.table)

    @property
    def broadcasts(self) -> BroadcastOps:
        return BroadcastOps(self)

    @property
    def stopper(self) -> SfnExecutionStopper:
        return SfnExecutionStopper(self.client("stepfunctions"))

    def services(self) -> Services:
        """The domain's ports, for the use cases operators share with the Lambdas."""
        templates = S3TemplateSource(self.client("s3"), self.config.template_bucket)
        return Services(
            store=self.store,
            templates=templates,
            mailer=SesMailer(self.client("sesv2"), self.config.configuration_set),
            stopper=self.stopper,
            publisher=EventBridgePublisher(self.client("events"), self.config.event_bus),
            settings=_no_settings,
            display_names=dict,
            clock=self.clock,
        )

    def _project(self) -> seq_mod.Project:
        if self.project is None:
            self.project = seq_mod.Project.find()
        return self.project

    def _db(self) -> Any:
        return self.client("dynamodb")

    # ------------------------------------------------------------------ subscribers

    def get_subscriber(self, email: str, sends: int = 10) -> dict[str, Any]:
        email = normalise_email(email)
        check_limit(sends)
        status = self.store.get_status(email)
        if status.profile is None and status.suppression is None:
            raise InvalidInput(f"no subscriber {email}")
        recent = self._db().query(
            TableName=self.config.table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sent)",
            ExpressionAttributeValues={":pk": {"S": sub_pk(email)}, ":sent": {"S": "SENT#"}},
            ScanIndexForward=False,
            Limit=sends,
        )
        profile = status.profile
        return {
            "email": email,
            "profile": None
            if profile is None
            else {
                "first_name": profile.first_name,
                "attributes": dict(profile.attributes),
                "unsubscribed": profile.unsubscribed,
                "suppressed": profile.suppressed,
                "created_at": profile.created_at,
                "updated_at": profile.updated_at,
            },
            "tags": list(profile.tags) if profile else [],
            "suppression": None if status.suppression is None else vars(status.suppression),
            "active_executions": [vars(e) for e in self.store.list_executions(email)],
            "recent_sends": [
                {k: v for k, v in deserialize(i).items() if k not in ("PK", "SK", "ttl")}
                for i in recent.get("Items", [])
            ],
        }

    def list_subscribers(
        self, status: str = "all", limit: int = 50, cursor: str | None = None
    ) -> Page:
        one_of(status, STATUSES, "status")
        condition = {
            "active": " AND unsubscribed = :false AND suppressed = :false",
            "unsubscribed": " AND unsubscribed = :true",
            "suppressed": " AND suppressed = :true",
            "all": "",
        }[status]
        values: dict[str, Any] = {":profile": PROFILE}
        if ":false" in condition:
            values[":false"] = False
        if ":true" in condition:
            values[":true"] = True
        page = read_page(
            self._db().scan,
            {
                "TableName": self.config.table,
                "FilterExpression": "SK = :profile" + condition,
                "ExpressionAttributeValues": serialize(values),
            },
            limit=limit,
            cursor=cursor,
        )
        page["items"] = [
            {
                "email": i["email"],
                "first_name": i.get("first_name"),
                "unsubscribed": bool(i.get("unsubscribed")),
                "suppressed": bool(i.get("suppressed")),
                "tags": i.get("tags") or [],
                "created_at": i.get("created_at"),
            }
            for i in page["items"]
        ]
        return page

    def update_subscriber(
        self,
        email: str,
        attributes: dict[str, Any] | None = None,
        first_name: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """Merge attributes (and set first name / tags); never the opt-out flags."""
        email = normalise_email(email)
        if self.store.get_profile(email) is None:
            raise InvalidInput(f"no subscriber {email}")
        if not isinstance(attributes or {}, dict):
            raise InvalidInput("attributes must be an object")
        subscriber = Subscriber.from_payload(
            {
                "email": email,
                "first_name": first_name,
                "attributes": attributes or {},
                **({"tags": tags} if tags is not None else {}),
            }
        )
        profile = self.store.upsert_profile(subscriber, iso(self.clock()))
        return {
            "email": email,
            "attributes": dict(profile.attributes),
            "first_name": profile.first_name,
            "tags": list(profile.tags),
        }

    def _rows_of(self, email: str) -> dict[str, list[dict[str, str]]]:
        main = [
            {"PK": i["PK"], "SK": i["SK"]}
            for i in self.store.query(sub_pk(email), ProjectionExpression="PK, SK, sequence_id")
        ]
        profile = self.store.get_profile(email)
        inverted = [
            {"PK": f"SEQ#{e.sequence_id}", "SK": sub_pk(email)}
            for e in self.store.list_executions(email)
        ]
        tags = [{"PK": f"TAG#{t}", "SK": sub_pk(email)} for t in (profile.tags if profile else ())]
        events = [
            {"PK": i["PK"], "SK": i["SK"]}
            for i in DynamoSubscriberStore(self._db(), self.config.events_table).query(
                sub_pk(email), ProjectionExpression="PK, SK"
            )
        ]
        return {"main": main + inverted + tags, "events": events}

    def delete_subscriber(self, email: str, dry_run: bool = True) -> dict[str, Any]:
        """Stop every run and delete every row of the address, in both tables. This also
        forgets a suppression, so a later event may email the address again."""
        email = normalise_email(email)
        executions = self.store.list_executions(email)
        rows = self._rows_of(email)
        plan = {
            "email": email,
            "dry_run": dry_run,
            "stop_executions": [e.execution_arn for e in executions],
            "delete_rows": {"main_table": rows["main"], "events_table": rows["events"]},
            "summary": (
                f"{'would stop' if dry_run else 'stopped'} {len(executions)} run(s) and "
                f"{'would delete' if dry_run else 'deleted'} {len(rows['main'])} main-table "
                f"and {len(rows['events'])} events-table row(s) of {email}"
            ),
        }
        if not rows["main"] and not rows["events"]:
            raise InvalidInput(f"no subscriber {email}: nothing to delete")
        if dry_run:
            return plan
        stop_all_executions(
            self.store, self.stopper, email, keep_transactional=False, cause=OPERATOR_CAUSE
        )
        self._batch_delete(self.config.table, rows["main"])
        self._batch_delete(self.config.events_table, rows["events"])
        return plan

    def _batch_delete(self, table: str, keys: list[dict[str, str]]) -> None:
        unique = list({(k["PK"], k["SK"]): k for k in keys}.values())
        for start in range(0, len(unique), BATCH):
            request = {
                table: [
                    {"DeleteRequest": {"Key": key(k["PK"], k["SK"])}}
                    for k in unique[start : start + BATCH]
                ]
            }
            while request:
                response = self._db().batch_write_item(RequestItems=request)
                request = response.get("UnprocessedItems") or {}

    def unsubscribe(self, email: str, dry_run: bool = True) -> dict[str, Any]:
        email = normalise_email(email)
        runs = [e for e in self.store.list_executions(email) if not e.transactional]
        if self.store.get_profile(email) is None:
            raise InvalidInput(f"no subscriber {email}")
        if dry_run:
            return {
                "email": email,
                "dry_run": True,
                "summary": f"would mark {email} unsubscribed and stop {len(runs)} marketing run(s)",
                "stop_executions": [e.execution_arn for e in runs],
            }
        result = optout.unsubscribe(self.services(), email, cause="Unsubscribed by an operator")
        return {
            "email": email,
            "dry_run": False,
            "summary": f"marked {email} unsubscribed and stopped {result.stopped} run(s)",
            "stop_executions": [e.execution_arn for e in runs],
        }

    def resubscribe(self, email: str, dry_run: bool = True) -> dict[str, Any]:
        """Clear the unsubscribe flag (an explicit operator action; suppressions stay)."""
        email = normalise_email(email)
        profile = self.store.get_profile(email)
        if profile is None:
            raise InvalidInput(f"no subscriber {email}")
        summary = f"mark {email} subscribed again"
        if profile.suppressed:
            summary += " (still suppressed: remove the suppression separately)"
        if not dry_run:
            self._db().update_item(
                TableName=self.config.table,
                Key=key(sub_pk(email), PROFILE),
                UpdateExpression="SET unsubscribed = :false, updated_at = :now "
                "REMOVE unsubscribed_at",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=serialize({":false": False, ":now": iso(self.clock())}),
            )
        return {
            "email": email,
            "dry_run": dry_run,
            "summary": ("would " if dry_run else "") + summary,
        }

    # ------------------------------------------------------------------ suppression

    def list_suppressions(self, limit: int = 50, cursor: str | None = None) -> Page:
        page = read_page(
            self._db().scan,
            {
                "TableName": self.config.table,
                "FilterExpression": "SK = :s",
                "ExpressionAttributeValues": {":s": {"S": SUPPRESSION}},
            },
            limit=limit,
            cursor=cursor,
        )
        page["items"] = [
            {k: v for k, v in i.items() if k not in ("PK", "SK")} for i in page["items"]
        ]
        return page

    def remove_suppression(self, email: str, dry_run: bool = True) -> dict[str, Any]:
        email = normalise_email(email)
        status = self.store.get_status(email)
        if status.suppression is None:
            raise InvalidInput(f"{email} is not suppressed")
        summary = f"delete the suppression of {email} ({status.suppression.reason})"
        if status.profile is not None:
            summary += " and clear the profile's suppressed flag"
        if not dry_run:
            self._db().delete_item(TableName=self.config.table, Key=key(sub_pk(email), SUPPRESSION))
            if status.profile is not None:
                self._db().update_item(
                    TableName=self.config.table,
                    Key=key(sub_pk(email), PROFILE),
                    UpdateExpression="SET suppressed = :false, updated_at = :now",
                    ExpressionAttributeValues=serialize(
                        {":false": False, ":now": iso(self.clock())}
                    ),
                )
        return {
            "email": email,
            "dry_run": dry_run,
            "summary": ("would " if dry_run else "") + summary,
        }

    # ------------------------------------------------------------------ events

    def events(
        self,
        *,
        email: str | None = None,
        template: str | None = None,
        sequence: str | None = None,
        event_type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """Engagement events, newest first, by exactly one of subscriber/template/sequence."""
        given = [
            n for n, v in (("email", email), ("template", template), ("sequence", sequence)) if v
        ]
        if len(given) != 1:
            raise InvalidInput("give exactly one of email, template or sequence")
        kinds = sorted(TRACKED)
        if event_type is not None:
            one_of(event_type, kinds, "event type")
        params: dict[str, Any] = {"TableName": self.config.events_table, "ScanIndexForward": False}
        keys: tuple[str, ...] = ("PK", "SK")
        if email:
            params["KeyConditionExpression"] = "PK = :v"
            values = {":v": sub_pk(normalise_email(email))}
        else:
            index, attribute = (
                ("by_template", "template_key") if template else ("by_sequence", "sequence_id")
            )
            params["IndexName"] = index
            params["KeyConditionExpression"] = f"{attribute} = :v"
            values = {":v": str(template or sequence)}
            keys = ("PK", "SK", attribute)
        if event_type:
            params["FilterExpression"] = "event_type = :t"
            values[":t"] = event_type
        params["ExpressionAttributeValues"] = serialize(values)
        page = read_page(self._db().query, params, limit=limit, cursor=cursor, key_attributes=keys)
        page["items"] = [
            {k: v for k, v in i.items() if k not in ("PK", "SK", "ttl")} for i in page["items"]
        ]
        return page

    # ------------------------------------------------------------------ sequences

    def _deployed(self) -> dict[str, str]:
        prefix = f"{self.config.name_prefix}-"
        found: dict[str, str] = {}
        paginator = self.client("stepfunctions").get_paginator("list_state_machines")
        for page in paginator.paginate():
            for machine in page.get("stateMachines", []):
                if machine["name"].startswith(prefix):
                    found[machine["name"][len(prefix) :]] = machine["stateMachineArn"]
        return found

    def _local_sequences(self) -> dict[str, Path]:
        try:
            project = self._project()
        except seq_mod.ProjectNotFound:
            return {}
        return {path.stem: path for path in project.sequence_files()}

    def active_count(self, sequence_id: str) -> int:
        params: dict[str, Any] = {
            "TableName": self.config.table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"SEQ#{sequence_id}"}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = self._db().query(**params)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def list_sequences(self) -> list[dict[str, Any]]:
        files, deployed = self._local_sequences(), self._deployed()
        return [
            {
                "id": sequence_id,
                "file": str(files[sequence_id]) if sequence_id in files else None,
                "state_machine_arn": deployed.get(sequence_id),
                "deployed": sequence_id in deployed,
                "active": self.active_count(sequence_id),
            }
            for sequence_id in sorted(set(files) | set(deployed))
        ]

    def describe_sequence(self, sequence_id: str) -> dict[str, Any]:
        files, deployed = self._local_sequences(), self._deployed()
        if sequence_id not in files and sequence_id not in deployed:
            known = ", ".join(sorted(set(files) | set(deployed))) or "none"
            raise InvalidInput(f"no sequence {sequence_id!r} (known: {known})")
        definition = seq_mod.load(files[sequence_id]).data if sequence_id in files else None
        return {
            "id": sequence_id,
            "file": str(files[sequence_id]) if sequence_id in files else None,
            "definition": definition,
            "state_machine_arn": deployed.get(sequence_id),
            "active": self.active_count(sequence_id),
            "counters": self.stats(sequence_id)["counters"],
        }

    def sequence_subscribers(
        self, sequence_id: str, limit: int = 50, cursor: str | None = None
    ) -> Page:
        page = read_page(
            self._db().query,
            {
                "TableName": self.config.table,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"SEQ#{sequence_id}"}},
            },
            limit=limit,
            cursor=cursor,
        )
        page["items"] = [
            {k: i.get(k) for k in ("email", "execution_arn", "started_at", "transactional")}
            for i in page["items"]
        ]
        return page

    def failures(self, sequence_id: str, limit: int = 20, cursor: str | None = None) -> Page:
        check_limit(limit)
        arn = self._deployed().get(sequence_id)
        if arn is None:
            raise InvalidInput(f"sequence {sequence_id!r} is not deployed")
        sfn = self.client("stepfunctions")
        params: dict[str, Any] = {"stateMachineArn": arn, "statusFilter": "FAILED"}
        params["maxResults"] = limit
        if cursor:
            params["nextToken"] = cursor
        response = sfn.list_executions(**params)
        items = []
        for execution in response.get("executions", []):
            detail = sfn.describe_execution(executionArn=execution["executionArn"])
            items.append(
                {
                    "execution_arn": execution["executionArn"],
                    "name": execution["name"],
                    "started_at": str(execution.get("startDate", "")),
                    "stopped_at": str(execution.get("stopDate", "")),
                    "error": detail.get("error"),
                    "cause": detail.get("cause"),
                }
            )
        return {"items": items, "next_cursor": response.get("nextToken")}

    def stats(self, sequence_id: str) -> dict[str, Any]:
        rows = list(self.store.query(f"STATS#{sequence_id}"))
        counters: dict[str, int] = {}
        steps: dict[str, dict[str, int]] = {}
        for row in rows:
            numbers = counts_from_item(row)
            if row["SK"] == "COUNTERS":
                counters = numbers
            elif row["SK"].startswith("STEP#"):
                steps[row["SK"][len("STEP#") :]] = numbers
        return {
            "sequence_id": sequence_id,
            "counters": counters,
            "rates": rates(counters),
            "steps": {s: {"counters": c, "rates": rates(c)} for s, c in sorted(steps.items())},
        }

    def health(self) -> dict[str, Any]:
        ids = sorted(set(self._local_sequences()) | set(self._deployed()))
        per_sequence, totals = [], dict.fromkeys(("sent", "bounced", "complained"), 0)
        for sequence_id in ids:
            counters = self.stats(sequence_id)["counters"]
            for name in totals:
                totals[name] += counters.get(name, 0)
            per_sequence.append({"sequence_id": sequence_id, **_verdict(counters)})
        overall = _verdict(totals)
        return {**overall, "thresholds": {
            "bounce_rate": BOUNCE_THRESHOLD, "complaint_rate": COMPLAINT_THRESHOLD
        }, "sequences": per_sequence}  # fmt: skip

    # ------------------------------------------------------------------ templates

    def list_templates(self, limit: int = 100, cursor: str | None = None) -> Page:
        check_limit(limit)
        params: dict[str, Any] = {"Bucket": self.config.template_bucket, "MaxKeys": limit}
        if cursor:
            params["ContinuationToken"] = cursor
        response = self.client("s3").list_objects_v2(**params)
        items = [
            {"key": o["Key"], "size": o["Size"], "last_modified": str(o["LastModified"])}
            for o in response.get("Contents", [])
        ]
        return {"items": items, "next_cursor": response.get("NextContinuationToken")}

    def preview(
        self,
        sequence_id: str,
        step_id: str,
        email: str | None = None,
        data: dict[str, Any] | None = None,
        variant: str | None = None,
    ) -> dict[str, Any]:
        """Render a step from the local files with a live profile, given data or a sample."""
        project = self._project()
        sequence = seq_mod.load(project.resolve_sequence(sequence_id))
        if email:
            profile = self.store.get_profile(normalise_email(email))
            if profile is None:
                raise InvalidInput(f"no subscriber {email}")
            subscriber = Subscriber(profile.email, profile.first_name, profile.attributes)
        else:
            subscriber = preview_mod.subscriber_from(json.dumps(data) if data else None)
        result = preview_mod.render_step(project, sequence, step_id, subscriber, variant)
        return {
            "template": result.template,
            "subject": result.rendered.subject,
            "html": result.rendered.html,
            "text": result.rendered.text,
        }

    def validate_template(self, template: str, subject: str = "") -> dict[str, Any]:
        project = self._project()
        if not project.template_path(template).exists():
            raise InvalidInput(f"no template {template} under {project.templates_dir}")
        used, errors = seq_mod._variables_in(project, template, subject)
        return {"template": template, "ok": not errors, "errors": errors, "variables": sorted(used)}

    # ------------------------------------------------------------------ events bus

    def send_test_event(
        self,
        detail_type: str,
        detail: dict[str, Any],
        source: str = "mailstep.test",
        dry_run: bool = True,
    ) -> dict[str, Any]:
        if not detail_type or not isinstance(detail, dict):
            raise InvalidInput("a test event needs a detail type and a detail object")
        entry = {
            "Source": source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self.config.event_bus,
        }
        result: dict[str, Any] = {"dry_run": dry_run, "entry": entry}
        if dry_run:
            result["summary"] = f"would put one {detail_type} event on {self.config.event_bus}"
            return result
        response = self.client("events").put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise InvalidInput(f"EventBridge rejected the event: {response['Entries']}")
        result["event_id"] = response["Entries"][0].get("EventId")
        result["summary"] = f"put one {detail_type} event on {self.config.event_bus}"
        return result


def rates(counters: dict[str, int]) -> dict[str, float | None]:
    sent = counters.get("sent", 0)
    return {f"{name}_rate": _rate(counters.get(name, 0), sent) for name in ENGAGEMENT}


def _verdict(counters: dict[str, int]) -> dict[str, Any]:
    sent = counters.get("sent", 0)
    bounce = _rate(counters.get("bounced", 0), sent)
    complaint = _rate(counters.get("complained", 0), sent)
    problems = []
    if bounce is not None and bounce >= BOUNCE_THRESHOLD:
        problems.append(f"bounce rate {bounce:.2%} ≥ {BOUNCE_THRESHOLD:.0%}")
    if complaint is not None and complaint >= COMPLAINT_THRESHOLD:
        problems.append(f"complaint rate {complaint:.3%} ≥ {COMPLAINT_THRESHOLD:.1%}")
    verdict = "no sends yet" if not sent else ("at risk" if problems else "healthy")
    return {
        "verdict": verdict,
        "sent": sent,
        "bounce_rate": bounce,
        "complaint_rate": complaint,
        "problems": problems,
    }
