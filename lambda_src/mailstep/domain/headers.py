"""Header-safe values: no CR/LF injection, RFC 2047 encoding for non-ASCII display names."""

from __future__ import annotations

import re
from email import errors
from email.headerregistry import HeaderRegistry
from email.utils import formataddr, parseaddr

from mailstep.domain.emails import normalise_email
from mailstep.domain.errors import InvalidInput

MAX_SUBJECT_LENGTH = 900  # stays well inside RFC 5322's 998-character line limit
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
_REGISTRY = HeaderRegistry()


def header_safe(value: str, max_length: int = MAX_SUBJECT_LENGTH) -> str:
    """Collapse control characters (CR, LF, TAB…) and runs of whitespace to one space."""
    cleaned = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return cleaned[:max_length].rstrip()


def format_mailbox(raw: str) -> str:
    """Parse ``"Name <addr>"`` or ``addr`` and return a safe, encoded header value.

    Control characters (CR/LF could smuggle headers) become spaces; the address is
    validated and normalised; exactly one mailbox is allowed and group syntax is refused
    (``Evil Bcc: x@y.z <a@b.c>`` would otherwise silently send as ``x@y.z``). The display
    name is RFC 2047 encoded when it is not ASCII.
    """
    raw = _CONTROL.sub(" ", raw)
    name, address = parseaddr(raw)
    if not address:
        raise InvalidInput(f"not a mailbox: {raw[:60]!r}")
    email = normalise_email(address)
    header = _REGISTRY("From", raw)
    groups = header.groups  # type: ignore[attr-defined]
    invalid = [d for d in header.defects if isinstance(d, errors.InvalidHeaderDefect)]
    if invalid or len(groups) != 1 or groups[0].display_name is not None:
        hint = 'quote a name with commas or colons: "Acme, Inc." <hello@acme.io>'
        raise InvalidInput(f"not a single mailbox: {raw[:60]!r} ({hint})")
    name = header_safe(name, max_length=200)
    if not name:
        return email
    return formataddr((name, email), charset="utf-8")


def mailbox_address(raw: str) -> str:
    """The bare address of a mailbox string, normalised."""
    return normalise_email(parseaddr(raw)[1])
