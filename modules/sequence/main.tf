# One lifecycle sequence: its state machine (ASL rendered by modules/asl), the
# rules that start, exit and fire-and-forget it on the core bus, and its roles.
# One file per concern: events.tf (rules, targets), iam.tf, logs.tf.

module "asl" {
  source = "./modules/asl"

  definition                   = var.definition
  name_prefix                  = var.core.name_prefix
  send_email_function_arn      = var.core.send_email_function_arn
  check_condition_function_arn = var.core.check_condition_function_arn
}

locals {
  d = var.definition

  # Runtime contract: state machines are named <name_prefix>-<sequence_id>; the
  # functions may stop executions of <name_prefix>-* only.
  name = "${var.core.name_prefix}-${local.d.id}"
  tags = merge(var.core.tags, { sequence = local.d.id })

  state_machine_arn = "arn:${var.core.partition}:states:${var.core.region}:${var.core.account_id}:stateMachine:${local.name}"

  # Rule and role names are capped at 64 characters. A longer name keeps its
  # first 55 characters plus a hash of the whole name, so two long names never
  # collide and the <name_prefix>- start (which the core DLQ policy matches) stays.
  long_names = merge(
    { for k, r in local.rules : "rule/${k}" => "${local.name}-${k}" },
    { "role/state-machine" = "${local.name}-sfn", "role/events" = "${local.name}-events" },
  )
  names = { for k, n in local.long_names : k => length(n) <= 64 ? n : "${substr(n, 0, 55)}-${substr(sha256(n), 0, 8)}" }

  # Templates the sequence names that the core did not upload (send would fail
  # at run time with "template not found"; say so at plan time instead).
  referenced_templates = distinct(concat(
    [for s in local.d.steps : s.template if s.template != null],
    flatten([for s in local.d.steps : [for v in coalesce(s.variants, []) : v.template]]),
    [for e in local.d.events : e.template],
  ))
  missing_templates = var.core.template_keys == null ? [] : [
    for t in local.referenced_templates : t
    if !contains(var.core.template_keys, "${t}.html") && !contains(var.core.template_keys, t)
  ]
}

resource "aws_sfn_state_machine" "this" {
  name       = local.name
  role_arn   = aws_iam_role.state_machine.arn
  definition = module.asl.definition
  type       = "STANDARD"

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.this.arn}:*"
    include_execution_data = false # inputs carry subscriber data (PII)
    level                  = "ERROR"
  }

  tags = local.tags

  # Step Functions checks at creation that the role may deliver logs.
  depends_on = [aws_iam_role_policy.state_machine]

  lifecycle {
    precondition {
      condition     = length(local.missing_templates) == 0
      error_message = "Sequence ${local.d.id} names templates that are not under templates/: ${join(", ", [for t in local.missing_templates : "${t} (expected templates/${t}.html)"])}."
    }
  }
}
