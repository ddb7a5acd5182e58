"""EventBridge input transformation as the sandbox applies it (EventBridge's rules)."""

from __future__ import annotations

import json

from mailstep.local.shims import target_input, transform_input

EVENT = {
    "id": "7bf73129",
    "detail-type": "trial.started",
    "detail": {"email": "jane@example.com", "firstName": "Jane", "plan": "pro", "seats": 3},
}
PATHS = {
    "id": "$.id",
    "email": "$.detail.email",
    "name": "$.detail.firstName",
    "attrs": "$.detail",
    "seats": "$.detail.seats",
    "missing": "$.detail.nope",
}


def test_unquoted_placeholders_insert_json_values() -> None:
    template = (
        '{"event_id": <id>, "subscriber": {"email": <email>, "attributes": <attrs>}, "n": <seats>}'
    )
    assert json.loads(transform_input(template, PATHS, EVENT)) == {
        "event_id": "7bf73129",
        "subscriber": {"email": "jane@example.com", "attributes": EVENT["detail"]},
        "n": 3,
    }


def test_placeholders_inside_strings_insert_text() -> None:
    template = '{"note": "Hi <name>, you have <seats> seats", "quote": "say \\"<name>\\""}'
    assert json.loads(transform_input(template, PATHS, EVENT)) == {
        "note": "Hi Jane, you have 3 seats",
        "quote": 'say "Jane"',
    }


def test_missing_path_gives_null_outside_strings_and_nothing_inside() -> None:
    template = '{"first_name": <missing>, "note": "[<missing>]"}'
    assert json.loads(transform_input(template, PATHS, EVENT)) == {"first_name": None, "note": "[]"}


def test_angle_brackets_that_are_not_variables_are_left_alone() -> None:
    template = '{"from": "Acme <hello@acme.test>", "email": <email>}'
    assert json.loads(transform_input(template, PATHS, EVENT))["from"] == "Acme <hello@acme.test>"


def test_values_with_quotes_are_escaped_inside_strings() -> None:
    event = {"detail": {"name": 'Ja"ne\\'}}
    out = transform_input('{"note": "Hi <n>"}', {"n": "$.detail.name"}, event)
    assert json.loads(out) == {"note": 'Hi Ja"ne\\'}


def test_targets_without_transformer_get_the_event_or_constant_input() -> None:
    assert json.loads(target_input({"Arn": "x"}, EVENT)) == EVENT
    assert target_input({"Arn": "x", "Input": '{"a": 1}'}, EVENT) == '{"a": 1}'
    assert json.loads(target_input({"Arn": "x", "InputPath": "$.detail"}, EVENT)) == EVENT["detail"]
