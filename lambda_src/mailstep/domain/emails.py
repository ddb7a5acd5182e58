"""Email address validation and normalisation: every entry point goes through here."""

from __future__ import annotations

import re

from mailstep.domain.errors import InvalidEmail

MAX_ADDRESS_LENGTH = 254
MAX_LOCAL_LENGTH = 64
# Deliberately conservative: printable ASCII local part, dotted domain of LDH labels.
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_email(raw: object) -> str:
    """Return the trimmed, lower-cased address, or raise InvalidEmail."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidEmail("email is missing")
    email = raw.strip().lower()
    if len(email) > MAX_ADDRESS_LENGTH or email.count("@") != 1:
        raise InvalidEmail("email is not a valid address")
    local, domain = email.split("@")
    if not local or len(local) > MAX_LOCAL_LENGTH or not _LOCAL.match(local):
        raise InvalidEmail("email is not a valid address")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidEmail("email is not a valid address")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidEmail("email is not a valid address")
    return email


def is_valid_email(raw: object) -> bool:
    try:
        normalise_email(raw)
    except InvalidEmail:
        return False
    return True
