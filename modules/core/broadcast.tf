# Broadcasts (runtime contract, "Broadcasts"): one email to every subscriber of an
# audience. The state machine pages through the audience with the broadcast function
# (resolve: one chunk per iteration, then a Wait that paces the queue); the queue
# feeds broadcast-send, which sends at most broadcast_send_rate emails per second.

locals {
  # Named, not referenced, where a reference would be a cycle (the functions'
  # environment and roles name the state machine, which invokes a function) or
  # would make the roles wait for the queue.
  broadcast_state_machine_name = "${var.name_prefix}--broadcast" # "--": no sequence id can produce it
  broadcast_state_machine_arn  = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.broadcast_state_machine_name}"
  broadcast_execution_arns     = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.broadcast_state_machine_name}:*"
  broadcast_queue_name         = "${var.name_prefix}-broadcast"
  broadcast_queue_arn          = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.broadcast_queue_name}"
}

# --- queue ----------------------------------------------------------------------

# Recipients that failed 5 receives (SES refused them, or broadcast-send kept failing).
resource "aws_sqs_queue" "broadcast_dlq" {
  name                      = "${var.name_prefix}-broadcast-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum
  sqs_managed_sse_enabled   = true

  tags = local.tags
}

# One message per recipient: {"broadcast_id", "email"}. The visibility timeout is 6x
# broadcast-send's timeout, as Lambda recommends for SQS event sources.
resource "aws_sqs_queue" "broadcast" {
  name                       = local.broadcast_queue_name
  visibility_timeout_seconds = 6 * local.functions["broadcast-send"].timeout
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.broadcast_dlq.arn
    maxReceiveCount     = 5
  })

  tags = local.tags
}

# Lambda polls the queue: batches of 10, failed records reported one by one
# (batchItemFailures) so a batch's successes are not sent again, and at most
# broadcast_concurrency concurrent invocations.
resource "aws_lambda_event_source_mapping" "broadcast" {
  event_source_arn        = aws_sqs_queue.broadcast.arn
  function_name           = aws_lambda_function.this["broadcast-send"].arn
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.broadcast_concurrency
  }

  tags = local.tags
}

# --- state machine ------------------------------------------------------------------

# The ASL is rendered by a provider-free module, so tests can render it offline.
module "broadcast_asl" {
  source = "./modules/broadcast-asl"

  broadcast_function_arn = aws_lambda_function.this["broadcast"].arn
}

resource "aws_sfn_state_machine" "broadcast" {
  name       = local.broadcast_state_machine_name
  type       = "STANDARD"
  definition = module.broadcast_asl.definition
  role_arn   = aws_iam_role.broadcast_state_machine.arn

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.broadcast_state_machine.arn}:*"
    include_execution_data = false # payloads name the broadcast only, but errors may carry addresses
    level                  = "ERROR"
  }

  tags = local.tags

  # Step Functions checks at creation that the role may deliver logs.
  depends_on = [aws_iam_role_policy.broadcast_state_machine]
}

# Its own log group (vended-logs path, as Step Functions expects), errors only.
resource "aws_cloudwatch_log_group" "broadcast_state_machine" {
  name              = "/aws/vendedlogs/states/${local.broadcast_state_machine_name}"
  retention_in_days = var.log_retention_days

  tags = local.tags
}

data "aws_iam_policy_document" "broadcast_state_machine_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    # Confused-deputy guard: only this state machine of this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.broadcast_state_machine_arn]
    }
  }
}

resource "aws_iam_role" "broadcast_state_machine" {
  name               = "${local.broadcast_state_machine_name}-sfn"
  description        = "mailstep: state machine ${local.broadcast_state_machine_name}"
  assume_role_policy = data.aws_iam_policy_document.broadcast_state_machine_trust.json

  tags = local.tags
}

data "aws_iam_policy_document" "broadcast_state_machine" {
  statement {
    sid       = "InvokeBroadcast"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["broadcast"].arn]
  }

  # CloudWatch Logs delivery for Step Functions logging: these actions support no
  # resource-level permissions, so AWS documents Resource "*" for them (as in
  # modules/sequence).
  statement {
    sid = "DeliverLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "broadcast_state_machine" {
  name   = "state-machine"
  role   = aws_iam_role.broadcast_state_machine.id
  policy = data.aws_iam_policy_document.broadcast_state_machine.json
}
