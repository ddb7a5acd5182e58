"""Typed domain exceptions. Handlers map these to results; nothing matches on message text."""

from __future__ import annotations


class MailstepError(Exception):
    """Base class for every error mailstep raises on purpose."""


class InvalidInput(MailstepError):
    """A payload or argument is missing something or has the wrong shape."""


class InvalidEmail(InvalidInput):
    """An email address is missing or not a valid address."""


class ConcurrentUpdate(MailstepError):
    """Another writer kept changing the same item; the caller should retry later."""


class TemplateNotFound(MailstepError):
    """No template exists under the given key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"template not found: {key}")
        self.key = key


class TemplateError(MailstepError):
    """A template exists but does not parse or render."""


class InvalidToken(MailstepError):
    """An unsubscribe token is missing, malformed, forged or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid unsubscribe token: {reason}")
        self.reason = reason
