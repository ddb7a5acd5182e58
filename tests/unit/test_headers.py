"""Header-safe values: subjects and sender names can never add a header (DESIGN 4.4)."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailstep.domain.errors import InvalidEmail, InvalidInput
from mailstep.domain.headers import format_mailbox, header_safe, mailbox_address

LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def display_name(mailbox: str) -> str:
    """The decoded display name of a formatted mailbox (what a mail client shows)."""
    name, _ = parseaddr(mailbox)
    return str(make_header(decode_header(name)))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Hello\r\nBcc: eve@evil.test", "Hello Bcc: eve@evil.test"),
        ("Hello\nBcc: eve@evil.test", "Hello Bcc: eve@evil.test"),
        ("\tTabs\t\tand  spaces ", "Tabs and spaces"),
        ("line\u2028separator\u2029paragraph\u0085next", "line separator paragraph next"),
        ("nul\x00and\x7fdel", "nul and del"),
        ("\r\n", ""),
        ("Plain subject", "Plain subject"),
        ("A & B <b>", "A & B <b>"),  # not HTML: a subject is text
    ],
)
def test_header_safe_replaces_control_characters_and_collapses_spaces(
    raw: str, expected: str
) -> None:
    assert header_safe(raw) == expected


def test_header_safe_truncates_without_leaving_trailing_space() -> None:
    assert header_safe("abc def", max_length=4) == "abc"
    assert len(header_safe("x" * 2000)) == 900


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_header_safe_output_never_breaks_a_line(raw: str) -> None:
    safe = header_safe(raw)

    assert not any(c in LINE_BREAKS or c == "\t" for c in safe)
    assert len(safe.splitlines()) <= 1
    assert safe == safe.strip()


def test_ascii_name_is_kept_and_address_normalised() -> None:
    assert format_mailbox("Acme <Hello@Acme.TEST>") == "Acme <hello@acme.test>"
    assert format_mailbox("  hello@acme.test ") == "hello@acme.test"


def test_non_ascii_name_is_rfc2047_encoded() -> None:
    mailbox = format_mailbox("Zoë Ünïcode <hello@acme.test>")

    assert mailbox.startswith("=?utf-8?")
    assert mailbox.isascii()
    assert mailbox.endswith(" <hello@acme.test>")
    assert display_name(mailbox) == "Zoë Ünïcode"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Acme, Inc." <hello@acme.test>', '"Acme, Inc." <hello@acme.test>'),
        ("Acme Inc. <hello@acme.test>", '"Acme Inc." <hello@acme.test>'),
        ('"Team (support)" <hello@acme.test>', '"Team (support)" <hello@acme.test>'),
        ('"Say \\"hi\\"" <hello@acme.test>', '"Say \\"hi\\"" <hello@acme.test>'),
    ],
)
def test_names_with_specials_are_quoted(raw: str, expected: str) -> None:
    assert format_mailbox(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        '"Evil\r\nBcc: eve@evil.test" <hello@acme.test>',
        '"Evil\nBcc: eve@evil.test" <hello@acme.test>',
        '"Evil\rBcc: eve@evil.test" <hello@acme.test>',
        '"Evil\u2028Bcc: eve@evil.test" <hello@acme.test>',
    ],
)
def test_line_breaks_in_the_name_cannot_inject_a_header(raw: str) -> None:
    mailbox = format_mailbox(raw)

    assert not any(c in LINE_BREAKS for c in mailbox)
    assert parseaddr(mailbox)[1] == "hello@acme.test"
    assert display_name(mailbox) == "Evil Bcc: eve@evil.test"


def test_line_breaks_inside_the_address_are_refused() -> None:
    # Once the line break is a space, what is left is not a single mailbox.
    with pytest.raises(InvalidInput):
        format_mailbox("Acme <hello@acme.test\r\nBcc: eve@evil.test>")


@pytest.mark.parametrize(
    "raw",
    ["Evil Bcc: x@y.z <a@b.c>", "a@b.c, d@e.f", "Acme, Inc. <hello@acme.test>"],
    ids=["group-syntax", "two-mailboxes", "unquoted-comma"],
)
def test_anything_but_one_mailbox_is_refused_not_reinterpreted(raw: str) -> None:
    with pytest.raises(InvalidInput):
        format_mailbox(raw)


def test_a_quoted_name_with_a_comma_is_fine() -> None:
    assert format_mailbox('"Acme, Inc." <hello@acme.test>') == '"Acme, Inc." <hello@acme.test>'


# Lone surrogates (category Cs) are left out: they cannot be encoded at all and raise
# UnicodeEncodeError rather than InvalidInput (reported, not asserted here).
@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_characters='"\\', exclude_categories=["Cs"]), max_size=60))
def test_any_quoted_name_gives_one_line_and_the_same_address(name: str) -> None:
    mailbox = format_mailbox(f'"{name}" <hello@acme.test>')

    assert not any(c in LINE_BREAKS for c in mailbox)
    assert parseaddr(mailbox)[1] == "hello@acme.test"


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", InvalidInput),
        ("Acme <not-an-address>", InvalidEmail),
        ("Acme", InvalidEmail),
        ("Acme <hello@acme>", InvalidEmail),
        ("Acme <hello world@acme.test>", InvalidEmail),
    ],
)
def test_invalid_mailboxes_raise(raw: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        format_mailbox(raw)


def test_mailbox_address_is_the_bare_normalised_address() -> None:
    assert mailbox_address("Acme <Hello@Acme.Test>") == "hello@acme.test"
    with pytest.raises(InvalidEmail):
        mailbox_address("Acme")
