output "definition" {
  description = "The rendered broadcast state machine definition (ASL JSON)."
  value       = local.definition
}
