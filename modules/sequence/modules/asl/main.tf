# Renders one sequence as Amazon States Language. Flow (DESIGN 3, 4.3):
#
#   Register ─▶ Registered? ─┬─ registered ─▶ steps in file order ─▶ Complete ─▶ Done
#                            └─ otherwise ──▶ Skipped (Succeed)
#   any Task ──Catch States.ALL──▶ Cleanup (complete) ─▶ Failed (Fail)
#
# Steps are a flat list (schema.json): a step without `next` runs the one after
# it, the last one runs Complete, and `end` means Complete. Step states are
# built here per type; the fixed states and the document are in
# definition.asl.json.tftpl.

locals {
  d = var.definition

  # Waits may omit their id: wait-<1-based position> is stable as long as the
  # step stays where it is.
  steps = [for i, s in local.d.steps : merge(s, { id = coalesce(s.id, "wait-${i + 1}") })]
  ids   = [for s in local.steps : s.id]

  # Where a jump target leads: a step's own state, or Complete for `end`.
  state_for = merge({ for id in local.ids : id => id }, { end = "Complete" })

  # Where a step goes when it names no `next`.
  fallthrough = {
    for i, s in local.steps : s.id => (i + 1 < length(local.steps) ? local.steps[i + 1].id : "end")
  }
  next_of = { for s in local.steps : s.id => lookup(local.state_for, coalesce(s.next, local.fallthrough[s.id]), "Complete") }

  # STYLE: every Lambda Task retries the transient Lambda errors (2 s, x2, 6
  # tries) and catches everything else into the cleanup path. A second retrier covers
  # throttling and outages of the services the handlers call (SES, DynamoDB, SSM, S3)
  # that outlast botocore's own retries: the handler's error type is the exception's
  # name. Retrying is safe: a step's send claim is released only when SES refused it.
  lambda_retry = [
    {
      ErrorEquals = [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
      ]
      IntervalSeconds = 2
      MaxAttempts     = 6
      BackoffRate     = 2
    },
    {
      ErrorEquals = [
        "ThrottlingException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
      ]
      IntervalSeconds = 5
      MaxAttempts     = 4
      BackoffRate     = 3
    },
  ]
  catch_to_cleanup = [{ ErrorEquals = ["States.ALL"], ResultPath = "$.error", Next = "Cleanup" }]

  sender = merge(
    { from = local.d.sender.from },
    local.d.sender.reply_to == null ? {} : { reply_to = local.d.sender.reply_to },
  )

  # A Choice rule that is false, never a runtime error, when the value is
  # missing or of another type (mailshot defect J).
  guarded = {
    for s in local.steps : s.id => (s.field == "first_name" ? "$.subscriber.first_name" : "$.subscriber.attributes.${coalesce(s.field, "_")}")
    if s.type == "choice"
  }

  send_states = {
    for s in local.steps : s.id => {
      Type     = "Task"
      Comment  = "send: ${s.variants == null ? coalesce(s.template, "?") : join(" | ", [for v in s.variants : v.template])}"
      Resource = var.send_email_function_arn
      Parameters = merge(
        {
          action            = "send"
          sequence_id       = local.d.id
          step_id           = s.id
          "execution_arn.$" = "$$.Execution.Id"
          "subscriber.$"    = "$.subscriber"
          sender            = local.sender
          transactional     = local.d.transactional
        },
        s.variants == null ? { template = s.template, subject = s.subject } : {},
        s.variants == null ? {} : { variants = [for v in s.variants : { name = v.name, template = v.template, subject = v.subject }] },
      )
      ResultPath = "$.last_send"
      Retry      = local.lambda_retry
      Catch      = local.catch_to_cleanup
      Next       = local.next_of[s.id]
    } if s.type == "send"
  }

  wait_states = {
    for s in local.steps : s.id => {
      Type    = "Wait"
      Seconds = (s.days == null ? 0 : s.days) * 86400 + (s.hours == null ? 0 : s.hours) * 3600 + (s.minutes == null ? 0 : s.minutes) * 60
      Next    = local.next_of[s.id]
    } if s.type == "wait"
  }

  condition_task_states = {
    for s in local.steps : s.id => {
      Type     = "Task"
      Comment  = "condition: ${coalesce(s.check, "?")}"
      Resource = var.check_condition_function_arn
      Parameters = merge(
        { check = s.check, subscriber = { "email.$" = "$.subscriber.email" } },
        s.field == null ? {} : { field = s.field },
        s.value == null ? {} : { value = s.value },
        s.template == null ? {} : { template = s.template },
      )
      ResultPath = "$.condition"
      Retry      = local.lambda_retry
      Catch      = local.catch_to_cleanup
      Next       = "${s.id}?"
    } if s.type == "condition"
  }

  condition_choice_states = {
    for s in local.steps : "${s.id}?" => {
      Type = "Choice"
      Choices = [{
        And = [
          { Variable = "$.condition.result", IsPresent = true },
          { Variable = "$.condition.result", IsBoolean = true },
          { Variable = "$.condition.result", BooleanEquals = true },
        ]
        Next = lookup(local.state_for, coalesce(s.then, "end"), "Complete")
      }]
      Default = lookup(local.state_for, coalesce(s.else, "end"), "Complete")
    } if s.type == "condition"
  }

  choice_states = {
    for s in local.steps : s.id => {
      Type = "Choice"
      Choices = [
        for c in coalesce(s.choices, []) : {
          And = [
            { Variable = local.guarded[s.id], IsPresent = true },
            { Variable = local.guarded[s.id], IsString = true },
            { Variable = local.guarded[s.id], StringEquals = c.value },
          ]
          Next = lookup(local.state_for, c.next, "Complete")
        }
      ]
      Default = lookup(local.state_for, coalesce(s.default, "end"), "Complete")
    } if s.type == "choice"
  }

  definition = templatefile("${path.module}/definition.asl.json.tftpl", {
    comment                 = "mailstep sequence ${local.d.id}${local.d.description == null ? "" : ": ${local.d.description}"}"
    sequence_id             = local.d.id
    transactional           = local.d.transactional
    reentry                 = local.d.reentry
    timeout_seconds         = local.d.timeout_days * 86400
    first_state             = local.ids[0]
    send_email_function_arn = var.send_email_function_arn
    retry                   = local.lambda_retry
    catch                   = local.catch_to_cleanup
    step_states             = merge(local.send_states, local.wait_states, local.condition_task_states, local.condition_choice_states, local.choice_states)
  })

  # --- reachability --------------------------------------------------------------
  # Step Functions rejects states nothing leads to; say which step at plan time.
  # No recursion in HCL: transitive closure by repeated squaring, 7 rounds cover
  # paths of up to 128 steps (the schema allows 100).
  edges = {
    for s in local.steps : s.id => [
      for t in concat(
        s.type == "send" || s.type == "wait" ? [coalesce(s.next, local.fallthrough[s.id])] : [],
        s.type == "condition" ? compact([s.then, s.else]) : [],
        s.type == "choice" ? concat([for c in coalesce(s.choices, []) : c.next], compact([s.default])) : [],
      ) : t if contains(local.ids, t)
    ]
  }
  reach_0 = { for id, next in local.edges : id => distinct(concat([id], next)) }
  reach_1 = { for id, r in local.reach_0 : id => distinct(flatten([for x in r : local.reach_0[x]])) }
  reach_2 = { for id, r in local.reach_1 : id => distinct(flatten([for x in r : local.reach_1[x]])) }
  reach_3 = { for id, r in local.reach_2 : id => distinct(flatten([for x in r : local.reach_2[x]])) }
  reach_4 = { for id, r in local.reach_3 : id => distinct(flatten([for x in r : local.reach_3[x]])) }
  reach_5 = { for id, r in local.reach_4 : id => distinct(flatten([for x in r : local.reach_4[x]])) }
  reach_6 = { for id, r in local.reach_5 : id => distinct(flatten([for x in r : local.reach_5[x]])) }
  reach_7 = { for id, r in local.reach_6 : id => distinct(flatten([for x in r : local.reach_6[x]])) }

  unreachable_steps = [for id in local.ids : id if !contains(local.reach_7[local.ids[0]], id)]
}
