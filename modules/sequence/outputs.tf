output "state_machine_arn" {
  description = "ARN of the sequence's state machine."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_name" {
  description = "Name of the state machine: <name_prefix>-<sequence id>."
  value       = aws_sfn_state_machine.this.name
}

output "definition" {
  description = "The rendered state machine definition (ASL JSON)."
  value       = module.asl.definition
}

output "rule_names" {
  description = "EventBridge rule names on the core bus, keyed trigger, exit-<n> and event-<event id>."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.name }
}

output "role_arn" {
  description = "ARN of the state machine's IAM role."
  value       = aws_iam_role.state_machine.arn
}

output "events_role_arn" {
  description = "ARN of the IAM role EventBridge uses to start the state machine."
  value       = aws_iam_role.events.arn
}

output "log_group_name" {
  description = "CloudWatch Logs group of the state machine (level ERROR, no execution data)."
  value       = aws_cloudwatch_log_group.this.name
}
