"""How a sent email is tied back to its sequence, step and template: headers first
(SES event records carry them), tags as a fallback."""

HEADER_SEQUENCE = "X-Mailstep-Sequence"
HEADER_TEMPLATE = "X-Mailstep-Template"
HEADER_STEP = "X-Mailstep-Step"
TAG_SEQUENCE = "mailstep_sequence"
TAG_TEMPLATE = "mailstep_template"
TAG_STEP = "mailstep_step"


def tag_value(value: str) -> str:
    """SES tag values allow ASCII letters, digits, '_', '-', '.', '@'; '/' becomes '--'."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-.@") else "--" for c in value)[:256]


def template_from_tag(value: str | None) -> str | None:
    return value.replace("--", "/") if value else None
