# Alarms an operator needs from the core. State machine alarms belong to each
# sequence module (it knows its state machine); they reuse alarm_topic_arn via the
# `core` output.

locals {
  dlqs = {
    events    = { name = aws_sqs_queue.events_dlq.name, holds = "an event or invocation that failed every retry" }
    lambda    = { name = aws_sqs_queue.lambda_dlq.name, holds = "an event or invocation that failed every retry" }
    broadcast = { name = aws_sqs_queue.broadcast_dlq.name, holds = "a broadcast recipient whose email failed 5 attempts" }
  }
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = local.dlqs

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-not-empty"
  alarm_description   = "mailstep: messages in ${each.value.name}; each one is ${each.value.holds}. Inspect and redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "mailstep: ${var.name_prefix}-${each.key} raised errors; see its log group ${aws_cloudwatch_log_group.function[each.key].name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  tags = local.tags
}
