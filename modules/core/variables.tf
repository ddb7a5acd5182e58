variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (bus `<name_prefix>-bus`, functions `<name_prefix>-send-email`, state machines `<name_prefix>-<sequence>`). Lowercase letters, digits and hyphens, starting with a letter, at most 32 characters."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,31}$", var.name_prefix)) && !endswith(var.name_prefix, "-") && !strcontains(var.name_prefix, "--")
    error_message = "name_prefix \"${var.name_prefix}\" is not allowed: it must be 1-32 characters of lowercase letters (a-z), digits and single hyphens, start with a letter and not end with a hyphen, e.g. \"mailstep\" or \"acme-mail\". Fix the value you pass as name_prefix."
  }
}

variable "lambda_zip_path" {
  type        = string
  description = "Path of the Lambda deployment package built by `make package` (normally `build/lambda.zip`). All functions run from this one zip."

  validation {
    condition     = fileexists(var.lambda_zip_path)
    error_message = "The Lambda package given as lambda_zip_path does not exist: run `make package` first (it writes build/lambda.zip), or point lambda_zip_path at your zip."
  }
}

variable "templates_dir" {
  type        = string
  description = "Directory whose files are uploaded to the templates bucket, keyed by their path relative to it (`<sequence-id>/<name>.html`). Edits re-upload, deleted files are deleted. null uploads nothing."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every taggable resource, merged with `application = \"mailstep\"`."
  default     = {}
}

variable "kms_key_arn" {
  type        = string
  description = "ARN of an existing customer managed KMS key for the tables, the templates bucket, the secret parameter and the SES topics. null uses AWS managed keys. See the README for the key policy it needs."
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias), or null."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of every log group, in days; one of the values CloudWatch Logs accepts."
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (the values CloudWatch Logs accepts)."
  }
}

variable "data_ttl_days" {
  type        = number
  description = "Days after which send logs expire (DynamoDB TTL). 0 keeps them forever."
  default     = 0

  validation {
    condition     = var.data_ttl_days >= 0 && var.data_ttl_days <= 3650 && floor(var.data_ttl_days) == var.data_ttl_days
    error_message = "data_ttl_days must be a whole number of days from 0 (keep forever) to 3650."
  }
}

variable "events_ttl_days" {
  type        = number
  description = "Days after which engagement events (events table) expire."
  default     = 365

  validation {
    condition     = var.events_ttl_days >= 1 && var.events_ttl_days <= 3650 && floor(var.events_ttl_days) == var.events_ttl_days
    error_message = "events_ttl_days must be a whole number of days from 1 to 3650."
  }
}

variable "token_ttl_days" {
  type        = number
  description = "Days an unsubscribe link stays valid."
  default     = 90

  validation {
    condition     = var.token_ttl_days >= 1 && var.token_ttl_days <= 3650 && floor(var.token_ttl_days) == var.token_ttl_days
    error_message = "token_ttl_days must be a whole number of days from 1 to 3650."
  }
}

variable "unsubscribe_base_url" {
  type        = string
  description = "URL unsubscribe links point at, when not the unsubscribe Function URL itself (a custom domain in front of it, or the local sandbox). null uses the Function URL."
  default     = null

  validation {
    condition     = var.unsubscribe_base_url == null || can(regex("^(https://[^/?#\\s]+|http://(127\\.0\\.0\\.1|localhost)(:[0-9]+)?)(/[^?#\\s]*)?$", coalesce(var.unsubscribe_base_url, "x")))
    error_message = "unsubscribe_base_url must be an https:// URL (plain http only for 127.0.0.1/localhost), without query or fragment."
  }
}

variable "lambda_runtime" {
  type        = string
  description = "Python runtime of the functions; must match the Python the zip was built for (`make package LAMBDA_PYTHON=...`)."
  default     = "python3.12"

  validation {
    condition     = contains(["python3.11", "python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be one of python3.11, python3.12, python3.13."
  }
}

variable "lambda_architecture" {
  type        = string
  description = "CPU architecture of the functions; must match the zip (`make package LAMBDA_ARCH=...`)."
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL of every function."
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "unsubscribe_secret" {
  type        = string
  description = "HMAC secret for unsubscribe tokens (at least 32 characters). null generates one at the first apply. Written to SSM as a write-only value: it is never stored in state nor shown in plans."
  default     = null
  sensitive   = true

  validation {
    condition     = var.unsubscribe_secret == null || length(coalesce(var.unsubscribe_secret, "x")) >= 32
    error_message = "unsubscribe_secret must be at least 32 characters long (or null to generate one)."
  }
}

variable "unsubscribe_secret_version" {
  type        = number
  description = "Bump to write the secret again: with unsubscribe_secret set, after changing it; without, to generate a new one (rotation; links already sent stop working)."
  default     = 1

  validation {
    condition     = var.unsubscribe_secret_version >= 1 && floor(var.unsubscribe_secret_version) == var.unsubscribe_secret_version
    error_message = "unsubscribe_secret_version must be a whole number >= 1."
  }
}

variable "ses_identity" {
  type        = string
  description = "Optional sender identity to create: a domain (`acme.io`, creates a domain identity with DKIM) or an email address (`hello@acme.io`). null when identities are managed elsewhere."
  default     = null

  validation {
    condition = var.ses_identity == null || can(regex(
      "^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$",
      coalesce(var.ses_identity, "x")
    ))
    error_message = "ses_identity must be a domain such as acme.io or an email address such as hello@acme.io (or null)."
  }
}

variable "tracking_redirect_domain" {
  type        = string
  description = "Custom domain for SES open/click tracking links (must be set up in SES). null uses the SES default tracking domain."
  default     = null

  validation {
    condition     = var.tracking_redirect_domain == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", coalesce(var.tracking_redirect_domain, "x")))
    error_message = "tracking_redirect_domain must be a lowercase domain name such as links.acme.io (or null)."
  }
}

variable "alarm_topic_arn" {
  type        = string
  description = "Existing SNS topic ARN that alarms notify (alarm and OK). null creates the alarms without actions."
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(var.alarm_topic_arn, "x")))
    error_message = "alarm_topic_arn must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ops-alerts (or null)."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the DynamoDB tables from deletion. Set false only for throwaway stacks (tests, sandboxes)."
  default     = true
}

variable "templates_bucket_versioning" {
  type        = bool
  description = "Keep previous versions of templates in the bucket (recover deleted or overwritten templates)."
  default     = false
}

variable "templates_bucket_force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the templates bucket even if it holds objects Terraform does not manage (or old versions)."
  default     = false
}

variable "reply_capture" {
  type        = object({ recipients = list(string), activate = optional(bool, false), forward_to = optional(string) })
  description = "Reply capture (off when null): an SES receipt rule set `<name_prefix>-replies` whose rule sends mail for `recipients` (addresses or domains, e.g. the sequences' reply-to address; point the domain's MX record at inbound-smtp.<region>.amazonaws.com in a region where SES receives mail) to an SNS topic and the `reply` function, which records replies, counts them and publishes `email.replied`. `activate = true` makes it the account's ACTIVE receipt rule set in this region: there is only one, so this REPLACES any rule set already active (leave it false and add our rule to your active set yourself if you have one). `forward_to` forwards each reply to that address too."
  default     = null

  validation {
    condition = var.reply_capture == null || (
      length(try(var.reply_capture.recipients, [])) > 0 &&
      alltrue([for r in try(var.reply_capture.recipients, []) : can(regex(
        "^([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$", r
      ))])
    )
    error_message = "reply_capture.recipients must list at least one email address (replies@acme.io) or domain (acme.io)."
  }

  validation {
    condition = try(var.reply_capture.forward_to, null) == null || can(regex(
      "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$",
      try(var.reply_capture.forward_to, "")
    ))
    error_message = "reply_capture.forward_to must be one email address, such as support@acme.io (or null)."
  }
}

variable "broadcast_send_rate" {
  type        = number
  description = "Emails per second all broadcast-send invocations together may send (MAILSTEP_BROADCAST_SEND_RATE; it also sizes each chunk the broadcast state machine enqueues). Set it to your SES maximum send rate minus the headroom your sequences need."
  default     = 10

  validation {
    condition     = var.broadcast_send_rate > 0 && var.broadcast_send_rate <= 10000
    error_message = "broadcast_send_rate must be more than 0 and at most 10000 emails per second: your SES maximum send rate minus what your sequences need."
  }
}

variable "broadcast_concurrency" {
  type        = number
  description = "Maximum concurrent broadcast-send invocations (the SQS event source mapping's maximum_concurrency; Lambda's minimum is 2)."
  default     = 2

  validation {
    condition     = var.broadcast_concurrency >= 2 && var.broadcast_concurrency <= 1000 && floor(var.broadcast_concurrency) == var.broadcast_concurrency
    error_message = "broadcast_concurrency must be a whole number from 2 to 1000 (the range Lambda accepts for maximum_concurrency)."
  }
}
