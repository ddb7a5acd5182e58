# One role per function. `local.grants` says what each function does; the policy
# documents below turn that into statements scoped to this module's ARNs.

locals {
  table_read_write = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem", # TransactWriteItems checks these per item
  ]

  # What the broadcast functions add; the other functions get none of it.
  no_broadcast_grants = {
    broadcast_queue      = [] # actions on the broadcast queue
    broadcast_executions = false
  }

  grants = { for k, g in local.function_grants : k => merge(local.no_broadcast_grants, g) }

  # With broadcast_executions: start the broadcast state machine, stop and describe
  # its executions only.
  broadcast_execution_statements = {
    StartBroadcastExecutions  = { actions = ["states:StartExecution"], resources = [local.broadcast_state_machine_arn] }
    ManageBroadcastExecutions = { actions = ["states:StopExecution", "states:DescribeExecution"], resources = [local.broadcast_execution_arns] }
  }

  function_grants = merge({
    send-email = {
      main_table      = local.table_read_write
      events_table    = []
      read_templates  = true
      send_email      = true
      stop_executions = true
      parameters      = ["config", "unsubscribe_secret"]
      put_events      = true
    }
    check-condition = {
      main_table      = ["dynamodb:GetItem"]
      events_table    = []
      read_templates  = false
      send_email      = false
      stop_executions = false
      parameters      = []
      put_events      = false
    }
    unsubscribe = {
      main_table      = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"]
      events_table    = []
      read_templates  = false
      send_email      = false
      stop_executions = true
      parameters      = ["config", "unsubscribe_secret"]
      put_events      = true
    }
    bounce-handler = {
      main_table      = local.table_read_write
      events_table    = []
      read_templates  = false
      send_email      = false
      stop_executions = true
      parameters      = ["config"]
      put_events      = true
    }
    engagement-handler = {
      main_table      = ["dynamodb:UpdateItem"] # counters
      events_table    = ["dynamodb:PutItem"]
      read_templates  = false
      send_email      = false
      stop_executions = false
      parameters      = ["config"]
      put_events      = true
    }
    subscribe = {
      # Profile upserts and TAG#<tag>/SUB#<email> index rows; no SSM, SES or Step Functions.
      main_table      = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      events_table    = []
      read_templates  = false
      send_email      = false
      stop_executions = false
      parameters      = []
      put_events      = false
    }
    broadcast = {
      # Records, counters and audience pages (Query on TAG#<tag>, Scan of profiles,
      # BatchGetItem of the profiles a tag page names); no DeleteItem.
      main_table           = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem"]
      events_table         = []
      read_templates       = true # checks the template exists at create
      send_email           = false
      stop_executions      = false
      parameters           = ["config"]
      put_events           = false
      broadcast_queue      = ["sqs:SendMessage"] # SendMessageBatch too
      broadcast_executions = true
    }
    broadcast-send = {
      # The send claim (SEND#broadcast:<id>#<email>), send log, rate-limiter slots
      # and counters; DeleteItem releases a claim SES refused.
      main_table      = local.table_read_write
      events_table    = []
      read_templates  = true
      send_email      = true
      stop_executions = false
      parameters      = ["config", "unsubscribe_secret"]
      put_events      = true
      # What the event source mapping needs (on the function's role).
      broadcast_queue = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    }
  }, local.reply_grants)
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${var.name_prefix}-${each.key}"
  description        = "mailstep ${each.key} function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = local.tags
}

data "aws_iam_policy_document" "function" {
  for_each = local.grants

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = length(each.value.main_table) > 0 ? [each.value.main_table] : []
    content {
      sid       = "MainTable"
      actions   = statement.value
      resources = [aws_dynamodb_table.main.arn]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.events_table) > 0 ? [each.value.events_table] : []
    content {
      sid       = "EventsTable"
      actions   = statement.value
      resources = [aws_dynamodb_table.events.arn]
    }
  }

  dynamic "statement" {
    for_each = each.value.read_templates ? [1] : []
    content {
      sid       = "ReadTemplates"
      actions   = ["s3:GetObject"]
      resources = ["${aws_s3_bucket.templates.arn}/*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.send_email ? [1] : []
    content {
      sid     = "SendEmail"
      actions = ["ses:SendEmail"]
      resources = [
        "arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/*",
        aws_ses_configuration_set.this.arn,
      ]
    }
  }

  # Forwarded replies are raw messages sent without the configuration set (replies.tf).
  dynamic "statement" {
    for_each = try(each.value.forward_replies, false) ? [1] : []
    content {
      sid       = "ForwardReplies"
      actions   = ["ses:SendEmail", "ses:SendRawEmail"]
      resources = ["arn:${local.partition}:ses:${local.region}:${local.account_id}:identity/*"]
    }
  }

  dynamic "statement" {
    for_each = each.value.stop_executions ? [1] : []
    content {
      sid       = "StopOwnExecutions"
      actions   = ["states:StopExecution"]
      resources = [local.execution_arn_pattern]
    }
  }

  dynamic "statement" {
    for_each = length(each.value.broadcast_queue) > 0 ? [each.value.broadcast_queue] : []
    content {
      sid       = "BroadcastQueue"
      actions   = statement.value
      resources = [local.broadcast_queue_arn]
    }
  }

  dynamic "statement" {
    for_each = { for sid, st in local.broadcast_execution_statements : sid => st if each.value.broadcast_executions }
    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  dynamic "statement" {
    for_each = length(each.value.parameters) > 0 ? [each.value.parameters] : []
    content {
      sid       = "ReadParameters"
      actions   = ["ssm:GetParameter"]
      resources = [for p in statement.value : local.parameter_arns[p]]
    }
  }

  # Customer managed key: decrypt the secret parameter and SSE-KMS templates.
  dynamic "statement" {
    for_each = var.kms_key_arn != null && (each.value.read_templates || contains(each.value.parameters, "unsubscribe_secret")) ? [var.kms_key_arn] : []
    content {
      sid       = "DecryptWithCustomerKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = each.value.put_events ? [1] : []
    content {
      sid       = "PublishLifecycleEvents"
      actions   = ["events:PutEvents"]
      resources = [aws_cloudwatch_event_bus.this.arn]
    }
  }

  dynamic "statement" {
    for_each = local.functions[each.key].async ? [1] : []
    content {
      sid       = "OnFailureDestination"
      actions   = ["sqs:SendMessage"]
      resources = [local.lambda_dlq_arn]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.grants

  name   = "${var.name_prefix}-${each.key}"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}
