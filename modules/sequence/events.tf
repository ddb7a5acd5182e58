# Rules on the core bus: the trigger (starts a run), exit_on (ends one) and
# fire-and-forget events (one email, tracked under this sequence). Every target
# retries for 24 h and then lands in the core dead-letter queue.

locals {
  trigger_mapping = local.d.trigger.subscriber

  sender = merge(
    { from = local.d.sender.from },
    local.d.sender.reply_to == null ? {} : { reply_to = local.d.sender.reply_to },
  )

  # Input templates are JSON with <name> placeholders, and EventBridge offers no
  # way to escape "<" or ">" (a literal "Acme <hello@acme.test>" would be read as
  # a placeholder). So each payload is written with jsonencode, which turns
  # "<", ">" and "&" inside constants into \u003c, \u003e and \u0026 (and quotes
  # into \"), with sentinel strings where values come from the event; the
  # sentinels ("\u0000name\u0000", which no constant can spell) then become bare
  # <name> placeholders. The target parses the JSON and sees the original text.
  placeholder          = { for k in ["event_id", "email", "first_name", "attributes"] : k => "\u0000${k}\u0000" }
  placeholder_sentinel = "/\"\\\\u0000([a-z_]+)\\\\u0000\"/"

  subscriber_placeholders = {
    email      = local.placeholder.email
    first_name = local.placeholder.first_name
    attributes = local.placeholder.attributes
  }

  rules = merge(
    {
      trigger = {
        description = "mailstep ${local.d.id}: start a run on ${local.d.trigger.detail_type}"
        detail_type = local.d.trigger.detail_type
        source      = local.d.trigger.source
        target      = "state-machine"
        input_paths = {
          event_id   = coalesce(local.d.trigger.dedupe_key, "$.id")
          email      = local.trigger_mapping.email
          first_name = local.trigger_mapping.first_name
          attributes = local.trigger_mapping.attributes
        }
        input = { event_id = local.placeholder.event_id, subscriber = local.subscriber_placeholders }
      }
    },
    {
      for i, x in local.d.exit_on : "exit-${i + 1}" => {
        description = "mailstep ${local.d.id}: end the subscriber's run on ${x.detail_type}"
        detail_type = x.detail_type
        source      = x.source
        target      = "send-email"
        input_paths = { email = coalesce(x.email, local.trigger_mapping.email) }
        input       = { action = "exit", sequence_id = local.d.id, subscriber = { email = local.placeholder.email } }
      }
    },
    {
      for e in local.d.events : "event-${e.id}" => {
        description = "mailstep ${local.d.id}: send ${e.template} on ${e.detail_type}"
        detail_type = e.detail_type
        source      = e.source
        target      = "send-email"
        input_paths = {
          event_id   = "$.id"
          email      = coalesce(e.subscriber, local.trigger_mapping).email
          first_name = coalesce(e.subscriber, local.trigger_mapping).first_name
          attributes = coalesce(e.subscriber, local.trigger_mapping).attributes
        }
        input = {
          action        = "fire_and_forget"
          sequence_id   = local.d.id # tracked under this sequence (mailshot defect F)
          step_id       = e.id
          template      = e.template
          subject       = e.subject
          sender        = local.sender
          transactional = local.d.transactional
          event_id      = local.placeholder.event_id
          subscriber    = local.subscriber_placeholders
        }
      }
    },
  )

  # A trigger and an event with the same detail-type are different rules (their
  # names differ by construction), so both fire (mailshot defect N).
  rule_settings = {
    for k, r in local.rules : k => {
      description = r.description
      target      = r.target
      input_paths = r.input_paths
      pattern = jsonencode(merge(
        { "detail-type" = [r.detail_type] },
        r.source == null ? {} : { source = try(tolist(r.source), [r.source]) },
      ))
      input_template = replace(jsonencode(r.input), local.placeholder_sentinel, "<$1>")
    }
  }
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rule_settings

  name           = local.names["rule/${each.key}"]
  description    = each.value.description
  event_bus_name = var.core.event_bus_name
  event_pattern  = each.value.pattern

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = local.rule_settings

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = var.core.event_bus_name
  target_id      = each.value.target
  arn            = each.value.target == "state-machine" ? aws_sfn_state_machine.this.arn : var.core.send_email_function_arn
  role_arn       = each.value.target == "state-machine" ? aws_iam_role.events.arn : null

  input_transformer {
    input_paths    = each.value.input_paths
    input_template = each.value.input_template
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400 # 24 h, the maximum
    maximum_retry_attempts       = 185   # the maximum
  }

  dead_letter_config {
    arn = var.core.dlq_arn
  }
}

# EventBridge may invoke send-email for this sequence's exit and event rules,
# each permission scoped to its rule. Statement ids are the rule names, unique
# per bus, so permissions of different sequences never clash.
resource "aws_lambda_permission" "events" {
  for_each = { for k, r in local.rule_settings : k => r if r.target == "send-email" }

  statement_id  = local.names["rule/${each.key}"]
  action        = "lambda:InvokeFunction"
  function_name = var.core.send_email_function_arn
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this[each.key].arn
}
