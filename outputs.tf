output "event_bus_name" {
  description = "Event bus your app publishes to (PutEvents)."
  value       = module.core.event_bus_name
}

output "unsubscribe_url" {
  description = "Public unsubscribe endpoint."
  value       = module.core.unsubscribe_url
}

output "main_table_name" {
  description = "Main DynamoDB table."
  value       = module.core.main_table_name
}

output "events_table_name" {
  description = "Engagement events DynamoDB table."
  value       = module.core.events_table_name
}

output "templates_bucket_name" {
  description = "Templates bucket (uploaded from templates/)."
  value       = module.core.templates_bucket_name
}

output "function_names" {
  description = "Lambda function names keyed by contract name."
  value       = module.core.function_names
}

output "configuration_set_name" {
  description = "SES configuration set."
  value       = module.core.configuration_set_name
}

output "config_parameter_name" {
  description = "SSM parameter with the runtime config."
  value       = module.core.config_parameter_name
}

output "secret_parameter_name" {
  description = "SSM SecureString with the unsubscribe secret (name only)."
  value       = module.core.secret_parameter_name
}

output "dlq_url" {
  description = "Dead-letter queue of EventBridge targets."
  value       = module.core.dlq_url
}

output "lambda_dlq_url" {
  description = "Dead-letter queue of failed asynchronous invocations."
  value       = module.core.lambda_dlq_url
}

output "broadcast_queue_url" {
  description = "Broadcast queue (one message per recipient)."
  value       = module.core.broadcast_queue_url
}

output "broadcast_dlq_url" {
  description = "Dead-letter queue of broadcast emails that failed 5 attempts."
  value       = module.core.broadcast_dlq_url
}

output "broadcast_state_machine_arn" {
  description = "Broadcast state machine (<name_prefix>--broadcast)."
  value       = module.core.broadcast_state_machine_arn
}

output "broadcast_function_name" {
  description = "Function operators invoke to create, start, cancel and read broadcasts."
  value       = module.core.broadcast_function_name
}

output "ses_dns_records" {
  description = "DNS records to publish when ses_identity is a domain."
  value       = module.core.ses_dns_records
}

output "replies_topic_arn" {
  description = "SNS topic SES publishes inbound replies to (reply_capture); null when off."
  value       = module.core.replies_topic_arn
}

output "state_machine_arns" {
  description = "State machine ARNs keyed by sequence id (one per sequences/<id>.yaml)."
  value       = { for id, m in module.sequence : id => m.state_machine_arn }

  # Checks across the sequence files, which no single module instance can see.
  precondition {
    condition     = alltrue([for name, d in local.sequences : try(d.id, null) == name])
    error_message = "A sequence file must be named after its id (sequences/<id>.yaml; the id also names its templates folder): ${join(", ", [for name, d in local.sequences : "sequences/${name}.yaml has id \"${try(d.id, "")}\"" if try(d.id, null) != name])}."
  }

  precondition {
    condition     = length(flatten([for m in module.sequence : values(m.rule_names)])) == length(distinct(flatten([for m in module.sequence : values(m.rule_names)])))
    error_message = "Two sequences produce the same EventBridge rule name (e.g. sequence a's event b-trigger and sequence a-event-b's trigger): rename an id."
  }
}

output "broadcast_send_rate" {
  description = "Emails per second broadcasts send at (var.broadcast_send_rate); the CLI estimates durations with it."
  value       = var.broadcast_send_rate
}
