"""DynamoDB adapters for the single-table design (DESIGN 4.2) and the events table.

Attribute names always go through expression placeholders, so any attribute name
(hyphens, dots, spaces, unicode) is safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from mailstep.domain.errors import ConcurrentUpdate
from mailstep.domain.models import (
    Execution,
    Profile,
    SendRecord,
    Subscriber,
    SubscriberStatus,
    Suppression,
    UnsubscribeChange,
)
from mailstep.domain.services import STALE_CLAIM_SECONDS

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
PROFILE = "PROFILE"
# "#attrs.#a99 = :a99, " is 20 characters: 100 of them stay far below DynamoDB's 4 KB
# limit on an expression string.
ATTRIBUTES_PER_UPDATE = 100
SUPPRESSION = "SUPPRESSION"
TAG_CHANGE_ATTEMPTS = 5
# One transaction holds at most 100 items: the profile update and the index rows.
TAG_ROWS_PER_TRANSACTION = 99


def sub_pk(email: str) -> str:
    return f"SUB#{email}"


def _to_dynamo(value: Any) -> Any:
    # JSON round trip: floats become Decimal, tuples lists, unknown types strings.
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in item.items() if v is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in (
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    )


def profile_from_item(item: Mapping[str, Any]) -> Profile:
    return Profile(
        email=item["email"],
        first_name=item.get("first_name"),
        attributes=item.get("attributes") or {},
        tags=tuple(item.get("tags") or ()),
        unsubscribed=bool(item.get("unsubscribed")),
        suppressed=bool(item.get("suppressed")),
        created_at=item.get("created_at", ""),
        updated_at=item.get("updated_at", ""),
    )


def counts_from_item(item: Mapping[str, Any]) -> dict[str, int]:
    """The counters of a ``STATS#`` row: its numbers, but the TTL."""
    return {k: int(v) for k, v in item.items() if isinstance(v, int | float) and k != "ttl"}


def send_record_from_item(item: Mapping[str, Any]) -> SendRecord:
    return SendRecord(
        sequence_id=item.get("sequence_id"),
        template=item.get("template_key", ""),
        subject=item.get("subject", ""),
        message_id=item.get("message_id", ""),
        sent_at=item.get("sent_at", ""),
        step_id=item.get("step_id"),
        broadcast_id=item.get("broadcast_id"),
    )


def execution_from_item(item: Mapping[str, Any]) -> Execution:
    return Execution(
        sequence_id=item["sequence_id"],
        execution_arn=item["execution_arn"],
        started_at=item.get("started_at", ""),
        transactional=bool(item.get("transactional")),
    )


class DynamoSubscriberStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    # ------------------------------------------------------------------ queries

    def query(
        self,
        pk: str,
        sk_prefix: str | None = None,
        values: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a partition (optionally under an SK prefix), all pages.
        ``values`` adds expression values (for a FilterExpression in ``extra``)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}, **(values or {})},
            **extra,
        }
        if sk_prefix:
            params["KeyConditionExpression"] += " AND begins_with(SK, :sk)"
            params["ExpressionAttributeValues"][":sk"] = {"S": sk_prefix}
        while True:
            page = self._db.query(**params)
            for item in page.get("Items", []):
                yield deserialize(item)
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key=key(pk, sk), ConsistentRead=True).get(
            "Item"
        )
        return deserialize(item) if item else None

    # ------------------------------------------------------------------ profiles

    def upsert_profile(self, subscriber: Subscriber, now: str) -> Profile:
        """Create or update; never clears unsubscribed/suppressed; merges attributes."""
        email = subscriber.email
        old_tags = None
        if subscriber.tags is not None:
            current = self._get(sub_pk(email), PROFILE)
            old_tags = set(current.get("tags") or []) if current else set()
        names = {"#attrs": "attributes"}
        values: dict[str, Any] = {":email": email, ":now": now, ":false": False}
        sets = [
            "email = :email",
            "updated_at = :now",
            "created_at = if_not_exists(created_at, :now)",
            "unsubscribed = if_not_exists(unsubscribed, :false)",
            "suppressed = if_not_exists(suppressed, :false)",
        ]
        if subscriber.first_name:
            sets.append("first_name = :first_name")
            values[":first_name"] = subscriber.first_name
        if subscriber.tags is not None:
            # Bumped so that a concurrent change_tags that read the old set retries.
            sets.append("tags = :tags")
            sets.append("tags_version = if_not_exists(tags_version, :zero) + :one")
            values.update({":tags": list(subscriber.tags), ":zero": 0, ":one": 1})
        merges = sorted(subscriber.attributes.items())
        try:
            # Common case: the profile (and its attribute map) exists; merge key by key, a
            # slice at a time, since one UpdateExpression may not exceed 4 KB.
            for start in range(0, max(len(merges), 1), ATTRIBUTES_PER_UPDATE):
                part = merges[start : start + ATTRIBUTES_PER_UPDATE]
                part_names, part_values, part_sets = dict(names), dict(values), []
                for index, (name, value) in enumerate(part):
                    part_names[f"#a{index}"] = name
                    part_values[f":a{index}"] = value
                    part_sets.append(f"#attrs.#a{index} = :a{index}")
                item = self._update(
                    email, sets + part_sets, part_names, part_values,
                    condition="attribute_exists(#attrs)",
                )  # fmt: skip
        except ClientError as error:
            if not condition_failed(error):
                raise
            # New profile (or one without a map yet): create the map in one go.
            values = {**values, ":attrs": dict(subscriber.attributes)}
            item = self._update(
                email,
                [*sets, "#attrs = if_not_exists(#attrs, :attrs)"],
                {"#attrs": "attributes"},
                values,
            )
        if old_tags is not None:
            self._sync_tags(email, old_tags, set(subscriber.tags or ()), now)
        return profile_from_item(item)

    def _update(
        self,
        email: str,
        sets: list[str],
        names: dict[str, str],
        values: dict[str, Any],
        condition: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "Key": key(sub_pk(email), PROFILE),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            params["ConditionExpression"] = condition
        return deserialize(self._db.update_item(**params)["Attributes"])

    def _sync_tags(self, email: str, old: set[str], new: set[str], now: str) -> None:
        for tag in sorted(new - old):
            self._db.put_item(TableName=self._table, Item=serialize(self._tag_row(email, tag, now)))
        for tag in sorted(old - new):
            self._db.delete_item(TableName=self._table, Key=key(f"TAG#{tag}", sub_pk(email)))

    def change_tags(
        self, email: str, change: Callable[[tuple[str, ...]], tuple[str, ...]], now: str
    ) -> tuple[str, ...]:
        """Optimistic: ``tags_version`` must still be what was read. Up to 99 changed
        index rows go in the same transaction as the profile; more are synced after it."""
        for _ in range(TAG_CHANGE_ATTEMPTS):
            current = self._get(sub_pk(email), PROFILE)
            if current is None:
                raise ConcurrentUpdate(f"no profile for {email} to tag")
            old = set(current.get("tags") or [])
            new = sorted(set(change(tuple(sorted(old)))))
            version = current.get("tags_version")
            values: dict[str, Any] = {":tags": new, ":now": now, ":next": (version or 0) + 1}
            condition = "attribute_exists(PK) AND "
            if version is None:
                condition += "attribute_not_exists(tags_version)"
            else:
                condition += "tags_version = :v"
                values[":v"] = version
            update = {
                "TableName": self._table,
                "Key": key(sub_pk(email), PROFILE),
                "UpdateExpression": "SET tags = :tags, updated_at = :now, tags_version = :next",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": serialize(values),
            }
            added, removed = sorted(set(new) - old), sorted(old - set(new))
            try:
                if len(added) + len(removed) <= TAG_ROWS_PER_TRANSACTION:
                    self._db.transact_write_items(
                        TransactItems=[
                            {"Update": update},
                            *({"Put": {"TableName": self._table,
                                       "Item": serialize(self._tag_row(email, tag, now))}}
                              for tag in added),
                            *({"Delete": {"TableName": self._table,
                                          "Key": key(f"TAG#{tag}", sub_pk(email))}}
                              for tag in removed),
                        ]
                    )  # fmt: skip
                else:
                    self._db.update_item(**update)
                    self._sync_tags(email, old, set(new), now)
            except ClientError as error:
                if condition_failed(error):
                    continue
                raise
            return tuple(new)
        raise ConcurrentUpdate(f"the tags of {email} kept changing; try again")

    @staticmethod
    def _tag_row(email: str, tag: str, now: str) -> dict[str, Any]:
        return {"PK": f"TAG#{tag}", "SK": sub_pk(email), "email": email, "tagged_at": now}

    def get_profile(self, email: str) -> Profile | None:
        item = self._get(sub_pk(email), PROFILE)
        return profile_from_item(item) if item else None

    def get_status(self, email: str) -> SubscriberStatus:
        """Profile and suppression in one round trip."""
        request = {
            self._table: {
                "Keys": [key(sub_pk(email), PROFILE), key(sub_pk(email), SUPPRESSION)],
                "ConsistentRead": True,
            }
        }
        items: list[dict[str, Any]] = []
        while request:
            response = self._db.batch_get_item(RequestItems=request)
            items += [deserialize(i) for i in response.get("Responses", {}).get(self._table, [])]
            request = response.get("UnprocessedKeys") or {}
        by_sk = {i["SK"]: i for i in items}
        profile = by_sk.get(PROFILE)
        suppression = by_sk.get(SUPPRESSION)
        return SubscriberStatus(
            profile=profile_from_item(profile) if profile else None,
            suppression=Suppression(
                reason=suppression.get("reason", "unknown"),
                detail=suppression.get("detail"),
                feedback_id=suppression.get("feedback_id"),
                recorded_at=suppression.get("recorded_at", ""),
            )
            if suppression
            else None,
        )

    def set_unsubscribed(self, email: str, now: str) -> UnsubscribeChange:
        """Mark an existing profile unsubscribed; an unknown address creates nothing."""
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key=key(sub_pk(email), PROFILE),
                UpdateExpression=(
                    "SET unsubscribed = :true, updated_at = :now, "
                    "unsubscribed_at = if_not_exists(unsubscribed_at, :now)"
                ),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=serialize({":true": True, ":now": now}),
                ReturnValues="UPDATED_OLD",
            )
        except ClientError as error:
            if condition_failed(error):
                return "unknown"
            raise
        before = deserialize(response.get("Attributes") or {})
        return "already" if before.get("unsubscribed") is True else "unsubscribed"

    def suppress(self, email: str, suppression: Suppression) -> None:
        """Record the suppression (even for unknown addresses: it blocks future sends) and
        flag an existing profile; never creates a stub profile."""
        self._db.put_item(
            TableName=self._table,
            Item=serialize(
                {
                    "PK": sub_pk(email),
                    "SK": SUPPRESSION,
                    "email": email,
                    "reason": suppression.reason,
                    "detail": suppression.detail,
                    "feedback_id": suppression.feedback_id,
                    "recorded_at": suppression.recorded_at,
                }
            ),
        )
        try:
            self._db.update_item(
                TableName=self._table,
                Key=key(sub_pk(email), PROFILE),
                UpdateExpression="SET suppressed = :true, updated_at = :now",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=serialize(
                    {":true": True, ":now": suppression.recorded_at}
                ),
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

    # ------------------------------------------------------------------ executions

    def get_execution(self, email: str, sequence_id: str) -> Execution | None:
        item = self._get(sub_pk(email), f"EXEC#{sequence_id}")
        return execution_from_item(item) if item else None

    def list_executions(self, email: str) -> list[Execution]:
        return [execution_from_item(i) for i in self.query(sub_pk(email), "EXEC#")]

    def put_execution(self, email: str, execution: Execution, replaces: Execution | None) -> bool:
        """Write both rows in one transaction; with ``replaces``, only over that run."""
        base = {
            "email": email,
            "sequence_id": execution.sequence_id,
            "execution_arn": execution.execution_arn,
            "started_at": execution.started_at,
            "transactional": execution.transactional,
        }
        if replaces:
            condition = {
                "ConditionExpression": "execution_arn = :old",
                "ExpressionAttributeValues": {":old": {"S": replaces.execution_arn}},
            }
        else:
            condition = {"ConditionExpression": "attribute_not_exists(PK)"}
        rows = [
            {"PK": sub_pk(email), "SK": f"EXEC#{execution.sequence_id}", **base},
            {"PK": f"SEQ#{execution.sequence_id}", "SK": sub_pk(email), **base},
        ]
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": serialize(row), **condition}}
                    for row in rows
                ]
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def delete_execution(self, email: str, sequence_id: str, execution_arn: str | None) -> bool:
        """Delete both rows in one transaction, only if they belong to ``execution_arn``."""
        if execution_arn:
            condition = {
                "ConditionExpression": "execution_arn = :arn",
                "ExpressionAttributeValues": {":arn": {"S": execution_arn}},
            }
        else:
            condition = {"ConditionExpression": "attribute_exists(PK)"}
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Delete": {"TableName": self._table, "Key": key(pk, sk), **condition}}
                    for pk, sk in (
                        (sub_pk(email), f"EXEC#{sequence_id}"),
                        (f"SEQ#{sequence_id}", sub_pk(email)),
                    )
                ]
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def find_run(self, sequence_id: str, execution_arn: str) -> str | None:
        for item in self.query(
            f"SEQ#{sequence_id}",
            values={":arn": {"S": execution_arn}},
            FilterExpression="execution_arn = :arn",
            ProjectionExpression="email",
        ):
            return str(item["email"])
        return None

    def mark_enrolled(self, email: str, sequence_id: str, now: str) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=key(sub_pk(email), f"ENROLLED#{sequence_id}"),
            UpdateExpression=(
                "SET first_at = if_not_exists(first_at, :now), last_at = :now ADD runs :one"
            ),
            ExpressionAttributeValues=serialize({":now": now, ":one": 1}),
        )

    def was_enrolled(self, email: str, sequence_id: str) -> bool:
        return self._get(sub_pk(email), f"ENROLLED#{sequence_id}") is not None

    # ------------------------------------------------------------------ idempotency

    def claim_event(self, event_key: str, owner: str, expires_at: int) -> bool:
        """First claim wins; the same owner (a retry of the same run) may claim again."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=serialize(
                    {"PK": f"EVENT#{event_key}", "SK": "EVENT", "owner": owner, "ttl": expires_at}
                ),
                ConditionExpression="attribute_not_exists(PK) OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def claim_send(self, execution_arn: str, step_id: str, now: int, expires_at: int) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=serialize(
                    {
                        "PK": f"SEND#{execution_arn}#{step_id}",
                        "SK": "SEND",
                        "state": "pending",
                        "claimed_at": now,
                        "ttl": expires_at,
                    }
                ),
                ConditionExpression=(
                    "attribute_not_exists(PK) OR (#state = :pending AND claimed_at < :stale)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=serialize(
                    {":pending": "pending", ":stale": now - STALE_CLAIM_SECONDS}
                ),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def complete_send(self, execution_arn: str, step_id: str, message_id: str) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=key(f"SEND#{execution_arn}#{step_id}", "SEND"),
            UpdateExpression="SET #state = :sent, message_id = :id",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=serialize({":sent": "sent", ":id": message_id}),
        )

    def release_send(self, execution_arn: str, step_id: str) -> None:
        try:
            self._db.delete_item(
                TableName=self._table,
                Key=key(f"SEND#{execution_arn}#{step_id}", "SEND"),
                ConditionExpression="#state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":pending": {"S": "pending"}},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

    # ------------------------------------------------------------------ send log

    def record_send(self, email: str, record: SendRecord, expires_at: int | None) -> None:
        """The send log row and the O(1) sent-template marker, together."""
        attribution = {
            "sequence_id": record.sequence_id,
            "broadcast_id": record.broadcast_id,
            "step_id": record.step_id,
        }
        log = {
            "PK": sub_pk(email),
            "SK": f"SENT#{record.sent_at}#{record.message_id}",
            "email": email,
            **{name: value for name, value in attribution.items() if value},
            "template_key": record.template,
            "subject": record.subject,
            "message_id": record.message_id,
            "sent_at": record.sent_at,
            "ttl": expires_at,
        }
        origin = "sequence_id" if record.sequence_id else "broadcast_id"
        self._db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table, "Item": serialize(log)}},
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key(sub_pk(email), f"TPL#{record.template}"),
                        "UpdateExpression": (
                            "SET last_sent_at = :at, last_message_id = :id, #origin = :origin, "
                            "first_sent_at = if_not_exists(first_sent_at, :at) ADD send_count :one"
                        ),
                        "ExpressionAttributeNames": {"#origin": origin},
                        "ExpressionAttributeValues": serialize(
                            {
                                ":at": record.sent_at,
                                ":id": record.message_id,
                                ":origin": record.sequence_id or record.broadcast_id or "",
                                ":one": 1,
                            }
                        ),
                    }
                },
            ]
        )

    def has_been_sent(self, email: str, template: str) -> bool:
        return self._get(sub_pk(email), f"TPL#{template}") is not None

    def last_send(self, email: str) -> SendRecord | None:
        # Newest first and no filter, so Limit 1 really is the latest row.
        for row in self.query(sub_pk(email), "SENT#", ScanIndexForward=False, Limit=1):
            return send_record_from_item(row)
        return None

    # ------------------------------------------------------------------ counters

    def add_counts(
        self, scope: str, step_id: str | None, counts: Mapping[str, int], now: str
    ) -> None:
        """Add to the counters of ``scope`` (a sequence id, or ``broadcast#<id>``) and of
        its step, when there is one."""
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values: dict[str, Any] = {f":c{i}": n for i, n in enumerate(counts.values())}
        values.update({":now": now, ":scope": scope})
        adds = ", ".join(f"#c{i} :c{i}" for i in range(len(counts)))
        for sk in ["COUNTERS", *([f"STEP#{step_id}"] if step_id else [])]:
            self._db.update_item(
                TableName=self._table,
                Key=key(f"STATS#{scope}", sk),
                UpdateExpression=f"SET updated_at = :now, #scope = :scope ADD {adds}",
                ExpressionAttributeNames={**names, "#scope": "scope"},
                ExpressionAttributeValues=serialize(values),
            )

    # ------------------------------------------------------------------ replies

    def find_send(self, email: str, message_id: str) -> dict[str, Any] | None:
        """The send log row for an SES message id. Every page is read: DynamoDB applies
        ``Limit`` before the filter, so ``Limit: 1`` would look at the oldest row only
        (mailshot defect B)."""
        for row in self.query(
            sub_pk(email),
            "SENT#",
            values={":id": {"S": message_id}},
            FilterExpression="message_id = :id",
        ):
            return row
        return None


class DynamoEngagementStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def put_event(self, item: Mapping[str, Any]) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True
