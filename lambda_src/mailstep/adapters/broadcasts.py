"""Broadcast adapters: the record in DynamoDB, the audience pages, the SQS fan-out, the
state machine and the rate limiter."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from mailstep.adapters.dynamo import (
    PROFILE,
    condition_failed,
    counts_from_item,
    deserialize,
    key,
    profile_from_item,
    serialize,
    sub_pk,
)
from mailstep.adapters.sfn import SfnExecutionStopper
from mailstep.domain.attribution import broadcast_scope
from mailstep.domain.broadcasts import Audience, AudiencePage, Broadcast
from mailstep.domain.models import Sender

RECORD = "BROADCAST"
LIST_PK = "BROADCASTS"
BATCH_GET_SIZE = 100
SQS_BATCH_SIZE = 10
ATTEMPTS = 5


def _backoff(attempt: int, sleep: Callable[[float], None]) -> None:
    sleep(min(2.0, 0.05 * 2**attempt))


def record_key(broadcast_id: str) -> dict[str, Any]:
    return key(f"BROADCAST#{broadcast_id}", RECORD)


def broadcast_from_item(item: Mapping[str, Any]) -> Broadcast:
    audience = item.get("audience") or {}
    return Broadcast(
        broadcast_id=item["broadcast_id"],
        template=item["template_key"],
        subject=item["subject"],
        sender=Sender(item["sender_from"], item.get("sender_reply_to")),
        audience=Audience(tuple(audience.get("tags") or ()), audience.get("attributes") or {}),
        status=item["status"],
        created_at=item.get("created_at", ""),
        updated_at=item.get("updated_at", ""),
        audience_size=item.get("audience_size"),
        counted=int(item.get("counted") or 0),
        queued=int(item.get("queued") or 0),
        cursor=item.get("cursor"),
        generation=int(item.get("generation") or 0),
        execution_arn=item.get("execution_arn"),
        started_at=item.get("started_at"),
        queued_at=item.get("queued_at"),
        finished_at=item.get("finished_at"),
        error=item.get("error"),
    )


class DynamoBroadcastStore:
    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._db = client
        self._table = table
        self._sleep = sleep

    def create(self, broadcast: Broadcast) -> bool:
        record = {
            "PK": f"BROADCAST#{broadcast.broadcast_id}",
            "SK": RECORD,
            "broadcast_id": broadcast.broadcast_id,
            "status": broadcast.status,
            "template_key": broadcast.template,
            "subject": broadcast.subject,
            "sender_from": broadcast.sender.from_header,
            "sender_reply_to": broadcast.sender.reply_to,
            "audience": broadcast.audience.as_dict(),
            "created_at": broadcast.created_at,
            "updated_at": broadcast.updated_at,
            "counted": 0,
            "queued": 0,
            "generation": 0,
        }
        listing = {
            "PK": LIST_PK,
            "SK": f"{broadcast.created_at}#{broadcast.broadcast_id}",
            "broadcast_id": broadcast.broadcast_id,
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": serialize(record),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": serialize(listing)}},
                ]
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def get(self, broadcast_id: str) -> Broadcast | None:
        item = self._db.get_item(
            TableName=self._table, Key=record_key(broadcast_id), ConsistentRead=True
        ).get("Item")
        return broadcast_from_item(deserialize(item)) if item else None

    def counters(self, broadcast_id: str) -> dict[str, int]:
        item = self._db.get_item(
            TableName=self._table, Key=key(f"STATS#{broadcast_scope(broadcast_id)}", "COUNTERS")
        ).get("Item")
        return counts_from_item(deserialize(item)) if item else {}

    def recent(self, limit: int, cursor: str | None) -> tuple[list[Broadcast], str | None]:
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": LIST_PK}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            params["ExclusiveStartKey"] = key(LIST_PK, cursor)
        page = self._db.query(**params)
        found = [self.get(deserialize(row)["broadcast_id"]) for row in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return [b for b in found if b], (last["SK"]["S"] if last else None)

    def transition(
        self, broadcast_id: str, allowed: Sequence[str], status: str, now: str, **fields: Any
    ) -> Broadcast | None:
        values: dict[str, Any] = {":status": status, ":now": now}
        values.update({f":a{i}": s for i, s in enumerate(allowed)})
        names = {"#status": "status"}
        sets = ["#status = :status", "updated_at = :now"]
        removes = []
        for i, (name, value) in enumerate(sorted(fields.items())):
            names[f"#f{i}"] = name
            if value is None:
                removes.append(f"#f{i}")
            else:
                sets.append(f"#f{i} = :f{i}")
                values[f":f{i}"] = value
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        placeholders = ", ".join(f":a{i}" for i in range(len(allowed)))
        try:
            response = self._db.update_item(
                TableName=self._table,
                Key=record_key(broadcast_id),
                UpdateExpression=expression,
                ConditionExpression=f"#status IN ({placeholders})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return broadcast_from_item(deserialize(response["Attributes"]))

    def advance(
        self,
        broadcast_id: str,
        status: str,
        cursor: str | None,
        new_cursor: str | None,
        *,
        progress: Mapping[str, int],
        now: str,
    ) -> bool:
        names = {"#status": "status", "#cursor": "cursor"}
        values: dict[str, Any] = {":status": status, ":now": now}
        adds = []
        for i, (name, count) in enumerate(progress.items()):
            names[f"#p{i}"] = name
            values[f":p{i}"] = count
            adds.append(f"#p{i} :p{i}")
        expression = "SET updated_at = :now"
        if new_cursor is None:
            expression = f"{expression} REMOVE #cursor"
        else:
            expression = "SET updated_at = :now, #cursor = :new"
            values[":new"] = new_cursor
        if adds:
            expression += " ADD " + ", ".join(adds)
        condition = "#status = :status AND "
        if cursor is None:
            condition += "attribute_not_exists(#cursor)"
        else:
            condition += "#cursor = :old"
            values[":old"] = cursor
        try:
            self._db.update_item(
                TableName=self._table,
                Key=record_key(broadcast_id),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    # ------------------------------------------------------------------ audience

    def audience_page(self, audience: Audience, cursor: str | None, limit: int) -> AudiencePage:
        """One page of candidates: the first tag's index rows (then their profiles), or a
        scan of profiles. The cursor is the last evaluated key, so pages never overlap."""
        params: dict[str, Any] = {"TableName": self._table, "Limit": max(1, limit)}
        if cursor:
            params["ExclusiveStartKey"] = json.loads(cursor)
        if audience.tags:
            params.update(
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": f"TAG#{audience.tags[0]}"}},
            )
            page = self._db.query(**params)
            emails = [deserialize(row)["SK"][len("SUB#") :] for row in page.get("Items", [])]
            profiles = self._profiles(emails)
            examined = int(page.get("Count", len(emails)))
        else:
            params.update(
                FilterExpression="SK = :profile",
                ExpressionAttributeValues={":profile": {"S": PROFILE}},
            )
            page = self._db.scan(**params)
            profiles = [profile_from_item(deserialize(row)) for row in page.get("Items", [])]
            examined = int(page.get("ScannedCount", len(profiles)))
        last = page.get("LastEvaluatedKey")
        return AudiencePage(
            profiles=profiles,
            examined=examined,
            cursor=json.dumps(last, sort_keys=True, separators=(",", ":")) if last else None,
        )

    def _profiles(self, emails: Sequence[str]) -> list[Any]:
        """BatchGetItem in chunks of 100, retrying unprocessed keys with backoff."""
        found = []
        for start in range(0, len(emails), BATCH_GET_SIZE):
            keys = [key(sub_pk(e), PROFILE) for e in emails[start : start + BATCH_GET_SIZE]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(ATTEMPTS + 1):
                response = self._db.batch_get_item(RequestItems=request)
                found += [
                    profile_from_item(deserialize(item))
                    for item in response.get("Responses", {}).get(self._table, [])
                ]
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == ATTEMPTS:
                    raise RuntimeError("DynamoDB kept keys unprocessed; the page is retried")
                _backoff(attempt, self._sleep)
        return found


class SqsRecipientQueue:
    def __init__(
        self, client: Any, queue_url: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._sqs = client
        self._url = queue_url
        self._sleep = sleep

    def enqueue(self, broadcast_id: str, emails: Sequence[str]) -> None:
        for start in range(0, len(emails), SQS_BATCH_SIZE):
            entries = {
                str(i): json.dumps({"broadcast_id": broadcast_id, "email": email})
                for i, email in enumerate(emails[start : start + SQS_BATCH_SIZE])
            }
            for attempt in range(ATTEMPTS + 1):
                response = self._sqs.send_message_batch(
                    QueueUrl=self._url,
                    Entries=[{"Id": i, "MessageBody": body} for i, body in entries.items()],
                )
                failed = response.get("Failed") or []
                if not failed:
                    break
                if attempt == ATTEMPTS or any(f.get("SenderFault") for f in failed):
                    codes = sorted({str(f.get("Code")) for f in failed})
                    raise RuntimeError(f"SQS refused {len(failed)} recipients: {', '.join(codes)}")
                entries = {f["Id"]: entries[f["Id"]] for f in failed}
                _backoff(attempt, self._sleep)


class SfnLoopRunner:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self._sfn = client
        self._arn = state_machine_arn
        self._stopper = SfnExecutionStopper(client)

    def start(self, name: str, state: Mapping[str, Any]) -> str:
        try:
            response = self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(state)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            # A retried start: the execution of that name is this broadcast's.
            return self._arn.replace(":stateMachine:", ":execution:") + f":{name}"
        return str(response["executionArn"])

    def stop(self, execution_arn: str, cause: str) -> None:
        self._stopper.stop(execution_arn, cause)


class DynamoSendSlots:
    """A rate limiter shared by every consumer: time is cut into slots of 1/rate seconds
    and each send reserves one (a conditional put of ``RATE#<slot>``, kept two minutes),
    then waits for the slot to begin. Sends are spaced evenly, never bunched at a
    window's edge, and however many consumers run, at most one email starts per slot."""

    LOOKAHEAD = 1000  # slots searched before giving up (other consumers hold the rest)

    def __init__(
        self,
        client: Any,
        table: str,
        rate: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the send rate must be positive")
        self._db = client
        self._table = table
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._last = -1

    def acquire(self) -> None:
        now = self._clock()
        slot = max(math.ceil(now / self.interval - 1e-9), self._last + 1)
        for candidate in range(slot, slot + self.LOOKAHEAD):
            try:
                self._db.put_item(
                    TableName=self._table,
                    Item=serialize({"PK": f"RATE#{candidate}", "SK": "RATE",
                                    "ttl": int(now) + 120}),
                    ConditionExpression="attribute_not_exists(PK)",
                )  # fmt: skip
            except ClientError as error:
                if not condition_failed(error):
                    raise
                continue
            self._last = candidate
            wait = candidate * self.interval - self._clock()
            if wait > 0:
                self._sleep(wait)
            return
        raise RuntimeError("no free send slot: more consumers than the rate can serve")
