# SES configuration set (open/click tracking happens because the engagement
# destination asks for open and click events) and the SNS topics it publishes to.

resource "aws_ses_configuration_set" "this" {
  name = "${var.name_prefix}-config-set"

  reputation_metrics_enabled = true
  sending_enabled            = true

  dynamic "tracking_options" {
    for_each = var.tracking_redirect_domain == null ? [] : [var.tracking_redirect_domain]
    content {
      custom_redirect_domain = tracking_options.value
    }
  }
}

locals {
  # topic key => SES event types it receives
  ses_topics = {
    bounces    = ["bounce", "complaint"]
    engagement = ["delivery", "open", "click", "bounce", "complaint"]
  }

  # function => topic it subscribes to
  sns_subscriptions = {
    bounce-handler     = "bounces"
    engagement-handler = "engagement"
  }
}

resource "aws_sns_topic" "ses" {
  for_each = local.ses_topics

  name              = "${var.name_prefix}-${each.key}"
  kms_master_key_id = var.kms_key_arn

  tags = local.tags
}

# Only SES, from this account and this configuration set, may publish.
data "aws_iam_policy_document" "ses_topic" {
  for_each = local.ses_topics

  statement {
    sid       = "AllowSesConfigurationSet"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.ses[each.key].arn]

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
      values   = [aws_ses_configuration_set.this.arn]
    }
  }
}

resource "aws_sns_topic_policy" "ses" {
  for_each = local.ses_topics

  arn    = aws_sns_topic.ses[each.key].arn
  policy = data.aws_iam_policy_document.ses_topic[each.key].json
}

resource "aws_ses_event_destination" "sns" {
  for_each = local.ses_topics

  name                   = each.key
  configuration_set_name = aws_ses_configuration_set.this.name
  enabled                = true
  matching_types         = each.value

  sns_destination {
    topic_arn = aws_sns_topic.ses[each.key].arn
  }

  depends_on = [aws_sns_topic_policy.ses]
}

resource "aws_sns_topic_subscription" "handler" {
  for_each = local.sns_subscriptions

  topic_arn = aws_sns_topic.ses[each.value].arn
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this[each.key].arn

  depends_on = [aws_lambda_permission.sns]
}

resource "aws_lambda_permission" "sns" {
  for_each = local.sns_subscriptions

  statement_id  = "AllowSnsTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.ses[each.value].arn
}

# Optional sender identity. A domain also gets DKIM tokens (publish them as CNAMEs).
locals {
  ses_identity_is_email = var.ses_identity != null && strcontains(coalesce(var.ses_identity, "x"), "@")
}

resource "aws_ses_domain_identity" "this" {
  count = var.ses_identity != null && !local.ses_identity_is_email ? 1 : 0

  domain = var.ses_identity
}

resource "aws_ses_domain_dkim" "this" {
  count = length(aws_ses_domain_identity.this)

  domain = aws_ses_domain_identity.this[0].domain
}

resource "aws_ses_email_identity" "this" {
  count = local.ses_identity_is_email ? 1 : 0

  email = var.ses_identity
}
