variable "region" {
  type        = string
  description = "Region of the estate."
  default     = "us-east-1"
}

variable "lambda_zip_path" {
  type        = string
  description = "mailstep's Lambda package (`make package` in the mailstep repository)."
  default     = "../../build/lambda.zip"
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of the estate's customer managed KMS key (its policy must allow SES and SNS, see modules/core/README.md)."
}

variable "alarm_topic_arn" {
  type        = string
  description = "ARN of the estate's SNS topic for operational alarms."
}
