"""Templates from S3 with a 10-minute in-memory cache; display names likewise."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from mailstep.observability import logger

CACHE_SECONDS = 600


class S3TemplateSource:
    def __init__(
        self, client: Any, bucket: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._s3 = client
        self._bucket = bucket
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        """The object's text, or None when there is no such key (misses are not cached,
        so a template uploaded after a failure is picked up by the retry)."""
        cached = self._cache.get(key)
        if cached and cached[0] > self._clock():
            return cached[1]
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        text: str = body.decode("utf-8")
        self._cache[key] = (self._clock() + CACHE_SECONDS, text)
        return text


class DisplayNames:
    """``display-names.json``: ``{"plan_name": {"pro": "Pro"}}``. A broken or missing file
    gives ``{}`` (logged), and the failure is not cached."""

    def __init__(self, source: S3TemplateSource, key: Callable[[], str]) -> None:
        self._source = source
        self._key = key

    def __call__(self) -> Mapping[str, Mapping[str, str]]:
        key = self._key()
        try:
            raw = self._source.get(key)
            value = json.loads(raw) if raw else {}
        except (ClientError, ValueError):
            logger.warning("display names unavailable", extra={"key": key}, exc_info=True)
            return {}
        return value if isinstance(value, dict) else {}
