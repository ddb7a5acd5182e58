"""Liquid rendering: HTML autoescaped, subjects and text parts plain but header-safe."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import Error as LiquidError
from liquid.exceptions import TemplateNotFound as LiquidTemplateNotFound
from liquid.loaders import BaseLoader
from liquid.loaders import TemplateSource as LiquidTemplateSource

from mailstep.domain.errors import TemplateError, TemplateNotFound
from mailstep.domain.headers import header_safe
from mailstep.domain.models import RESERVED_CONTEXT_KEYS
from mailstep.domain.ports import TemplateSource

DISPLAY_NAME_SUFFIX = "_name"


class _Environment(Environment):
    # Bound what one render may do: templates are trusted, subscriber data is not.
    loop_iteration_limit = 10_000
    output_stream_limit = 2_000_000
    context_depth_limit = 30


class _PartialLoader(BaseLoader):
    """``{% include "layout/footer" %}`` loads ``layout/footer.html`` (``.txt`` in text
    parts) from the same template source as the email, so partials follow the source's
    own caching (10 minutes from S3)."""

    def __init__(self, templates: TemplateSource, extension: str) -> None:
        super().__init__()
        self._templates = templates
        self._extension = extension

    def get_source(self, env: Environment, template_name: str) -> LiquidTemplateSource:
        key = f"{template_name}{self._extension}"
        text = self._templates.get(key)
        if text is None:
            raise LiquidTemplateNotFound(key)
        return LiquidTemplateSource(text, key, None)


def _environment(html: bool, templates: TemplateSource | None) -> Environment:
    # cache_size=0: the environment must not keep partials longer than the source does.
    loader = _PartialLoader(templates, ".html" if html else ".txt") if templates else None
    return (
        _Environment(autoescape=html, loader=loader, cache_size=0)
        if loader
        else _PLAIN_OR_HTML[html]
    )


HTML = _Environment(autoescape=True)  # subscriber data can never inject markup
PLAIN = _Environment(autoescape=False)  # subjects and text/plain parts
_PLAIN_OR_HTML: dict[bool, Environment] = {True: HTML, False: PLAIN}


_ENVIRONMENTS: dict[int, tuple[TemplateSource, dict[bool, Environment]]] = {}


def _environments(templates: TemplateSource | None) -> dict[bool, Environment]:
    """One pair of environments per template source (sources are long-lived: one per
    Lambda container), kept by identity since sources need not be hashable."""
    if templates is None:
        return _PLAIN_OR_HTML
    entry = _ENVIRONMENTS.get(id(templates))
    if entry is None or entry[0] is not templates:
        if len(_ENVIRONMENTS) >= 32:
            _ENVIRONMENTS.clear()
        entry = (templates, {html: _environment(html, templates) for html in (True, False)})
        _ENVIRONMENTS[id(templates)] = entry
    return entry[1]


@functools.lru_cache(maxsize=256)
def _parse(env: Environment, source_hash: str, source: str) -> BoundTemplate:
    return env.from_string(source)


def parse(
    source: str, *, html: bool, name: str = "template", templates: TemplateSource | None = None
) -> BoundTemplate:
    """Parse (cached by content) or raise TemplateError naming the template. With
    ``templates``, ``{% include %}`` loads partials from that source."""
    digest = hashlib.sha256(source.encode()).hexdigest()
    try:
        return _parse(_environments(templates)[html], digest, source)
    except LiquidError as exc:
        raise TemplateError(f"{name}: {exc}") from exc


def render(
    source: str,
    context: Mapping[str, Any],
    *,
    html: bool,
    name: str = "template",
    templates: TemplateSource | None = None,
) -> str:
    template = parse(source, html=html, name=name, templates=templates)
    try:
        return template.render(**context)
    except LiquidError as exc:
        raise TemplateError(f"{name}: {exc}") from exc


def variables_used(
    source: str, *, html: bool = True, templates: TemplateSource | None = None
) -> set[str]:
    """Top-level variable names a template reads (``a.b`` → ``a``), partials included."""
    template = parse(source, html=html, templates=templates)
    try:
        analysis = template.analyze(follow_partials=templates is not None)
    except LiquidError as exc:
        raise TemplateError(str(exc)) from exc
    return {name.split(".", 1)[0].split("[", 1)[0] for name in analysis.global_variables}


def build_context(
    *,
    email: str,
    first_name: str | None,
    attributes: Mapping[str, Any],
    display_names: Mapping[str, Mapping[str, str]],
    unsubscribe_url: str,
    current_year: int,
) -> dict[str, Any]:
    """The variables a template sees (DESIGN 4.4).

    Attributes are available at the top level and, for names that are not valid
    identifiers or that clash with system names, under ``attributes``.
    """
    context: dict[str, Any] = {
        key: value for key, value in attributes.items() if key not in RESERVED_CONTEXT_KEYS
    }
    for key, mapping in display_names.items():
        if not key.endswith(DISPLAY_NAME_SUFFIX) or not isinstance(mapping, Mapping):
            continue
        raw = attributes.get(key[: -len(DISPLAY_NAME_SUFFIX)])
        if isinstance(raw, str | int | bool):
            context.setdefault(key, mapping.get(str(raw), raw))
    context.update(
        email=email,
        first_name=first_name,
        attributes=dict(attributes),
        unsubscribe_url=unsubscribe_url,
        current_year=current_year,
    )
    return context


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str | None


def template_keys(template: str) -> tuple[str, str]:
    """S3 keys of a template's HTML and text parts: ``seq/name`` → ``seq/name.html``…"""
    return f"{template}.html", f"{template}.txt"


def render_email(
    source: TemplateSource, template: str, subject: str, context: Mapping[str, Any]
) -> RenderedEmail:
    html_key, text_key = template_keys(template)
    html_source = source.get(html_key)
    if html_source is None:
        raise TemplateNotFound(template)
    text_source = source.get(text_key)
    rendered_subject = header_safe(render(subject, context, html=False, name=f"{template} subject"))
    if not rendered_subject:
        raise TemplateError(f"{template}: the subject renders empty")
    return RenderedEmail(
        subject=rendered_subject,
        html=render(html_source, context, html=True, name=html_key, templates=source),
        text=(
            render(text_source, context, html=False, name=text_key, templates=source)
            if text_source
            else None
        ),
    )
