# The rendered ASL (modules/asl, no provider): states, names, retries, catches,
# Choice guards and types, for both example sequences. Run from modules/sequence:
#   ../../scripts/tf.sh -chdir=. test   (or: terraform init && terraform test)

variables {
  send_email_function_arn      = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-send-email"
  check_condition_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-check-condition"
}

run "onboarding" {
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = yamldecode(file("../../sequences/onboarding.yaml"))
  }

  assert {
    condition = toset(keys(jsondecode(output.definition).States)) == toset([
      "Register", "Registered?", "Skipped", "Complete", "Done", "Cleanup", "Failed",
      "welcome", "wait-2", "has-team", "has-team?", "invite-team", "team-tips", "check-in-wait", "check-in",
    ])
    error_message = "Unexpected states: ${jsonencode(keys(jsondecode(output.definition).States))}"
  }

  assert {
    condition     = output.step_ids == ["welcome", "wait-2", "has-team", "invite-team", "team-tips", "check-in-wait", "check-in"]
    error_message = "The wait without an id must be called wait-2 (its 1-based position)."
  }

  assert {
    condition     = jsondecode(output.definition).StartAt == "Register" && jsondecode(output.definition).States["Registered?"].Choices[0].Next == "welcome" && jsondecode(output.definition).States["Registered?"].Default == "Skipped"
    error_message = "Register must lead to the first step when registered and to Skipped otherwise."
  }

  assert {
    condition     = jsondecode(output.definition).TimeoutSeconds == 30 * 86400
    error_message = "TimeoutSeconds must be timeout_days * 86400."
  }

  # Order and explicit jumps: the flat list becomes this graph.
  assert {
    condition = (
      jsondecode(output.definition).States["welcome"].Next == "wait-2" &&
      jsondecode(output.definition).States["wait-2"].Seconds == 2 * 86400 &&
      jsondecode(output.definition).States["wait-2"].Next == "has-team" &&
      jsondecode(output.definition).States["has-team"].Next == "has-team?" &&
      jsondecode(output.definition).States["has-team?"].Choices[0].Next == "team-tips" &&
      jsondecode(output.definition).States["has-team?"].Default == "invite-team" &&
      jsondecode(output.definition).States["invite-team"].Next == "check-in-wait" &&
      jsondecode(output.definition).States["team-tips"].Next == "check-in-wait" &&
      jsondecode(output.definition).States["check-in"].Next == "Complete" &&
      jsondecode(output.definition).States["Complete"].Next == "Done"
    )
    error_message = "The step graph does not follow the file's order and jumps."
  }

  assert {
    condition = alltrue([
      for name, s in jsondecode(output.definition).States : (
        length(s.Retry) >= 1 &&
        s.Retry[0].ErrorEquals == ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"] &&
        s.Retry[0].IntervalSeconds == 2 && s.Retry[0].MaxAttempts == 6 && s.Retry[0].BackoffRate == 2 &&
        length(s.Catch) == 1 && s.Catch[0].ErrorEquals == ["States.ALL"] &&
        s.Catch[0].Next == (name == "Cleanup" ? "Failed" : "Cleanup")
      ) if s.Type == "Task"
    ])
    error_message = "Every Task needs the Lambda Retry (2 s, x2, 6 tries) and a Catch of States.ALL to Cleanup (Cleanup: to Failed)."
  }

  assert {
    condition     = jsondecode(output.definition).States.Failed.Type == "Fail" && jsondecode(output.definition).States.Cleanup.Next == "Failed" && jsondecode(output.definition).States.Cleanup.Parameters.action == "complete"
    error_message = "Cleanup must remove the run's rows (action complete) and then fail the run."
  }

  assert {
    condition = alltrue(flatten([
      for name, s in jsondecode(output.definition).States : [
        for rule in s.Choices : try(rule.And[0].IsPresent == true && alltrue([for r in rule.And : r.Variable == rule.And[0].Variable]), false)
      ] if s.Type == "Choice"
    ]))
    error_message = "Every Choice rule must start with an IsPresent guard on the variable it compares."
  }

  assert {
    condition = (
      jsondecode(output.definition).States.Register.Parameters.transactional == false &&
      jsondecode(output.definition).States.welcome.Parameters.transactional == false &&
      jsondecode(output.definition).States["has-team?"].Choices[0].And[2].BooleanEquals == true
    )
    error_message = "Booleans must render as JSON booleans, not strings."
  }

  assert {
    condition = (
      jsondecode(output.definition).States.Register.Parameters == {
        action            = "register"
        sequence_id       = "onboarding"
        reentry           = "ignore_while_active"
        transactional     = false
        "event_id.$"      = "$.event_id"
        "execution_arn.$" = "$$.Execution.Id"
        "subscriber.$"    = "$.subscriber"
      } &&
      jsondecode(output.definition).States.Register.ResultPath == "$.registration"
    )
    error_message = "Register's payload does not match docs/runtime-contract.md."
  }

  assert {
    condition = (
      jsondecode(output.definition).States.welcome.Parameters.sender == { from = "Acme <hello@acme.test>", reply_to = "support@acme.test" } &&
      jsondecode(output.definition).States.welcome.Parameters.template == "onboarding/welcome" &&
      jsondecode(output.definition).States.welcome.Parameters.step_id == "welcome" &&
      jsondecode(output.definition).States.welcome.Parameters["execution_arn.$"] == "$$.Execution.Id" &&
      jsondecode(output.definition).States.welcome.Resource == var.send_email_function_arn &&
      !contains(keys(jsondecode(output.definition).States.welcome.Parameters), "variants")
    )
    error_message = "A send step's payload does not match the runtime contract."
  }

  assert {
    condition = (
      jsondecode(output.definition).States["has-team"].Resource == var.check_condition_function_arn &&
      jsondecode(output.definition).States["has-team"].Parameters == { check = "field_exists", field = "team_name", subscriber = { "email.$" = "$.subscriber.email" } } &&
      jsondecode(output.definition).States["has-team"].ResultPath == "$.condition"
    )
    error_message = "A condition step must call check-condition with check/field and the subscriber's email."
  }
}

run "trial_expiring" {
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = yamldecode(file("../../sequences/trial-expiring.yaml"))
  }

  assert {
    condition = toset(keys(jsondecode(output.definition).States)) == toset([
      "Register", "Registered?", "Skipped", "Complete", "Done", "Cleanup", "Failed",
      "trial-welcome", "wait-2", "plan", "pro-tips", "nudge", "ending-wait", "last-day",
    ])
    error_message = "Unexpected states: ${jsonencode(keys(jsondecode(output.definition).States))}"
  }

  assert {
    condition = (
      jsondecode(output.definition).States.plan.Type == "Choice" &&
      length(jsondecode(output.definition).States.plan.Choices) == 2 &&
      jsondecode(output.definition).States.plan.Choices[0].And == [
        { Variable = "$.subscriber.attributes.plan", IsPresent = true },
        { Variable = "$.subscriber.attributes.plan", IsString = true },
        { Variable = "$.subscriber.attributes.plan", StringEquals = "pro" },
      ] &&
      jsondecode(output.definition).States.plan.Choices[1].Next == "pro-tips" &&
      jsondecode(output.definition).States.plan.Default == "nudge"
    )
    error_message = "A choice step must compare the attribute behind IsPresent + IsString guards and default to `default`."
  }

  assert {
    condition = (
      jsondecode(output.definition).States.nudge.Parameters.variants == [
        { name = "a", template = "trial-expiring/nudge-a", subject = "Your trial ends in a week" },
        { name = "b", template = "trial-expiring/nudge-b", subject = "7 days left, {{ first_name | default: 'friend' }}: here is what you would lose" },
      ] &&
      !contains(keys(jsondecode(output.definition).States.nudge.Parameters), "template") &&
      !contains(keys(jsondecode(output.definition).States.nudge.Parameters), "subject")
    )
    error_message = "A variants send step must carry variants only (no template/subject)."
  }

  assert {
    condition = (
      jsondecode(output.definition).States["pro-tips"].Next == "ending-wait" &&
      jsondecode(output.definition).States.nudge.Next == "ending-wait" &&
      jsondecode(output.definition).States["last-day"].Next == "Complete" &&
      jsondecode(output.definition).States.Register.Parameters.reentry == "once" &&
      jsondecode(output.definition).TimeoutSeconds == 21 * 86400
    )
    error_message = "Jumps, reentry or timeout do not follow the file."
  }

  assert {
    condition = alltrue([
      for name, s in jsondecode(output.definition).States : length(s.Retry) >= 1 && s.Catch[0].ErrorEquals == ["States.ALL"] if s.Type == "Task"
    ])
    error_message = "Every Task needs Retry and Catch."
  }
}

run "transactional_booleans" {
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), {
      transactional = true
      sender        = { from = "hello@acme.test" }
      steps = [
        { id = "vip", type = "choice", field = "first_name", choices = [{ value = "Ada", next = "hello" }], default = "end" },
        { id = "hello", type = "send", template = "minimal/hello", subject = "Say \"hi\" <now> & later", next = "end" },
      ]
    })
  }

  assert {
    condition = (
      jsondecode(output.definition).States.Register.Parameters.transactional == true &&
      jsondecode(output.definition).States.hello.Parameters.transactional == true
    )
    error_message = "transactional must render as the JSON boolean true."
  }

  assert {
    condition     = jsondecode(output.definition).States.hello.Parameters.sender == { from = "hello@acme.test" }
    error_message = "A sender without reply_to must not carry a reply_to key."
  }

  assert {
    condition     = jsondecode(output.definition).States.hello.Parameters.subject == "Say \"hi\" <now> & later"
    error_message = "Subjects must survive JSON encoding unchanged."
  }

  assert {
    condition     = jsondecode(output.definition).States.hello.Next == "Complete" && jsondecode(output.definition).States.vip.Default == "Complete"
    error_message = "`end` must lead to Complete."
  }

  assert {
    condition     = jsondecode(output.definition).States.vip.Choices[0].And[0].Variable == "$.subscriber.first_name"
    error_message = "A choice on first_name must read $.subscriber.first_name."
  }

  assert {
    condition     = jsondecode(output.definition).TimeoutSeconds == 90 * 86400
    error_message = "timeout_days defaults to 90."
  }
}

# --- reachability (output precondition) -------------------------------------------

run "unreachable_step" {
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), {
      steps = [
        { id = "hello", type = "send", template = "minimal/hello", subject = "Hello", next = "end" },
        { id = "orphan", type = "send", template = "minimal/bye", subject = "Bye" },
      ]
    })
  }

  expect_failures = [output.definition]
}

run "backward_jump_is_fine" {
  command = plan

  module {
    source = "./modules/asl"
  }

  variables {
    definition = merge(yamldecode(file("tests/fixtures/minimal.yaml")), {
      steps = [
        { id = "hello", type = "send", template = "minimal/hello", subject = "Hello", next = "later" },
        { id = "again", type = "send", template = "minimal/bye", subject = "Bye", next = "end" },
        { id = "later", type = "wait", days = 1 },
        { id = "check", type = "condition", check = "has_been_sent", template = "minimal/bye", then = "end", else = "again" },
      ]
    })
  }

  assert {
    condition = (
      jsondecode(output.definition).States.later.Next == "check" &&
      jsondecode(output.definition).States["check?"].Default == "again" &&
      jsondecode(output.definition).States["check?"].Choices[0].Next == "Complete" &&
      jsondecode(output.definition).States.check.Parameters == { check = "has_been_sent", template = "minimal/bye", subscriber = { "email.$" = "$.subscriber.email" } }
    )
    error_message = "Jumps forward and back must render as written."
  }
}
