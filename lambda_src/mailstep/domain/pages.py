"""The unsubscribe pages: small, self-contained, escaped HTML."""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:system-ui,-apple-system,sans-serif;max-width:480px;margin:15vh auto;"
    "padding:0 1.5rem;color:#1f2937;line-height:1.5}h1{font-size:1.4rem}"
    "button{font-size:1rem;padding:.6rem 1.2rem;border:0;border-radius:6px;"
    "background:#1f2937;color:#fff;cursor:pointer}"
)


def page(title: str, body_html: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>"
    )


def confirm_page(action: str, token: str, email: str) -> str:
    return page(
        "Unsubscribe?",
        f"<p>Stop marketing emails to <strong>{escape(email)}</strong>?</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Unsubscribe</button></form>'
        "<p><small>You will still receive emails about your account.</small></p>",
    )


def done_page() -> str:
    return page(
        "You have been unsubscribed",
        "<p>You will not receive any more marketing emails from us. Important account "
        "emails may still reach you. If this was a mistake, please contact support.</p>",
    )


INVALID_REASONS = {
    "missing": "This link has no unsubscribe token.",
    "malformed": (
        "This unsubscribe link is not valid. It may have been cut short by your email app."
    ),
    "signature": "This unsubscribe link is not valid.",
    "expired": "This unsubscribe link has expired. Use the link in a more recent email.",
}


def invalid_page(reason: str) -> str:
    message = INVALID_REASONS.get(reason, INVALID_REASONS["signature"])
    return page(
        "This link does not work",
        f"<p>{escape(message)}</p><p>If you need help, reply to one of our emails.</p>",
    )


def error_page() -> str:
    return page("Something went wrong", "<p>Please try again in a few minutes.</p>")
