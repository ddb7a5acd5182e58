# The sequence module against a mocked AWS provider: names, the state machine's
# settings, rules, input transformers, targets, permissions and IAM scope.

mock_provider "aws" {
  # ARNs that feed ARN-validated arguments (role_arn, log_destination, target arn).
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mock" }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:us-east-1:123456789012:stateMachine:mock" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/mailstep-bus/mock" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  # Shaped like module.core.core, extra attributes included: the module must
  # take the core output whole.
  core = {
    name_prefix                   = "mailstep"
    region                        = "us-east-1"
    account_id                    = "123456789012"
    partition                     = "aws"
    event_bus_name                = "mailstep-bus"
    event_bus_arn                 = "arn:aws:events:us-east-1:123456789012:event-bus/mailstep-bus"
    send_email_function_arn       = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-send-email"
    send_email_function_name      = "mailstep-send-email"
    check_condition_function_arn  = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-check-condition"
    check_condition_function_name = "mailstep-check-condition"
    dlq_arn                       = "arn:aws:sqs:us-east-1:123456789012:mailstep-events-dlq"
    dlq_url                       = "https://sqs.us-east-1.amazonaws.com/123456789012/mailstep-events-dlq"
    main_table_name               = "mailstep-main"
    templates_bucket_name         = "mailstep-templates"
    template_keys                 = sort(fileset("../../templates", "**"))
    log_retention_days            = 14
    alarm_topic_arn               = null
    kms_key_arn                   = null
    tags                          = { application = "mailstep" }
  }
}

run "onboarding" {
  variables {
    definition = yamldecode(file("../../sequences/onboarding.yaml"))
  }

  assert {
    condition     = aws_sfn_state_machine.this.name == "mailstep-onboarding" && output.state_machine_name == "mailstep-onboarding"
    error_message = "The state machine must be named <name_prefix>-<id> (runtime contract)."
  }

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD" && aws_sfn_state_machine.this.definition == output.definition && jsondecode(output.definition).StartAt == "Register"
    error_message = "A STANDARD state machine running the rendered definition."
  }

  assert {
    condition = (
      aws_sfn_state_machine.this.logging_configuration[0].level == "ERROR" &&
      aws_sfn_state_machine.this.logging_configuration[0].include_execution_data == false &&
      aws_sfn_state_machine.this.logging_configuration[0].log_destination == "${aws_cloudwatch_log_group.this.arn}:*"
    )
    error_message = "Logs: level ERROR, no execution data (PII), to its own log group."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/vendedlogs/states/mailstep-onboarding" && aws_cloudwatch_log_group.this.retention_in_days == 14 && output.log_group_name == aws_cloudwatch_log_group.this.name
    error_message = "The log group is /aws/vendedlogs/states/<name> with the core's retention."
  }

  assert {
    condition     = output.rule_names == { trigger = "mailstep-onboarding-trigger", "exit-1" = "mailstep-onboarding-exit-1" }
    error_message = "Unexpected rule names: ${jsonencode(output.rule_names)}"
  }

  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_rule.this["trigger"].event_pattern) == { "detail-type" = ["user.signed_up"] } &&
      aws_cloudwatch_event_rule.this["trigger"].event_bus_name == "mailstep-bus"
    )
    error_message = "The trigger matches the detail-type on the core bus (no source filter when none is given)."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.this["trigger"].arn == aws_sfn_state_machine.this.arn &&
      aws_cloudwatch_event_target.this["trigger"].role_arn == aws_iam_role.events.arn &&
      aws_cloudwatch_event_target.this["trigger"].input_transformer[0].input_paths == tomap({
        event_id   = "$.id"
        email      = "$.detail.email"
        first_name = "$.detail.firstName"
        attributes = "$.detail"
      }) &&
      aws_cloudwatch_event_target.this["trigger"].input_transformer[0].input_template == "{\"event_id\":<event_id>,\"subscriber\":{\"attributes\":<attributes>,\"email\":<email>,\"first_name\":<first_name>}}"
    )
    error_message = "The trigger starts the state machine with {event_id, subscriber{email, first_name, attributes}}."
  }

  assert {
    condition = alltrue([
      for t in aws_cloudwatch_event_target.this : (
        t.retry_policy[0].maximum_event_age_in_seconds == 86400 &&
        t.retry_policy[0].maximum_retry_attempts == 185 &&
        t.dead_letter_config[0].arn == var.core.dlq_arn
      )
    ])
    error_message = "Every target needs the retry policy and the core DLQ."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.this["exit-1"].arn == var.core.send_email_function_arn &&
      aws_cloudwatch_event_target.this["exit-1"].role_arn == null &&
      aws_cloudwatch_event_target.this["exit-1"].input_transformer[0].input_paths == tomap({ email = "$.detail.email" }) &&
      jsondecode(replace(aws_cloudwatch_event_target.this["exit-1"].input_transformer[0].input_template, "<email>", "\"ada@acme.test\"")) == {
        action      = "exit"
        sequence_id = "onboarding"
        subscriber  = { email = "ada@acme.test" }
      } &&
      jsondecode(aws_cloudwatch_event_rule.this["exit-1"].event_pattern) == { "detail-type" = ["user.deleted"] }
    )
    error_message = "An exit_on rule sends {action: exit, sequence_id, subscriber{email}} to send-email."
  }

  assert {
    condition = (
      keys(aws_lambda_permission.events) == ["exit-1"] &&
      aws_lambda_permission.events["exit-1"].source_arn == aws_cloudwatch_event_rule.this["exit-1"].arn &&
      aws_lambda_permission.events["exit-1"].principal == "events.amazonaws.com" &&
      aws_lambda_permission.events["exit-1"].statement_id == "mailstep-onboarding-exit-1"
    )
    error_message = "Each rule that targets send-email needs its own permission, scoped to that rule."
  }

  # IAM: what each role may do (the policy JSON is mocked; its statements are not).
  assert {
    condition = (
      [for s in data.aws_iam_policy_document.state_machine.statement : s.sid] == ["DeliverLogs", "InvokeFunctions"] &&
      [for s in data.aws_iam_policy_document.state_machine.statement : s.resources if s.sid == "InvokeFunctions"][0] == toset([var.core.send_email_function_arn, var.core.check_condition_function_arn])
    )
    error_message = "The state machine role may invoke send-email and (with condition steps) check-condition."
  }

  assert {
    condition = (
      [for s in data.aws_iam_policy_document.events.statement : s.actions] == [toset(["states:StartExecution"])] &&
      [for s in data.aws_iam_policy_document.events.statement : s.resources] == [toset([aws_sfn_state_machine.this.arn])]
    )
    error_message = "EventBridge's role may start this state machine only."
  }

  assert {
    condition     = aws_iam_role.state_machine.name == "mailstep-onboarding-sfn" && aws_iam_role.events.name == "mailstep-onboarding-events"
    error_message = "Role names follow <name>-sfn and <name>-events."
  }

  assert {
    condition     = aws_sfn_state_machine.this.tags == tomap({ application = "mailstep", sequence = "onboarding" })
    error_message = "Resources carry the core tags plus sequence = <id>."
  }
}

run "trial_expiring" {
  variables {
    definition = yamldecode(file("../../sequences/trial-expiring.yaml"))
  }

  assert {
    condition = output.rule_names == {
      trigger                = "mailstep-trial-expiring-trigger"
      "exit-1"               = "mailstep-trial-expiring-exit-1"
      "exit-2"               = "mailstep-trial-expiring-exit-2"
      "event-payment-failed" = "mailstep-trial-expiring-event-payment-failed"
    }
    error_message = "Unexpected rule names: ${jsonencode(output.rule_names)}"
  }

  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_rule.this["exit-2"].event_pattern) == { "detail-type" = ["email.replied"], source = ["mailstep"] } &&
      aws_cloudwatch_event_target.this["exit-2"].input_transformer[0].input_paths == tomap({ email = "$.detail.email" })
    )
    error_message = "A reply (mailstep's email.replied) ends the subscriber's trial run."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["trigger"].event_pattern) == { "detail-type" = ["trial.started"], source = ["acme.app"] }
    error_message = "A trigger source becomes a source filter."
  }

  assert {
    condition     = aws_cloudwatch_event_target.this["trigger"].input_transformer[0].input_paths.event_id == "$.detail.eventId"
    error_message = "dedupe_key replaces the EventBridge event id as the run's event_id."
  }

  # The fire-and-forget payload, with the placeholders filled as EventBridge would.
  assert {
    condition = jsondecode(replace(replace(replace(replace(
      aws_cloudwatch_event_target.this["event-payment-failed"].input_transformer[0].input_template,
      "<event_id>", "\"evt-1\""), "<email>", "\"ada@acme.test\""), "<first_name>", "\"Ada\""), "<attributes>", "{\"plan\":\"pro\"}")
      ) == {
      action        = "fire_and_forget"
      sequence_id   = "trial-expiring"
      step_id       = "payment-failed"
      template      = "trial-expiring/payment-failed"
      subject       = "Your payment did not go through"
      sender        = { from = "Acme Billing <billing@acme.test>", reply_to = "support@acme.test" }
      transactional = false
      event_id      = "evt-1"
      subscriber    = { email = "ada@acme.test", first_name = "Ada", attributes = { plan = "pro" } }
    }
    error_message = "The fire-and-forget payload does not match the runtime contract."
  }

  # "<" and ">" cannot be escaped in an input template: every <...> in it must be
  # a placeholder; the sender's angle brackets travel as \u003c / \u003e.
  assert {
    condition = alltrue([
      for k, t in aws_cloudwatch_event_target.this : alltrue([
        for m in regexall("<([^<>]*)>", t.input_transformer[0].input_template) : contains(keys(t.input_transformer[0].input_paths), m[0])
      ])
    ])
    error_message = "An input template holds a <...> that is not a placeholder."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_event_target.this["event-payment-failed"].input_transformer[0].input_template, "Acme Billing \\u003cbilling@acme.test\\u003e")
    error_message = "Constants with angle brackets must be JSON-escaped (\\u003c...\\u003e)."
  }

  assert {
    condition     = !strcontains(join("", [for t in aws_cloudwatch_event_target.this : t.input_transformer[0].input_template]), "\\u0000")
    error_message = "A placeholder sentinel was left in a template."
  }

  assert {
    condition     = [for s in data.aws_iam_policy_document.state_machine.statement : s.resources if s.sid == "InvokeFunctions"][0] == toset([var.core.send_email_function_arn])
    error_message = "Without condition steps the role must not be allowed to invoke check-condition."
  }

  assert {
    condition     = length(setsubtract(keys(aws_lambda_permission.events), ["exit-1", "exit-2", "event-payment-failed"])) == 0 && length(aws_lambda_permission.events) == 3
    error_message = "The exit and event rules each need a permission; the trigger (a state machine target) none."
  }
}

run "long_names" {
  variables {
    core = merge(var.core, { name_prefix = "a-rather-long-prefix-of-32-chars", template_keys = null })
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), {
      id      = "an-id-that-is-exactly-forty-chars-long-x"
      trigger = { detail_type = "user.signed_up", source = ["acme.app", "acme.web"] }
      exit_on = [{ detail_type = "user.deleted" }, { detail_type = "user.upgraded", email = "$.detail.user.email" }]
      events = [
        # the same detail-type as the trigger: a separate rule that also fires
        { id = "welcome-gift-for-everyone-who-signed-up", detail_type = "user.signed_up", template = "minimal/gift", subject = "A gift" },
        { id = "welcome-gift-for-everyone-who-signed-u2", detail_type = "user.signed_up", template = "minimal/gift", subject = "A gift", subscriber = { email = "$.detail.owner" } },
      ]
    })
  }

  assert {
    condition     = alltrue([for n in values(output.rule_names) : length(n) <= 64 && startswith(n, "a-rather-long-prefix-of-32-chars-")])
    error_message = "Rule names must fit 64 characters and keep the <name_prefix>- start: ${jsonencode(output.rule_names)}"
  }

  assert {
    condition     = length(distinct(values(output.rule_names))) == 5
    error_message = "Five rules with five distinct names: ${jsonencode(output.rule_names)}"
  }

  assert {
    condition     = length(aws_iam_role.state_machine.name) <= 64 && length(aws_iam_role.events.name) <= 64 && aws_iam_role.state_machine.name != aws_iam_role.events.name
    error_message = "Role names must fit 64 characters and differ."
  }

  assert {
    condition     = length(aws_sfn_state_machine.this.name) <= 80 && aws_sfn_state_machine.this.name == "a-rather-long-prefix-of-32-chars-an-id-that-is-exactly-forty-chars-long-x"
    error_message = "The state machine keeps its full <name_prefix>-<id> name (at most 80 characters)."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["trigger"].event_pattern).source == ["acme.app", "acme.web"]
    error_message = "A list of sources becomes the source filter."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.this["exit-2"].input_transformer[0].input_paths == tomap({ email = "$.detail.user.email" }) &&
      aws_cloudwatch_event_target.this["event-welcome-gift-for-everyone-who-signed-u2"].input_transformer[0].input_paths.email == "$.detail.owner" &&
      aws_cloudwatch_event_target.this["event-welcome-gift-for-everyone-who-signed-up"].input_transformer[0].input_paths.email == "$.detail.email"
    )
    error_message = "exit_on email and event subscriber mappings override the trigger's mapping; otherwise it applies."
  }

  assert {
    condition     = jsondecode(replace(aws_cloudwatch_event_target.this["exit-1"].input_transformer[0].input_template, "<email>", "\"a@b.c\"")).sequence_id == "an-id-that-is-exactly-forty-chars-long-x"
    error_message = "Exit payloads name the sequence."
  }
}

run "missing_template" {
  command = plan

  variables {
    definition = merge(yamldecode(file("../../sequences/onboarding.yaml")), {
      events = [{ id = "gift", detail_type = "gift.sent", template = "onboarding/gift", subject = "A gift" }]
    })
  }

  # onboarding/gift.html does not exist under templates/.
  expect_failures = [aws_sfn_state_machine.this]
}

run "template_check_skipped_without_template_keys" {
  variables {
    core       = merge(var.core, { template_keys = null })
    definition = yamldecode(file("tests/fixtures/minimal.yaml")) # minimal/* templates do not exist
  }

  assert {
    condition     = aws_sfn_state_machine.this.name == "mailstep-minimal"
    error_message = "Without template_keys the template check is skipped."
  }
}
