"""Liquid rendering (DESIGN 4.4): HTML autoescaped, subjects and text parts plain but
header-safe, clear errors for missing or broken templates."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakeTemplates
from mailstep.domain.errors import TemplateError, TemplateNotFound
from mailstep.domain.rendering import (
    build_context,
    render,
    render_email,
    template_keys,
    variables_used,
)


def context(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "email": "jane@example.com",
        "first_name": "Jane",
        "attributes": {},
        "display_names": {},
        "unsubscribe_url": "https://unsub.example.test/?token=t",
        "current_year": 2025,
    }
    arguments.update(overrides)
    return build_context(**arguments)


WELCOME = "onboarding/welcome"


def source(html: str, text: str | None = None) -> FakeTemplates:
    files = {f"{WELCOME}.html": html}
    if text is not None:
        files[f"{WELCOME}.txt"] = text
    return FakeTemplates(files)


def test_subscriber_data_is_escaped_in_html_but_template_markup_is_kept() -> None:
    html = '<p class="hi">Hi {{ first_name }}, plan {{ plan }}</p>{{ "<hr>" }}'
    ctx = context(first_name="<script>alert(1)</script>", attributes={"plan": '"><img src=x>'})

    rendered = render_email(source(html), WELCOME, "Hi", ctx)

    assert rendered.html == (
        '<p class="hi">Hi &lt;script&gt;alert(1)&lt;/script&gt;, plan '
        "&#34;&gt;&lt;img src=x&gt;</p><hr>"
    )


def test_filters_do_not_unescape_subscriber_data() -> None:
    html = "{{ first_name | upcase }}|{{ first_name | append: '<br>' }}"

    rendered = render_email(source(html), WELCOME, "Hi", context(first_name="<b>"))

    assert rendered.html == "&lt;B&gt;|&lt;b&gt;<br>"


def test_subject_is_not_html_escaped_but_is_header_safe() -> None:
    rendered = render_email(
        source("<p>x</p>"), WELCOME, "{{ first_name }}", context(first_name="A & B\r\nBcc: x")
    )

    assert rendered.subject == "A & B Bcc: x"


def test_subject_default_filter_covers_a_missing_first_name() -> None:
    rendered = render_email(
        source("<p>x</p>"), WELCOME, "Welcome, {{ first_name | default: 'there' }}",
        context(first_name=None),
    )  # fmt: skip

    assert rendered.subject == "Welcome, there"


@pytest.mark.parametrize("subject", ["{{ nothing }}", "   ", "{{ first_name }}\r\n\t"])
def test_a_subject_that_renders_empty_is_an_error(subject: str) -> None:
    with pytest.raises(TemplateError, match=WELCOME):
        render_email(source("<p>x</p>"), WELCOME, subject, context(first_name=None))


def test_text_part_is_rendered_unescaped() -> None:
    rendered = render_email(
        source("<p>{{ first_name }}</p>", "Hi {{ first_name }} ({{ unsubscribe_url }})"),
        WELCOME,
        "Hi",
        context(first_name="A & <B>"),
    )

    assert rendered.text == "Hi A & <B> (https://unsub.example.test/?token=t)"
    assert rendered.html == "<p>A &amp; &lt;B&gt;</p>"


def test_without_a_text_template_there_is_no_text_part() -> None:
    assert render_email(source("<p>x</p>"), WELCOME, "Hi", context()).text is None


def test_missing_template_raises_template_not_found_with_the_key() -> None:
    with pytest.raises(TemplateNotFound) as caught:
        render_email(FakeTemplates(), "onboarding/missing", "Hi", context())

    assert caught.value.key == "onboarding/missing"


@pytest.mark.parametrize(
    ("html", "text", "subject", "named"),
    [
        ("<p>{% if %}</p>", None, "Hi", "onboarding/welcome.html"),
        ("<p>{{ first_name </p>", None, "Hi", "onboarding/welcome.html"),
        ("<p>x</p>", "{% for x in %}", "Hi", "onboarding/welcome.txt"),
        ("<p>x</p>", None, "Hi {% endif %}", "onboarding/welcome subject"),
        ("<p>{{ first_name | no_such_filter }}</p>", None, "Hi", "onboarding/welcome.html"),
    ],
)
def test_broken_templates_raise_template_error_naming_the_template(
    html: str, text: str | None, subject: str, named: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        render_email(source(html, text), WELCOME, subject, context())

    assert str(caught.value).startswith(f"{named}:")


def test_display_names_map_attribute_values() -> None:
    names = {"plan_name": {"pro": "Pro plan"}, "region_name": {"eu": "Europe"}, "ignored": {}}
    ctx = context(attributes={"plan": "pro", "region": "us"}, display_names=names)

    rendered = render("{{ plan_name }} / {{ region_name }} / {{ ignored }}", ctx, html=False)

    assert rendered == "Pro plan / us / "


def test_an_attribute_wins_over_a_display_name_of_the_same_key() -> None:
    ctx = context(
        attributes={"plan": "pro", "plan_name": "Custom"},
        display_names={"plan_name": {"pro": "Pro plan"}},
    )

    assert ctx["plan_name"] == "Custom"


def test_attributes_cannot_shadow_reserved_names() -> None:
    attributes = {
        "email": "eve@evil.test",
        "first_name": "Mallory",
        "unsubscribe_url": "https://evil.test/",
        "current_year": 1999,
        "attributes": "flat",
        "plan": "pro",
    }

    ctx = context(attributes=attributes)

    assert ctx["email"] == "jane@example.com"
    assert ctx["first_name"] == "Jane"
    assert ctx["unsubscribe_url"] == "https://unsub.example.test/?token=t"
    assert ctx["current_year"] == 2025
    assert ctx["plan"] == "pro"
    assert ctx["attributes"] == attributes  # still reachable as attributes.email etc.


def test_odd_attribute_names_are_reachable_through_attributes() -> None:
    ctx = context(attributes={"a-b": "<dash>", "x.y": "dot", "with space": "sp", "ünï": "u"})
    html = '{{ attributes["a-b"] }} {{ attributes["x.y"] }} {{ attributes["with space"] }}'

    assert render(html, ctx, html=True) == "&lt;dash&gt; dot sp"
    assert render('{{ attributes["ünï"] }}', ctx, html=False) == "u"


def test_current_year_and_unsubscribe_url_are_available() -> None:
    assert render("{{ current_year }} {{ unsubscribe_url }}", context(), html=True) == (
        "2025 https://unsub.example.test/?token=t"
    )


def test_variables_used_lists_top_level_names() -> None:
    source_text = (
        '{{ first_name }} {{ attributes["a-b"] }} {{ user.name }} {{ plan_name }}'
        "{% for item in items %}{{ item }}{% endfor %}"
    )

    assert variables_used(source_text) == {"first_name", "attributes", "user", "plan_name", "items"}


def test_template_keys_are_the_html_and_text_objects() -> None:
    assert template_keys("onboarding/welcome") == (
        "onboarding/welcome.html",
        "onboarding/welcome.txt",
    )


# --------------------------------------------------------------------------- partials


def test_include_loads_a_shared_partial_from_the_same_source() -> None:
    templates = FakeTemplates(
        {
            f"{WELCOME}.html": '{% assign title = "Hi" %}{% include "layout/header" %}<p>Body</p>',
            f"{WELCOME}.txt": '{% include "layout/header" %}Body',
            "layout/header.html": "<h1>{{ title }}, {{ first_name }}</h1>",
            "layout/header.txt": "== {{ first_name }} ==\n",
        }
    )

    email = render_email(templates, WELCOME, "Subject", context(first_name="<Jo>"))

    assert email.html == "<h1>Hi, &lt;Jo&gt;</h1><p>Body</p>"  # partials autoescape too
    assert email.text == "== <Jo> ==\nBody"  # text parts include the .txt partial


def test_a_missing_partial_is_a_template_error_naming_it() -> None:
    templates = FakeTemplates({f"{WELCOME}.html": '{% include "layout/nope" %}'})

    with pytest.raises(TemplateError, match=r"layout/nope"):
        render_email(templates, WELCOME, "Subject", context())


def test_variables_used_follow_partials() -> None:
    templates = FakeTemplates({"layout/footer.html": "{{ unsubscribe_url }} {{ company }}"})

    used = variables_used(
        '<p>{{ first_name }}</p>{% include "layout/footer" %}', templates=templates
    )

    assert used == {"first_name", "unsubscribe_url", "company"}
