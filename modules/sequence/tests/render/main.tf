# Test harness (no provider): renders the ASL of every sequences/*.yaml in a
# directory through modules/asl, exactly as the sequence module would.
#   terraform apply -var sequences_dir=... && terraform output -json definitions

terraform {
  required_version = ">= 1.9"
}

variable "sequences_dir" {
  description = "Directory holding <id>.yaml sequence files."
  type        = string
}

variable "send_email_function_arn" {
  description = "Function ARN rendered into send-email Tasks."
  type        = string
  default     = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-send-email"
}

variable "check_condition_function_arn" {
  description = "Function ARN rendered into check-condition Tasks."
  type        = string
  default     = "arn:aws:lambda:us-east-1:123456789012:function:mailstep-check-condition"
}

module "asl" {
  source   = "../../modules/asl"
  for_each = { for f in fileset(var.sequences_dir, "*.yaml") : trimsuffix(f, ".yaml") => yamldecode(file("${var.sequences_dir}/${f}")) }

  definition                   = each.value
  send_email_function_arn      = var.send_email_function_arn
  check_condition_function_arn = var.check_condition_function_arn
}

output "definitions" {
  description = "Rendered ASL JSON keyed by file name (without .yaml)."
  value       = { for k, m in module.asl : k => m.definition }
}

output "ids" {
  description = "The id inside each file, keyed by file name."
  value       = { for k, v in module.asl : k => jsondecode(v.definition).States.Register.Parameters.sequence_id }
}
