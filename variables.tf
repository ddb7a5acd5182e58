variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name. Lowercase letters, digits and hyphens, starting with a letter, at most 32 characters."
  default     = "mailstep"
}

variable "region" {
  type        = string
  description = "AWS region to deploy into (SES must be available there)."
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region code such as us-east-1 or eu-west-1."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags for every resource (provider default_tags and explicit module tags), merged with application = \"mailstep\"."
  default     = {}
}

variable "lambda_zip_path" {
  type        = string
  description = "The Lambda package; `make package` builds it at build/lambda.zip."
  default     = "build/lambda.zip"
}

variable "kms_key_arn" {
  type        = string
  description = "Existing customer managed KMS key for tables, bucket, topics and the secret; null uses AWS managed keys."
  default     = null
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group, in days (a value CloudWatch Logs accepts)."
  default     = 30
}

variable "data_ttl_days" {
  type        = number
  description = "Days after which send logs expire; 0 keeps them forever."
  default     = 0
}

variable "lambda_runtime" {
  type        = string
  description = "Python runtime of the functions (python3.11, python3.12 or python3.13); match `make package LAMBDA_PYTHON=`."
  default     = "python3.12"
}

variable "lambda_architecture" {
  type        = string
  description = "Architecture of the functions (arm64 or x86_64); match `make package LAMBDA_ARCH=`."
  default     = "arm64"
}

variable "unsubscribe_secret" {
  type        = string
  description = "HMAC secret for unsubscribe links (>= 32 characters). null generates one at the first apply; never stored in state."
  default     = null
  sensitive   = true
}

variable "unsubscribe_secret_version" {
  type        = number
  description = "Bump to write unsubscribe_secret again (or generate a new one): rotation."
  default     = 1
}

variable "ses_identity" {
  type        = string
  description = "Sender domain (acme.io) or address (hello@acme.io) to create as an SES identity; null if managed elsewhere."
  default     = null
}

variable "tracking_redirect_domain" {
  type        = string
  description = "Custom domain for open/click tracking links; null uses the SES default."
  default     = null
}

variable "alarm_topic_arn" {
  type        = string
  description = "Existing SNS topic the alarms notify; null creates alarms without actions."
  default     = null
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the DynamoDB tables from deletion."
  default     = true
}

variable "unsubscribe_base_url" {
  type        = string
  description = "URL unsubscribe links point at when not the unsubscribe Function URL (e.g. a custom domain in front of it; the local sandbox sets its own). null uses the Function URL."
  default     = null
}

variable "reply_capture" {
  type        = object({ recipients = list(string), activate = optional(bool, false), forward_to = optional(string) })
  description = "Reply capture; null (default) keeps it off. See modules/core: `recipients` (addresses or domains SES receives for), `activate` (makes our receipt rule set the account's ACTIVE one in the region, replacing any other), `forward_to` (an address each reply is forwarded to)."
  default     = null
}

variable "broadcast_send_rate" {
  type        = number
  description = "Emails per second broadcasts may send in total: your SES maximum send rate minus the headroom your sequences need (validated by modules/core)."
  default     = 10
}

variable "broadcast_concurrency" {
  type        = number
  description = "Maximum concurrent broadcast-send invocations, 2 to 1000 (validated by modules/core)."
  default     = 2
}
