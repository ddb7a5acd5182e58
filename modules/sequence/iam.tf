# Two roles, each allowed only what it does: the state machine invokes the
# functions its Tasks name; EventBridge starts this state machine.

locals {
  # Lambda functions the definition's Tasks invoke (check-condition only when a
  # condition step exists).
  invoked_functions = concat(
    [var.core.send_email_function_arn],
    anytrue([for s in local.d.steps : s.type == "condition"]) ? [var.core.check_condition_function_arn] : [],
  )

  state_machine_permissions = {
    InvokeFunctions = {
      actions   = ["lambda:InvokeFunction"]
      resources = local.invoked_functions
    }
    # CloudWatch Logs delivery for Step Functions logging. These actions do not
    # support resource-level permissions, so AWS documents Resource "*" for them
    # (Step Functions developer guide, "IAM policies for logging to CloudWatch
    # Logs"): the one justified wildcard in this module.
    DeliverLogs = {
      actions = [
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
      ]
      resources = ["*"]
    }
  }

  events_permissions = {
    StartThisStateMachine = {
      actions   = ["states:StartExecution"]
      resources = [aws_sfn_state_machine.this.arn]
    }
  }
}

# --- state machine --------------------------------------------------------------

data "aws_iam_policy_document" "state_machine_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    # Confused-deputy guard: only this state machine of this account.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.core.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.state_machine_arn]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = local.names["role/state-machine"]
  description        = "mailstep: state machine ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.state_machine_trust.json

  tags = local.tags
}

data "aws_iam_policy_document" "state_machine" {
  dynamic "statement" {
    for_each = local.state_machine_permissions

    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "state-machine"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}

# --- EventBridge → state machine --------------------------------------------------

data "aws_iam_policy_document" "events_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.core.account_id]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this["trigger"].arn]
    }
  }
}

resource "aws_iam_role" "events" {
  name               = local.names["role/events"]
  description        = "mailstep: EventBridge starts ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.events_trust.json

  tags = local.tags
}

data "aws_iam_policy_document" "events" {
  dynamic "statement" {
    for_each = local.events_permissions

    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "events" {
  name   = "start-execution"
  role   = aws_iam_role.events.id
  policy = data.aws_iam_policy_document.events.json
}
