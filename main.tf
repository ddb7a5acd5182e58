# mailstep root stack: the shared core plus one sequence module per file in
# sequences/. Deploy with `make package && scripts/tf.sh apply` (see README).

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, { application = "mailstep" })
  }
}

module "core" {
  source = "./modules/core"

  name_prefix                = var.name_prefix
  lambda_zip_path            = var.lambda_zip_path
  templates_dir              = "${path.root}/templates"
  tags                       = var.tags
  kms_key_arn                = var.kms_key_arn
  log_retention_days         = var.log_retention_days
  data_ttl_days              = var.data_ttl_days
  lambda_runtime             = var.lambda_runtime
  lambda_architecture        = var.lambda_architecture
  unsubscribe_secret         = var.unsubscribe_secret
  unsubscribe_secret_version = var.unsubscribe_secret_version
  unsubscribe_base_url       = var.unsubscribe_base_url
  ses_identity               = var.ses_identity
  tracking_redirect_domain   = var.tracking_redirect_domain
  alarm_topic_arn            = var.alarm_topic_arn
  deletion_protection        = var.deletion_protection
  reply_capture              = var.reply_capture
  broadcast_send_rate        = var.broadcast_send_rate
  broadcast_concurrency      = var.broadcast_concurrency
}

# --- sequences ---------------------------------------------------------------
# One state machine, its rules and roles per sequences/<id>.yaml. The file name
# is the sequence id (checked by the state_machine_arns output).

locals {
  sequences = {
    for f in fileset("${path.root}/sequences", "*.yaml") :
    trimsuffix(f, ".yaml") => yamldecode(file("${path.root}/sequences/${f}"))
  }
}

module "sequence" {
  source   = "./modules/sequence"
  for_each = local.sequences

  definition = each.value
  core       = module.core.core
}
