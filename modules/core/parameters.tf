# Runtime configuration (JSON, runtime contract) and the unsubscribe HMAC secret.

locals {
  unsubscribe_url = coalesce(var.unsubscribe_base_url, aws_lambda_function_url.unsubscribe.function_url)
}

resource "aws_ssm_parameter" "config" {
  name        = local.parameter_names.config
  description = "mailstep runtime configuration (JSON), read by the functions with a 5-minute cache"
  type        = "String"
  value = jsonencode(merge({
    unsubscribe_url   = local.unsubscribe_url
    data_ttl_days     = var.data_ttl_days
    events_ttl_days   = var.events_ttl_days
    token_ttl_days    = var.token_ttl_days
    display_names_key = "display-names.json"
  }, local.reply_forward ? { reply_forward_to = var.reply_capture.forward_to } : {}))

  tags = local.tags
}

# The secret is a write-only argument (Terraform >= 1.11): it is sent to SSM when
# value_wo_version changes and is never stored in state or shown in a plan.
# Without var.unsubscribe_secret, 256 bits are generated from two uuid()s (crypto
# random v4 UUIDs, 244 random bits) hashed with SHA-256. uuid() changes on every
# plan, but a write-only value is only written when the version changes, so the
# secret is stable; bump unsubscribe_secret_version to rotate.
resource "aws_ssm_parameter" "unsubscribe_secret" {
  name             = local.parameter_names.unsubscribe_secret
  description      = "mailstep unsubscribe-token HMAC secret"
  type             = "SecureString"
  key_id           = var.kms_key_arn
  value_wo         = var.unsubscribe_secret != null ? var.unsubscribe_secret : sha256("${uuid()}${uuid()}")
  value_wo_version = var.unsubscribe_secret_version

  tags = local.tags
}
