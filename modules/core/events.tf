# The custom bus apps publish to, the dead-letter queues, and the cleanup rule.

resource "aws_cloudwatch_event_bus" "this" {
  name = "${var.name_prefix}-bus"

  tags = local.tags
}

# Events EventBridge could not deliver to a target (this module's cleanup rule and
# every rule of the sequence modules) after its retries.
# The policy is set inline (ARN built from the name): a separate
# aws_sqs_queue_policy would wait another ~25 s for attribute propagation.
resource "aws_sqs_queue" "events_dlq" {
  name                      = local.events_dlq_name
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true
  policy                    = data.aws_iam_policy_document.events_dlq.json

  tags = local.tags
}

data "aws_iam_policy_document" "events_dlq" {
  statement {
    sid       = "AllowEventBridgeRulesOfThisStack"
    actions   = ["sqs:SendMessage"]
    resources = [local.events_dlq_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    # Rules on the default bus (rule/<name>) and on ours (rule/<bus>/<name>),
    # all named <name_prefix>-...
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values = [
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name_prefix}-*",
        "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${aws_cloudwatch_event_bus.this.name}/${var.name_prefix}-*",
      ]
    }
  }
}

# Asynchronous Lambda invocations (EventBridge, SNS) that failed every retry.
resource "aws_sqs_queue" "lambda_dlq" {
  name                      = local.lambda_dlq_name
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true

  tags = local.tags
}

# Cleanup of runs that end abnormally (runtime contract): Step Functions publishes
# status changes to the DEFAULT bus; send-email deletes the run's rows.
resource "aws_cloudwatch_event_rule" "cleanup" {
  name        = "${var.name_prefix}-cleanup"
  description = "mailstep: clean up executions of ${var.name_prefix}-* state machines that failed, timed out or were aborted"

  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = [{ prefix = local.state_machine_arn_prefix }]
    }
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "cleanup" {
  rule      = aws_cloudwatch_event_rule.cleanup.name
  target_id = "send-email"
  arn       = aws_lambda_function.this["send-email"].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 8
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }
}

resource "aws_lambda_permission" "cleanup" {
  statement_id  = "AllowCleanupRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["send-email"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.cleanup.arn
}

# Profile, attribute and tag upserts (runtime contract). Only events from apps: the
# anything-but filter keeps mailstep's own events (source `mailstep`) out, so a
# handler publishing on this bus can never loop through this rule.
resource "aws_cloudwatch_event_rule" "subscribe" {
  name           = "${var.name_prefix}-subscribe"
  description    = "mailstep: upsert subscriber profiles and tags from subscriber.subscribed/updated"
  event_bus_name = aws_cloudwatch_event_bus.this.name

  event_pattern = jsonencode({
    source        = [{ "anything-but" = "mailstep" }]
    "detail-type" = ["subscriber.subscribed", "subscriber.updated"]
  })

  tags = local.tags
}

resource "aws_cloudwatch_event_target" "subscribe" {
  rule           = aws_cloudwatch_event_rule.subscribe.name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = "subscribe"
  arn            = aws_lambda_function.this["subscribe"].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 8
  }

  dead_letter_config {
    arn = aws_sqs_queue.events_dlq.arn
  }
}

resource "aws_lambda_permission" "subscribe" {
  statement_id  = "AllowSubscribeRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["subscribe"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.subscribe.arn
}
