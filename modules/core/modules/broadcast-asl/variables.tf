variable "broadcast_function_arn" {
  description = "ARN of the broadcast function, invoked by the Resolve and Fail-record Tasks."
  type        = string
}
