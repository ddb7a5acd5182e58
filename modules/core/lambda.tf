# The functions of the runtime contract, all from one zip (reply: replies.tf).

locals {
  functions = merge({
    send-email = {
      description = "Registers, sends, completes and cleans up sequence runs"
      handler     = "mailstep.handlers.send_email.handler"
      memory_size = 256
      timeout     = 30
      async       = true # EventBridge invokes it asynchronously
    }
    check-condition = {
      description = "Evaluates condition steps for Step Functions"
      handler     = "mailstep.handlers.check_condition.handler"
      memory_size = 128
      timeout     = 10
      async       = false
    }
    unsubscribe = {
      description = "Unsubscribe page and one-click endpoint (Function URL)"
      handler     = "mailstep.handlers.unsubscribe.handler"
      memory_size = 128
      timeout     = 10
      async       = false
    }
    bounce-handler = {
      description = "Suppresses addresses on permanent bounces and complaints"
      handler     = "mailstep.handlers.bounce_handler.handler"
      memory_size = 128
      timeout     = 10
      async       = true # SNS invokes it asynchronously
    }
    engagement-handler = {
      description = "Records delivery, open, click, bounce and complaint events"
      handler     = "mailstep.handlers.engagement_handler.handler"
      memory_size = 128
      timeout     = 10
      async       = true
    }
    subscribe = {
      description = "Upserts profiles, attributes and tags from subscriber.subscribed/updated events"
      handler     = "mailstep.handlers.subscribe.handler"
      memory_size = 128
      timeout     = 10
      async       = true # EventBridge invokes it asynchronously
    }
    broadcast = {
      description = "Creates, starts, cancels and reads broadcasts; resolves their audience for the broadcast state machine"
      handler     = "mailstep.handlers.broadcast.handler"
      memory_size = 256
      timeout     = 300
      async       = false # invoked directly and by Step Functions
    }
    broadcast-send = {
      description = "Sends broadcast emails from the broadcast queue, rate-limited"
      handler     = "mailstep.handlers.broadcast_send.handler"
      memory_size = 256
      timeout     = 60
      async       = false # the SQS event source mapping invokes it synchronously
    }
  }, local.reply_functions)

  # Every function gets the same environment (runtime contract).
  environment = {
    MAILSTEP_TABLE                   = aws_dynamodb_table.main.name
    MAILSTEP_EVENTS_TABLE            = aws_dynamodb_table.events.name
    MAILSTEP_TEMPLATE_BUCKET         = aws_s3_bucket.templates.id
    MAILSTEP_CONFIGURATION_SET       = aws_ses_configuration_set.this.name
    MAILSTEP_EVENT_BUS               = aws_cloudwatch_event_bus.this.name
    MAILSTEP_CONFIG_PARAMETER        = local.parameter_names.config
    MAILSTEP_SECRET_PARAMETER        = local.parameter_names.unsubscribe_secret
    MAILSTEP_BROADCAST_QUEUE_URL     = aws_sqs_queue.broadcast.url
    MAILSTEP_BROADCAST_STATE_MACHINE = local.broadcast_state_machine_arn # a name, not a reference: no cycle
    MAILSTEP_BROADCAST_SEND_RATE     = tostring(var.broadcast_send_rate)
    MAILSTEP_BROADCAST_CONCURRENCY   = tostring(var.broadcast_concurrency)
    POWERTOOLS_SERVICE_NAME          = "mailstep"
    POWERTOOLS_METRICS_NAMESPACE     = "mailstep"
    LOG_LEVEL                        = var.log_level
  }
}

# Created before the function so Lambda never creates an unmanaged group
# without retention.
resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${var.name_prefix}-${each.key}"
  retention_in_days = var.log_retention_days

  tags = local.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name    = "${var.name_prefix}-${each.key}"
  description      = each.value.description
  role             = aws_iam_role.function[each.key].arn
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = each.value.handler
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = each.value.memory_size
  timeout          = each.value.timeout

  environment {
    variables = local.environment
  }

  tags = local.tags

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.function,
  ]
}

# Asynchronous invocations (EventBridge, SNS) that fail every retry go to the
# Lambda DLQ with their request and error (an on-failure destination keeps more
# context than a function dead_letter_config).
resource "aws_lambda_function_event_invoke_config" "this" {
  for_each = { for k, f in local.functions : k => f if f.async }

  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.lambda_dlq.arn
    }
  }
}

# The only unauthenticated entry point: unsubscribe links must open without AWS
# credentials. The handler validates an HMAC token and changes nothing on GET.
# With authorization_type NONE the provider adds the public
# lambda:InvokeFunctionUrl statement (FunctionURLAllowPublicAccess) itself.
resource "aws_lambda_function_url" "unsubscribe" {
  function_name      = aws_lambda_function.this["unsubscribe"].function_name
  authorization_type = "NONE"
}
