# Reusing mailstep's core from an existing Terraform estate: the estate already has
# a customer managed KMS key and an ops alert topic, and its provider sets no
# default_tags (the module tags every resource itself).
#
# In your estate the source would be the repository, e.g.
#   source = "git::https://github.com/<org>/mailstep.git//modules/core?ref=v0.1.0"

provider "aws" {
  region = var.region
}

module "mailstep" {
  source = "../../modules/core"

  name_prefix     = "acme-mail"
  lambda_zip_path = var.lambda_zip_path
  templates_dir   = "${path.module}/templates"

  # Existing estate resources, passed in rather than created.
  kms_key_arn     = var.kms_key_arn
  alarm_topic_arn = var.alarm_topic_arn

  log_retention_days = 90
  tags               = { cost-center = "growth" }
}

# A sequence module would take the core whole:
#
# module "onboarding" {
#   source = "../../modules/sequence"
#   core   = module.mailstep.core
#   ...
# }
