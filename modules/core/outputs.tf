output "core" {
  description = "Everything a `sequence` module needs, as one object: pass it whole (`core = module.core.core`)."
  value = {
    name_prefix                   = var.name_prefix
    region                        = local.region
    account_id                    = local.account_id
    partition                     = local.partition
    event_bus_name                = aws_cloudwatch_event_bus.this.name
    event_bus_arn                 = aws_cloudwatch_event_bus.this.arn
    send_email_function_arn       = aws_lambda_function.this["send-email"].arn
    send_email_function_name      = aws_lambda_function.this["send-email"].function_name
    check_condition_function_arn  = aws_lambda_function.this["check-condition"].arn
    check_condition_function_name = aws_lambda_function.this["check-condition"].function_name
    dlq_arn                       = aws_sqs_queue.events_dlq.arn
    dlq_url                       = aws_sqs_queue.events_dlq.id
    main_table_name               = aws_dynamodb_table.main.name
    templates_bucket_name         = aws_s3_bucket.templates.id
    template_keys                 = sort([for k in local.template_files : k])
    log_retention_days            = var.log_retention_days
    alarm_topic_arn               = var.alarm_topic_arn
    kms_key_arn                   = var.kms_key_arn
    tags                          = local.tags
  }
}

output "event_bus_name" {
  description = "Name of the custom event bus apps publish to."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "ARN of the custom event bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "main_table_name" {
  description = "Name of the main (single-table) DynamoDB table."
  value       = aws_dynamodb_table.main.name
}

output "main_table_arn" {
  description = "ARN of the main DynamoDB table."
  value       = aws_dynamodb_table.main.arn
}

output "events_table_name" {
  description = "Name of the engagement events DynamoDB table."
  value       = aws_dynamodb_table.events.name
}

output "events_table_arn" {
  description = "ARN of the engagement events DynamoDB table."
  value       = aws_dynamodb_table.events.arn
}

output "templates_bucket_name" {
  description = "Name of the templates bucket."
  value       = aws_s3_bucket.templates.id
}

output "templates_bucket_arn" {
  description = "ARN of the templates bucket."
  value       = aws_s3_bucket.templates.arn
}

output "function_arns" {
  description = "Function ARNs keyed by contract name (send-email, check-condition, unsubscribe, bounce-handler, engagement-handler, subscribe, broadcast, broadcast-send)."
  value       = { for k, f in aws_lambda_function.this : k => f.arn }
}

output "function_names" {
  description = "Function names keyed by contract name."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "function_role_arns" {
  description = "IAM role ARNs of the functions keyed by contract name."
  value       = { for k, r in aws_iam_role.function : k => r.arn }
}

output "log_group_names" {
  description = "Log group names of the functions keyed by contract name."
  value       = { for k, g in aws_cloudwatch_log_group.function : k => g.name }
}

output "unsubscribe_url" {
  description = "URL unsubscribe links point at: unsubscribe_base_url, or the unsubscribe Function URL (also in the config parameter)."
  value       = local.unsubscribe_url
}

output "config_parameter_name" {
  description = "Name of the SSM parameter holding the runtime config JSON."
  value       = aws_ssm_parameter.config.name
}

output "secret_parameter_name" {
  description = "Name of the SSM SecureString holding the unsubscribe HMAC secret (the name only, never the value)."
  value       = aws_ssm_parameter.unsubscribe_secret.name
}

output "configuration_set_name" {
  description = "Name of the SES configuration set every email is sent with."
  value       = aws_ses_configuration_set.this.name
}

output "bounce_topic_arn" {
  description = "ARN of the SNS topic receiving SES bounce and complaint events."
  value       = aws_sns_topic.ses["bounces"].arn
}

output "engagement_topic_arn" {
  description = "ARN of the SNS topic receiving SES delivery, open, click, bounce and complaint events."
  value       = aws_sns_topic.ses["engagement"].arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue for EventBridge targets."
  value       = aws_sqs_queue.events_dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue for EventBridge targets."
  value       = aws_sqs_queue.events_dlq.id
}

output "lambda_dlq_arn" {
  description = "ARN of the dead-letter queue for asynchronous invocations that failed every retry."
  value       = aws_sqs_queue.lambda_dlq.arn
}

output "lambda_dlq_url" {
  description = "URL of the dead-letter queue for failed asynchronous invocations."
  value       = aws_sqs_queue.lambda_dlq.id
}

output "broadcast_queue_url" {
  description = "URL of the broadcast queue (one message per recipient, consumed by broadcast-send)."
  value       = aws_sqs_queue.broadcast.url
}

output "broadcast_queue_arn" {
  description = "ARN of the broadcast queue."
  value       = aws_sqs_queue.broadcast.arn
}

output "broadcast_dlq_url" {
  description = "URL of the dead-letter queue of broadcast emails that failed 5 attempts."
  value       = aws_sqs_queue.broadcast_dlq.url
}

output "broadcast_state_machine_arn" {
  description = "ARN of the broadcast state machine (<name_prefix>--broadcast) that pages through a broadcast's audience."
  value       = aws_sfn_state_machine.broadcast.arn
}

output "broadcast_definition" {
  description = "The rendered broadcast state machine definition (ASL JSON)."
  value       = module.broadcast_asl.definition
}

output "broadcast_function_name" {
  description = "Name of the broadcast function operators (CLI, MCP) invoke to create, start, cancel and read broadcasts."
  value       = aws_lambda_function.this["broadcast"].function_name
}

output "cleanup_rule_arn" {
  description = "ARN of the default-bus rule that sends abnormally ended executions to send-email for cleanup."
  value       = aws_cloudwatch_event_rule.cleanup.arn
}

output "ses_dns_records" {
  description = "DNS records to publish for ses_identity when it is a domain (verification TXT and DKIM CNAMEs); empty otherwise."
  value = length(aws_ses_domain_identity.this) == 0 ? [] : concat(
    [{
      type  = "TXT"
      name  = "_amazonses.${aws_ses_domain_identity.this[0].domain}"
      value = aws_ses_domain_identity.this[0].verification_token
    }],
    [for t in aws_ses_domain_dkim.this[0].dkim_tokens : {
      type  = "CNAME"
      name  = "${t}._domainkey.${aws_ses_domain_identity.this[0].domain}"
      value = "${t}.dkim.amazonses.com"
    }]
  )
}

output "replies_topic_arn" {
  description = "ARN of the SNS topic SES publishes inbound replies to; null when reply_capture is off."
  value       = one(aws_sns_topic.replies[*].arn)
}

output "replies_rule_set_name" {
  description = "Name of the SES receipt rule set holding the reply rule (active only with reply_capture.activate); null when reply_capture is off."
  value       = one(aws_ses_receipt_rule_set.replies[*].rule_set_name)
}
