# Every validation of the definition (modules/asl/variables.tf) rejects what it
# should: each run breaks exactly one thing in tests/fixtures/minimal.yaml, which
# the first run proves valid. Keep at least one run per validation rule.
# tests/terraform/test_sequence_validation.py checks each rule's message.

variables {
  send_email_function_arn      = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-send-email"
  check_condition_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-check-condition"
}

run "minimal_is_valid" {
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = yamldecode(file("tests/fixtures/minimal.yaml"))
  }

  assert {
    condition     = jsondecode(output.definition).States["wait-2"].Seconds == 3600
    error_message = "The fixture must render."
  }
}

run "bad_sequence_id" {
  # Sequence id must be kebab-case
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { id = "Trial_Expiring" })
  }

  expect_failures = [var.definition]
}

run "state_machine_name_over_80" {
  # <name_prefix>-<id> over 80 characters
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    name_prefix = "a-name-prefix-that-is-far-too-long-for-this"
    definition  = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { id = "an-id-that-is-exactly-forty-chars-long-x" })
  }

  expect_failures = [var.definition]
}

run "bad_step_id" {
  # step ids must be kebab-case
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "Hello", type = "send", template = "minimal/hello", subject = "Hello" }] })
  }

  expect_failures = [var.definition]
}

run "step_id_end" {
  # `end` is not a step id
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "end", type = "send", template = "minimal/hello", subject = "Hello" }] })
  }

  expect_failures = [var.definition]
}

run "bad_event_id" {
  # event ids must be kebab-case
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { events = [{ id = "Gift!", detail_type = "x", template = "minimal/gift", subject = "Gift" }] })
  }

  expect_failures = [var.definition]
}

run "no_steps" {
  # at least one step
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [] })
  }

  expect_failures = [var.definition]
}

run "unknown_step_type" {
  # unknown step type
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "hello", type = "sms" }] })
  }

  expect_failures = [var.definition]
}

run "send_without_id" {
  # send steps need an id
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ type = "send", template = "minimal/hello", subject = "Hello" }] })
  }

  expect_failures = [var.definition]
}

run "duplicate_ids" {
  # duplicate step ids
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "hello", type = "send", template = "minimal/hello", subject = "Hello" },
      { id = "hello", type = "send", template = "minimal/bye", subject = "Bye" },
    ] })
  }

  expect_failures = [var.definition]
}

run "generated_id_collision" {
  # an explicit id equal to a generated wait id
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "wait-2", type = "send", template = "minimal/hello", subject = "Hello" },
      { type = "wait", days = 1 },
    ] })
  }

  expect_failures = [var.definition]
}

run "bad_next_target" {
  # next names no step
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "hello", type = "send", template = "minimal/hello", subject = "Hello", next = "goodbye" },
      { id = "bye", type = "send", template = "minimal/bye", subject = "Bye" },
    ] })
  }

  expect_failures = [var.definition]
}

run "bad_choice_target" {
  # a choice names no step
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "plan", type = "choice", field = "plan", choices = [{ value = "pro", next = "pro-tips" }], default = "end" },
    ] })
  }

  expect_failures = [var.definition]
}

run "next_on_condition" {
  # next on a condition step
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "check", type = "condition", check = "field_exists", field = "plan", then = "end", else = "end", next = "end" },
    ] })
  }

  expect_failures = [var.definition]
}

run "template_and_variants" {
  # template + subject and variants together
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "hello", type = "send", template = "minimal/hello", subject = "Hello", variants = [
      { name = "a", template = "minimal/a", subject = "A" },
      { name = "b", template = "minimal/b", subject = "B" },
    ] }] })
  }

  expect_failures = [var.definition]
}

run "one_variant" {
  # variants need at least two arms
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "hello", type = "send", variants = [{ name = "a", template = "minimal/a", subject = "A" }] }] })
  }

  expect_failures = [var.definition]
}

run "send_without_subject" {
  # template without subject
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "hello", type = "send", template = "minimal/hello" }] })
  }

  expect_failures = [var.definition]
}

run "zero_wait" {
  # a wait of zero
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "hello", type = "send", template = "minimal/hello", subject = "Hello" },
      { type = "wait", days = 0 },
    ] })
  }

  expect_failures = [var.definition]
}

run "fractional_wait" {
  # a wait of 1.5 hours
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "hello", type = "send", template = "minimal/hello", subject = "Hello" },
      { type = "wait", hours = 1.5 },
    ] })
  }

  expect_failures = [var.definition]
}

run "condition_without_value" {
  # field_equals without value
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "check", type = "condition", check = "field_equals", field = "plan", then = "end", else = "end" },
    ] })
  }

  expect_failures = [var.definition]
}

run "condition_unknown_check" {
  # an unknown check
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "check", type = "condition", check = "opened_last_email", then = "end", else = "end" },
    ] })
  }

  expect_failures = [var.definition]
}

run "choice_without_default" {
  # a choice without default
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "plan", type = "choice", field = "plan", choices = [{ value = "pro", next = "end" }] },
    ] })
  }

  expect_failures = [var.definition]
}

run "bad_field" {
  # a field that is not an attribute name
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [
      { id = "plan", type = "choice", field = "plan.name", choices = [{ value = "pro", next = "end" }], default = "end" },
    ] })
  }

  expect_failures = [var.definition]
}

run "bad_template_key" {
  # a template key without <sequence-id>/
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "hello", type = "send", template = "hello", subject = "Hello" }] })
  }

  expect_failures = [var.definition]
}

run "multiline_subject" {
  # a subject over two lines
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { steps = [{ id = "hello", type = "send", template = "minimal/hello", subject = "Hello\nBcc: x@evil.test" }] })
  }

  expect_failures = [var.definition]
}

run "bad_reentry" {
  # an unknown reentry policy
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { reentry = "always" })
  }

  expect_failures = [var.definition]
}

run "timeout_over_a_year" {
  # timeout_days over 365
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { timeout_days = 400 })
  }

  expect_failures = [var.definition]
}

run "duplicate_event_ids" {
  # two events with one id
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { events = [
      { id = "gift", detail_type = "a", template = "minimal/gift", subject = "Gift" },
      { id = "gift", detail_type = "b", template = "minimal/gift", subject = "Gift" },
    ] })
  }

  expect_failures = [var.definition]
}

run "bad_json_path" {
  # a mapping that is not a JSONPath
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { trigger = { detail_type = "user.signed_up", subscriber = { email = "detail.email" } } })
  }

  expect_failures = [var.definition]
}

run "empty_source" {
  # an empty source
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), { trigger = { detail_type = "user.signed_up", source = "" } })
  }

  expect_failures = [var.definition]
}
