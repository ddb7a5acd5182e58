"""Email validation and normalisation: the gate every entry point goes through (DESIGN 4.1)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mailstep.domain.emails import MAX_ADDRESS_LENGTH, is_valid_email, normalise_email
from mailstep.domain.errors import InvalidEmail, InvalidInput


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("  Jane.Doe@Example.COM \n", "jane.doe@example.com"),
        ("\tJANE+trial@Sub.Example.Co.UK", "jane+trial@sub.example.co.uk"),
        ("o'neil@example.com", "o'neil@example.com"),
        ("a@b.co", "a@b.co"),
    ],
)
def test_valid_addresses_are_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected
    assert is_valid_email(raw)


LONG_LOCAL = "a" * 65 + "@example.com"
LONG_ADDRESS = "a@" + ("b" * 60 + ".") * 5 + "com"  # 310 characters, every label valid


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="none"),
        pytest.param(42, id="not-a-string"),
        pytest.param("", id="empty"),
        pytest.param("   \t ", id="blank"),
        pytest.param("janeexample.com", id="no-at"),
        pytest.param("jane@doe@example.com", id="two-at"),
        pytest.param("jane doe@example.com", id="space-in-local"),
        pytest.param("jane@exam ple.com", id="space-in-domain"),
        pytest.param("jane@example.com\r\nBcc: eve@evil.test", id="crlf-injection"),
        pytest.param("ja\nne@example.com", id="lf-inside"),
        pytest.param("@example.com", id="empty-local"),
        pytest.param("jane@", id="empty-domain"),
        pytest.param(LONG_LOCAL, id="local-over-64"),
        pytest.param(LONG_ADDRESS, id="address-over-254"),
        pytest.param("jane@localhost", id="single-label-domain"),
        pytest.param("jane@-example.com", id="label-starts-with-hyphen"),
        pytest.param("jane@example-.com", id="label-ends-with-hyphen"),
        pytest.param("jane@exa_mple.com", id="underscore-in-domain"),
        pytest.param("jane@example..com", id="empty-label"),
        pytest.param("jane@example.com.", id="trailing-dot"),
        pytest.param("jane@" + "b" * 64 + ".com", id="label-over-63"),
        pytest.param(".jane@example.com", id="leading-dot-local"),
        pytest.param("jane.@example.com", id="trailing-dot-local"),
        pytest.param("ja..ne@example.com", id="double-dot-local"),
        pytest.param("<jane@example.com>", id="angle-brackets"),
        pytest.param("Jane <jane@example.com>", id="display-name"),
    ],
)
def test_invalid_addresses_raise_invalid_email(raw: object) -> None:
    with pytest.raises(InvalidEmail):
        normalise_email(raw)
    assert not is_valid_email(raw)


def test_invalid_email_is_an_invalid_input_so_callers_can_catch_either() -> None:
    with pytest.raises(InvalidInput):
        normalise_email("nope")


def test_length_limits_are_inclusive() -> None:
    local = "a" * 64
    label = "b" * 63
    assert normalise_email(f"{local}@{label}.com") == f"{local}@{label}.com"
    prefix = "a@" + ".".join(["b" * 63] * 3) + "."
    at_limit = prefix + "c" * (MAX_ADDRESS_LENGTH - len(prefix))
    assert len(at_limit) == MAX_ADDRESS_LENGTH
    assert normalise_email(at_limit) == at_limit
    with pytest.raises(InvalidEmail):
        normalise_email(at_limit + "c")


_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_-",
                 min_size=1, max_size=20)  # fmt: skip
_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_addresses = st.builds(
    lambda pad1, local, labels, pad2: f"{pad1}{local}@{'.'.join(labels)}{pad2}",
    st.sampled_from(["", " ", "\t", "\n "]),
    _local,
    st.lists(_label, min_size=2, max_size=4),
    st.sampled_from(["", " ", "\r\n"]),
)


@settings(max_examples=200, deadline=None)
@given(_addresses)
def test_normalise_is_idempotent_on_valid_addresses(raw: str) -> None:
    once = normalise_email(raw)

    assert normalise_email(once) == once
    assert once == once.strip().lower()
    assert once.count("@") == 1


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.emails()))
def test_normalise_is_idempotent_whenever_it_accepts(raw: str) -> None:
    assume(is_valid_email(raw))
    once = normalise_email(raw)

    assert normalise_email(once) == once
    assert not any(c.isspace() for c in once)
