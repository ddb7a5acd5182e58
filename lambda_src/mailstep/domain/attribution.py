"""How a sent email is tied back to its sequence and step, or its broadcast, and template:
headers first (SES event records carry them), tags as a fallback."""

from __future__ import annotations

from dataclasses import dataclass

HEADER_SEQUENCE = "X-Mailstep-Sequence"
HEADER_BROADCAST = "X-Mailstep-Broadcast"
HEADER_TEMPLATE = "X-Mailstep-Template"
HEADER_STEP = "X-Mailstep-Step"
TAG_SEQUENCE = "mailstep_sequence"
TAG_BROADCAST = "mailstep_broadcast"
TAG_TEMPLATE = "mailstep_template"
TAG_STEP = "mailstep_step"


def tag_value(value: str) -> str:
    """SES tag values allow ASCII letters, digits, '_', '-', '.', '@'; '/' becomes '--'."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-.@") else "--" for c in value)[:256]


def template_from_tag(value: str | None) -> str | None:
    return value.replace("--", "/") if value else None


def broadcast_scope(broadcast_id: str) -> str:
    """A broadcast's counters live at ``STATS#broadcast#<id>`` (ids cannot contain '#',
    so they never collide with a sequence's ``STATS#<sequence-id>``)."""
    return f"broadcast#{broadcast_id}"


def stats_scope(sequence_id: str | None, broadcast_id: str | None) -> str | None:
    """The counters an email's events feed: its broadcast's or its sequence's."""
    if broadcast_id:
        return broadcast_scope(broadcast_id)
    return sequence_id or None


@dataclass(frozen=True)
class Attribution:
    """Where one email comes from: a sequence step, or a broadcast."""

    template: str
    sequence_id: str | None = None
    step_id: str | None = None
    broadcast_id: str | None = None

    @property
    def scope(self) -> str | None:
        return stats_scope(self.sequence_id, self.broadcast_id)

    def headers(self) -> list[tuple[str, str]]:
        pairs = [
            (HEADER_SEQUENCE, self.sequence_id),
            (HEADER_BROADCAST, self.broadcast_id),
            (HEADER_TEMPLATE, self.template),
            (HEADER_STEP, self.step_id),
        ]
        return [(name, value) for name, value in pairs if value]

    def tags(self) -> dict[str, str]:
        pairs = {
            TAG_SEQUENCE: self.sequence_id,
            TAG_BROADCAST: self.broadcast_id,
            TAG_TEMPLATE: self.template,
            TAG_STEP: self.step_id,
        }
        return {name: tag_value(value) for name, value in pairs.items() if value}

    def detail(self) -> dict[str, str]:
        """The fields of the lifecycle events mailstep publishes about this email."""
        pairs = {
            "sequence_id": self.sequence_id,
            "broadcast_id": self.broadcast_id,
            "step_id": self.step_id,
            "template": self.template,
        }
        return {name: value for name, value in pairs.items() if value}
