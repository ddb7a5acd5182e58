"""boto3 clients, created lazily on first use and cached (never at import time)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def client(service: str) -> Any:
    import boto3  # noqa: PLC0415 - deferred so importing a handler stays cheap

    return boto3.client(service)


def reset() -> None:
    """Forget cached clients (tests start a fresh AWS mock per test)."""
    client.cache_clear()
