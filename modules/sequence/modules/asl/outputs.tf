output "definition" {
  description = "The rendered state machine definition (ASL JSON)."
  value       = local.definition

  precondition {
    condition     = length(local.unreachable_steps) == 0
    error_message = "Sequence ${var.definition.id}: no path leads to step(s) ${join(", ", local.unreachable_steps)}. Every step must be reached from the first step, by order (a step without next runs the one after it) or by a next/then/else/choices/default naming it; remove them or point a branch at them."
  }
}

output "state_names" {
  description = "Names of every state in the definition (the step ids, <condition-id>? and the fixed Register, Registered?, Skipped, Complete, Done, Cleanup, Failed)."
  value       = sort(keys(jsondecode(local.definition).States))
}

output "step_ids" {
  description = "Step ids in file order, with the generated wait-<position> ids filled in."
  value       = local.ids
}
