"""Render one step of a sequence with sample or given subscriber data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mailstep.cli.sequences import FileTemplateSource, Project, Sequence
from mailstep.domain.errors import InvalidInput
from mailstep.domain.lifecycle import pick_variant
from mailstep.domain.models import Subscriber
from mailstep.domain.rendering import RenderedEmail, build_context, render_email

PREVIEW_UNSUBSCRIBE_URL = "https://example.invalid/unsubscribe?token=preview"
SAMPLE = {
    "email": "jane@example.com",
    "first_name": "Jane",
    "attributes": {"plan": "pro", "team_name": "Rocket", "company": "Example Ltd"},
}


@dataclass(frozen=True)
class Preview:
    template: str
    rendered: RenderedEmail


def subscriber_from(data: str | None) -> Subscriber:
    """``--data``: a JSON subscriber object, or ``@file.json``; default: a sample."""
    if not data:
        return Subscriber.from_payload(SAMPLE)
    raw = Path(data[1:]).read_text() if data.startswith("@") else data
    try:
        payload: Any = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"--data is not valid JSON: {exc}") from exc
    if isinstance(payload, dict) and "email" not in payload:
        payload = {**SAMPLE, "attributes": payload}  # just attributes
    return Subscriber.from_payload(payload)


def render_step(
    project: Project,
    sequence: Sequence,
    step_id: str,
    subscriber: Subscriber,
    variant: str | None = None,
) -> Preview:
    events = {e.get("id"): e for e in sequence.data.get("events") or []}
    step: dict[str, Any] = dict(events[step_id]) if step_id in events else sequence.step(step_id)
    if step.get("type", "send") != "send" and step_id not in events:
        raise InvalidInput(f"step {step_id!r} is a {step.get('type')} step; only send steps render")
    if step.get("variants"):
        variants = step["variants"]
        names = [v.get("name") for v in variants]
        if variant is not None and variant not in names:
            raise InvalidInput(f"no variant {variant!r} (variants: {', '.join(map(str, names))})")
        index = (
            names.index(variant)
            if variant
            else pick_variant(variants, subscriber.email, sequence.id)
        )
        step = variants[index]
    context = build_context(
        email=subscriber.email,
        first_name=subscriber.first_name,
        attributes=subscriber.attributes,
        display_names=project.display_names(),
        unsubscribe_url=PREVIEW_UNSUBSCRIBE_URL,
        current_year=datetime.now(UTC).year,
    )
    template = str(step["template"])
    rendered = render_email(
        FileTemplateSource(project.templates_dir), template, str(step["subject"]), context
    )
    return Preview(template=template, rendered=rendered)


def write_preview(preview: Preview, out: Path) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(preview.rendered.html)
    written = [out]
    if preview.rendered.text:
        text_path = out.with_suffix(".txt")
        text_path.write_text(preview.rendered.text)
        written.append(text_path)
    return written
