# Optional reply capture (var.reply_capture; off when null): an SES receipt rule set
# whose one rule publishes inbound mail for the given recipients to an SNS topic
# (UTF-8, so the raw MIME is in `content`), and the `reply` function subscribed to it.
# The rule set is activated only with `activate = true`: an account has ONE active
# receipt rule set per region, and activating ours replaces any other.

locals {
  reply_capture = var.reply_capture != null
  reply_forward = local.reply_capture && try(var.reply_capture.forward_to, null) != null
  replies_name  = "${var.name_prefix}-replies"

  # Merged into local.functions (lambda.tf) and local.grants (iam.tf): empty when off.
  reply_functions = { for k, v in {
    reply = {
      description = "Records replies (SES inbound mail) and publishes email.replied"
      handler     = "mailstep.handlers.reply.handler"
      memory_size = 256 # parses MIME messages of up to 150 KB
      timeout     = 30
      async       = true # SNS invokes it asynchronously
    }
  } : k => v if local.reply_capture }

  reply_grants = { for k, v in {
    reply = {
      main_table      = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"] # profile, send log, counters
      events_table    = ["dynamodb:PutItem"]
      read_templates  = false
      send_email      = false
      stop_executions = false
      parameters      = ["config"]
      put_events      = true
      forward_replies = local.reply_forward
    }
  } : k => v if local.reply_capture }

  reply_rule_arn = "arn:${local.partition}:ses:${local.region}:${local.account_id}:receipt-rule-set/${local.replies_name}:receipt-rule/${local.replies_name}"
}

resource "aws_sns_topic" "replies" {
  count = local.reply_capture ? 1 : 0

  name              = local.replies_name
  kms_master_key_id = var.kms_key_arn

  tags = local.tags
}

# Only SES, from this account and our receipt rule, may publish.
data "aws_iam_policy_document" "replies_topic" {
  count = local.reply_capture ? 1 : 0

  statement {
    sid       = "AllowSesReceiptRule"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.replies[0].arn]

    principals {
      type        = "Service"
      identifiers = ["ses.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [local.reply_rule_arn]
    }
  }
}

resource "aws_sns_topic_policy" "replies" {
  count = local.reply_capture ? 1 : 0

  arn    = aws_sns_topic.replies[0].arn
  policy = data.aws_iam_policy_document.replies_topic[0].json
}

resource "aws_ses_receipt_rule_set" "replies" {
  count = local.reply_capture ? 1 : 0

  rule_set_name = local.replies_name
}

resource "aws_ses_receipt_rule" "replies" {
  count = local.reply_capture ? 1 : 0

  name          = local.replies_name
  rule_set_name = aws_ses_receipt_rule_set.replies[0].rule_set_name
  recipients    = var.reply_capture.recipients
  enabled       = true
  scan_enabled  = true # spam and virus verdicts

  sns_action {
    topic_arn = aws_sns_topic.replies[0].arn
    encoding  = "UTF-8" # the raw MIME message arrives as `content`
    position  = 1
  }

  depends_on = [aws_sns_topic_policy.replies]
}

# Replaces whatever rule set is active in this account and region (see the variable).
resource "aws_ses_active_receipt_rule_set" "replies" {
  count = local.reply_capture && try(var.reply_capture.activate, false) ? 1 : 0

  rule_set_name = aws_ses_receipt_rule_set.replies[0].rule_set_name

  depends_on = [aws_ses_receipt_rule.replies]
}

resource "aws_sns_topic_subscription" "reply" {
  count = local.reply_capture ? 1 : 0

  topic_arn = aws_sns_topic.replies[0].arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this["reply"].arn

  depends_on = [aws_lambda_permission.reply]
}

resource "aws_lambda_permission" "reply" {
  count = local.reply_capture ? 1 : 0

  statement_id  = "AllowSnsTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["reply"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.replies[0].arn
}
