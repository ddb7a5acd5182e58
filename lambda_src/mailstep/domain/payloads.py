"""Small helpers to read fields from untrusted payloads with clear errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from mailstep.domain.errors import InvalidInput

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def require_str(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key} is missing")
    return value.strip()


def optional_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{key} must be a string")
    return value.strip() or None


def one_of(value: object, choices: Iterable[str], what: str) -> str:
    """``value`` when it is one of ``choices``; otherwise InvalidInput naming them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise InvalidInput(f"{what} must be one of {', '.join(options)}: {value!r}")
    return value


def require_id(payload: Mapping[str, Any], key: str) -> str:
    value = require_str(payload, key)
    if not _ID.match(value):
        raise InvalidInput(f"{key} must be lowercase letters, digits and hyphens: {value[:40]!r}")
    return value


def optional_bool(payload: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = payload.get(key, default)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):  # input transformers and templates may stringify booleans
        return bool(value == "true")
    raise InvalidInput(f"{key} must be true or false")


def require_template_key(payload: Mapping[str, Any], key: str = "template") -> str:
    value = require_str(payload, key)
    parts = value.split("/")
    if any(not p or p in (".", "..") for p in parts) or value.endswith((".html", ".txt")):
        raise InvalidInput(f"{key} must look like 'sequence-id/name': {value[:60]!r}")
    return value
