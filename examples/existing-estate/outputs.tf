output "event_bus_name" {
  description = "Bus the estate's applications publish to."
  value       = module.mailstep.event_bus_name
}

output "unsubscribe_url" {
  description = "Public unsubscribe endpoint."
  value       = module.mailstep.unsubscribe_url
}

output "dlq_url" {
  description = "Dead-letter queue to watch."
  value       = module.mailstep.dlq_url
}
