# mailstep core: everything the sequences share. One file per concern:
# storage.tf (tables, bucket, templates), ses.tf (configuration set, SNS),
# parameters.tf (SSM), lambda.tf + iam.tf (functions), events.tf (bus, cleanup
# rule, DLQ), alarms.tf.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.id # `name` is deprecated from provider 6
  partition  = data.aws_partition.current.partition

  # Explicit on every taggable resource, so the module is tagged even where the
  # caller's provider has no default_tags.
  tags = merge(var.tags, { application = "mailstep" })

  # State machines are named <name_prefix>-<sequence_id> (runtime contract):
  # the functions may stop only their executions.
  state_machine_arn_prefix = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.name_prefix}-"
  execution_arn_pattern    = "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${var.name_prefix}-*:*"

  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]

  # Queue ARNs built from their names: the function roles (and so the functions)
  # need not wait for the queues (creating one waits ~25 s for attribute
  # propagation), and the events DLQ can carry its policy inline.
  events_dlq_name = "${var.name_prefix}-events-dlq"
  events_dlq_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.events_dlq_name}"
  lambda_dlq_name = "${var.name_prefix}-lambda-dlq"
  lambda_dlq_arn  = "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${local.lambda_dlq_name}"

  # Parameter names and ARNs are built from strings: the config parameter holds
  # the unsubscribe Function URL, so referencing the resources from the functions
  # (environment, IAM) would be a cycle.
  parameter_names = {
    config             = "/${var.name_prefix}/config"
    unsubscribe_secret = "/${var.name_prefix}/unsubscribe-secret"
  }
  parameter_arns = {
    for k, name in local.parameter_names : k => "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter${name}"
  }
}
