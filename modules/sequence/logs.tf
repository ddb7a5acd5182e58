# Its own log group (vended-logs path, as Step Functions expects), errors only.
resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/vendedlogs/states/${local.name}"
  retention_in_days = var.core.log_retention_days

  tags = local.tags
}
