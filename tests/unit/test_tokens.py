"""Unsubscribe tokens: HMAC-SHA256 over address, issue time and expiry (DESIGN 4.5)."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailstep.domain import tokens
from mailstep.domain.errors import InvalidToken
from mailstep.domain.tokens import MAX_TOKEN_LENGTH, issue_token, verify_token

SECRET = b"unit-test-secret-0123456789"
ISSUED = 1_741_597_200
TTL = 90 * 86400
EXPIRES = ISSUED + TTL


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def token() -> str:
    return issue_token(SECRET, "Jane@Example.com", ISSUED, TTL)


def with_part(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def flip_first(text: str) -> str:
    return ("B" if text[0] == "A" else "A") + text[1:]


def insert(token: str, index: int, junk: str) -> str:
    part = token.split(".")[index]
    return with_part(token, index, part[:4] + junk + part[4:])


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def reason_of(token: str | None, now: int = ISSUED + 60, secret: bytes = SECRET) -> str:
    with pytest.raises(InvalidToken) as caught:
        verify_token(secret, token, now)
    return caught.value.reason


def test_round_trip_gives_the_normalised_address_and_times(token: str) -> None:
    claims = verify_token(SECRET, token, ISSUED + 60)

    assert claims.email == "jane@example.com"
    assert claims.issued == ISSUED
    assert claims.expires == EXPIRES


def test_token_is_url_safe_and_versioned(token: str) -> None:
    assert quote(token, safe="") == token
    assert token.startswith("v1.")
    assert "=" not in token


@settings(max_examples=100, deadline=None)
@given(
    st.from_regex(r"[a-z0-9._%+-]{1,20}@[a-z0-9]{1,10}\.[a-z]{2,6}", fullmatch=True).filter(
        lambda e: not e.startswith(".") and ".@" not in e and ".." not in e
    ),
    st.integers(min_value=0, max_value=2**40),
)
def test_every_token_is_url_safe_and_verifies(email: str, now: int) -> None:
    token = issue_token(SECRET, email, now, TTL)

    assert quote(token, safe="") == token
    assert verify_token(SECRET, token, now).email == email


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda t: with_part(t, 1, b64(b"eve@example.com")), id="email"),
        pytest.param(lambda t: with_part(t, 2, str(ISSUED + 1)), id="issued"),
        pytest.param(lambda t: with_part(t, 3, str(EXPIRES + 10**6)), id="expiry"),
        pytest.param(lambda t: with_part(t, 4, b64(b"\0" * 32)), id="signature"),
        pytest.param(lambda t: with_part(t, 4, flip_first(t.split(".")[4])), id="mac-first-char"),
    ],
)
def test_tampered_tokens_fail_the_signature(token: str, tamper: Callable[[str], str]) -> None:
    assert reason_of(tamper(token)) == "signature"


def test_a_token_signed_with_another_secret_fails_the_signature() -> None:
    forged = issue_token(b"another-secret-0123456789", "jane@example.com", ISSUED, TTL)

    assert reason_of(forged) == "signature"


def test_expired_exactly_at_expiry_and_after(token: str) -> None:
    assert verify_token(SECRET, token, EXPIRES - 1).email == "jane@example.com"
    assert reason_of(token, now=EXPIRES) == "expired"
    assert reason_of(token, now=EXPIRES + 86400) == "expired"


def test_an_expired_forgery_is_reported_as_forged_not_expired(token: str) -> None:
    forged = with_part(token, 1, b64(b"eve@example.com"))

    assert reason_of(forged, now=EXPIRES + 1) == "signature"


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_token(missing: str | None) -> None:
    assert reason_of(missing) == "missing"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="four-parts"),
        pytest.param(lambda t: t + ".extra", id="six-parts"),
        pytest.param(lambda t: "v2" + t[2:], id="wrong-version"),
        pytest.param(lambda t: t[3:], id="no-version"),
        pytest.param(lambda t: with_part(t, 1, "a"), id="email-bad-base64-length"),
        pytest.param(lambda t: with_part(t, 1, b64(b"\xff\xfe")), id="email-not-utf8"),
        pytest.param(lambda t: with_part(t, 1, b64(b"not-an-address")), id="email-invalid"),
        pytest.param(lambda t: with_part(t, 1, ""), id="email-empty"),
        pytest.param(lambda t: with_part(t, 2, "yesterday"), id="issued-not-int"),
        pytest.param(lambda t: with_part(t, 3, "1e10"), id="expiry-not-int"),
        pytest.param(lambda t: with_part(t, 3, ""), id="expiry-empty"),
        pytest.param(lambda t: with_part(t, 4, "a"), id="mac-bad-base64-length"),
        pytest.param(lambda t: "v1." + "A" * MAX_TOKEN_LENGTH, id="huge"),
        pytest.param(lambda t: "....", id="only-dots"),
        pytest.param(lambda t: "<script>alert(1)</script>", id="garbage"),
    ],
)
def test_malformed_tokens(token: str, mangle: Callable[[str], str]) -> None:
    assert reason_of(mangle(token)) == "malformed"


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: insert(t, 1, "!<>'"), id="junk-in-email-part"),
        pytest.param(lambda t: insert(t, 4, "%&~*"), id="junk-in-mac-part"),
        pytest.param(lambda t: with_part(t, 1, t.split(".")[1] + "=="), id="padding-added"),
        pytest.param(lambda t: with_part(t, 1, b64(b"Jane@Example.COM")), id="upper-case-address"),
        pytest.param(lambda t: with_part(t, 2, f"{ISSUED:_}"), id="underscored-digits"),
        pytest.param(lambda t: with_part(t, 2, f" {ISSUED} "), id="spaces-around-digits"),
        pytest.param(lambda t: with_part(t, 3, f"+{EXPIRES}"), id="plus-sign"),
        pytest.param(lambda t: with_part(t, 3, f"0{EXPIRES}"), id="leading-zero"),
        pytest.param(
            lambda t: with_part(t, 2, str(ISSUED).translate(ARABIC_INDIC)), id="arabic-indic-digits"
        ),
    ],
)
def test_only_the_canonical_spelling_of_a_token_is_accepted(
    token: str, mangle: Callable[[str], str]
) -> None:
    # Non-strict base64 drops unknown characters and int() accepts "1_000", " 12",
    # "+12" and non-ASCII digits: each would be another valid spelling of one token.
    assert reason_of(mangle(token)) == "malformed"


def test_verification_compares_macs_in_constant_time(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)

    verify_token(SECRET, token, ISSUED + 60)
    reason = reason_of(with_part(token, 4, b64(b"\0" * 32)))

    assert len(calls) == 2
    assert all(len(a) == len(b) == 32 for a, b in calls)
    assert reason == "signature"


def test_the_constant_time_result_is_what_decides(
    token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens.hmac, "compare_digest", lambda a, b: False)

    assert reason_of(token) == "signature"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        issue_token(b"short", "jane@example.com", ISSUED, TTL)
