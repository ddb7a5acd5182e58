"""The unsubscribe pages escape everything they echo back."""

from __future__ import annotations

import pytest
from mailstep.domain import pages

EVIL = "\"'><script>alert(1)</script>&"
ESCAPED = "&quot;&#x27;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"


def test_confirm_page_escapes_token_address_and_action() -> None:
    html = pages.confirm_page(action=f"/{EVIL}", token=EVIL, email=f"{EVIL}@example.com")

    assert "<script>" not in html
    assert f'<input type="hidden" name="token" value="{ESCAPED}">' in html
    assert f'<form method="post" action="/{ESCAPED}">' in html
    assert f"<strong>{ESCAPED}@example.com</strong>" in html


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("missing", "This link has no unsubscribe token."),
        ("expired", "This unsubscribe link has expired."),
        ("signature", "This unsubscribe link is not valid."),
        ("malformed", "It may have been cut short by your email app."),
        ("<script>", "This unsubscribe link is not valid."),  # unknown reasons never echo
    ],
)
def test_invalid_page_explains_without_echoing(reason: str, message: str) -> None:
    html = pages.invalid_page(reason)

    assert message in html
    assert "<script>" not in html
    assert "<form" not in html


def test_every_page_is_a_complete_noindex_document() -> None:
    for html in (pages.done_page(), pages.error_page(), pages.invalid_page("missing")):
        assert html.startswith('<!doctype html><html lang="en">')
        assert '<meta name="robots" content="noindex">' in html
        assert html.endswith("</body></html>")
