"""Unsubscribe tokens: HMAC-SHA256 over the address, issue time and expiry.

Format (URL-safe, no padding): ``v1.<b64(email)>.<issued>.<expires>.<b64(mac)>`` where the
MAC covers ``v1|email|issued|expires``. Verification is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

from mailstep.domain.emails import normalise_email
from mailstep.domain.errors import InvalidEmail, InvalidToken

VERSION = "v1"
MAX_TOKEN_LENGTH = 1024
MIN_SECRET_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, email: str, issued: int, expires: int) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError("the unsubscribe secret is too short")
    message = f"{VERSION}|{email}|{issued}|{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class TokenClaims:
    email: str
    issued: int
    expires: int


def issue_token(secret: bytes, email: str, now: int, ttl_seconds: int) -> str:
    address = normalise_email(email)
    expires = now + ttl_seconds
    mac = _mac(secret, address, now, expires)
    return ".".join([VERSION, _b64(address.encode()), str(now), str(expires), _b64(mac)])


def verify_token(secret: bytes, token: str | None, now: int) -> TokenClaims:
    """Return the claims of a valid token or raise InvalidToken with a reason."""
    if not token:
        raise InvalidToken("missing")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed")
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        raise InvalidToken("malformed")
    try:
        address = _unb64(parts[1]).decode("utf-8")
        email = normalise_email(address)
        issued, expires = int(parts[2]), int(parts[3])
        given = _unb64(parts[4])
    except (binascii.Error, UnicodeDecodeError, ValueError, InvalidEmail) as exc:
        raise InvalidToken("malformed") from exc
    # Lenient base64 skips unknown characters and int() takes "1_000", " 12", "+12" or
    # non-ASCII digits: accept only the one spelling issue_token produces.
    canonical = [VERSION, _b64(email.encode()), str(issued), str(expires), _b64(given)]
    if address != email or parts != canonical:
        raise InvalidToken("malformed")
    if not hmac.compare_digest(_mac(secret, email, issued, expires), given):
        raise InvalidToken("signature")
    if now >= expires:
        raise InvalidToken("expired")
    return TokenClaims(email=email, issued=issued, expires=expires)
