# Module logic with a mocked AWS provider: wiring the runtime contract depends on.
# Run with `terraform test` in modules/core (tests/terraform/test_terraform.py does).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { id = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_cloudwatch_event_bus" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:event-bus/mailstep-bus" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/mailstep-cleanup" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mailstep" }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mailstep-main" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mailstep-send-email" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:eu-west-1:123456789012:function:mailstep-send-email"
      invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mailstep-send-email/invocations"
    }
  }
  mock_resource "aws_lambda_function_url" {
    defaults = { function_url = "https://abc123.lambda-url.eu-west-1.on.aws/" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::mailstep-templates-123456789012" }
  }
  mock_resource "aws_ses_configuration_set" {
    defaults = { arn = "arn:aws:ses:eu-west-1:123456789012:configuration-set/mailstep-config-set" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:mailstep-bounces" }
  }
  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:eu-west-1:123456789012:mailstep-events-dlq"
      url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mailstep-events-dlq"
    }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:eu-west-1:123456789012:stateMachine:mailstep--broadcast" }
  }
  mock_resource "aws_ssm_parameter" {
    defaults = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/mailstep/config" }
  }
}

# Distinct ARNs where one mock default would hide a miswiring.
override_resource {
  target = aws_sqs_queue.lambda_dlq
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:mailstep-lambda-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mailstep-lambda-dlq"
  }
}

override_resource {
  target = aws_sqs_queue.broadcast
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:mailstep-broadcast"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mailstep-broadcast"
  }
}

override_resource {
  target = aws_sqs_queue.broadcast_dlq
  values = {
    arn = "arn:aws:sqs:eu-west-1:123456789012:mailstep-broadcast-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mailstep-broadcast-dlq"
  }
}

override_resource {
  target = aws_lambda_function.this["broadcast"]
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mailstep-broadcast" }
}

override_resource {
  target = aws_lambda_function.this["broadcast-send"]
  values = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mailstep-broadcast-send" }
}

override_resource {
  target = aws_sns_topic.ses["engagement"]
  values = { arn = "arn:aws:sns:eu-west-1:123456789012:mailstep-engagement" }
}

variables {
  name_prefix     = "mailstep"
  lambda_zip_path = "tests/fixtures/lambda.zip"
  templates_dir   = "tests/fixtures/templates"
  tags            = { team = "growth" }
}

# --- wiring -------------------------------------------------------------------

# One apply with the defaults carries every wiring assertion (each apply costs ~2 s).
run "defaults_follow_the_runtime_contract" {
  command = apply

  # --- functions follow the runtime contract
  assert {
    condition = { for k, f in aws_lambda_function.this : k => f.handler } == {
      send-email         = "mailstep.handlers.send_email.handler"
      check-condition    = "mailstep.handlers.check_condition.handler"
      unsubscribe        = "mailstep.handlers.unsubscribe.handler"
      bounce-handler     = "mailstep.handlers.bounce_handler.handler"
      engagement-handler = "mailstep.handlers.engagement_handler.handler"
      subscribe          = "mailstep.handlers.subscribe.handler"
      broadcast          = "mailstep.handlers.broadcast.handler"
      broadcast-send     = "mailstep.handlers.broadcast_send.handler"
    }
    error_message = "Function handlers differ from docs/runtime-contract.md."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : startswith(f.function_name, "mailstep-") && f.runtime == "python3.12" && f.architectures == tolist(["arm64"])])
    error_message = "Functions must be named <name_prefix>-<contract name> and default to python3.12 on arm64."
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.source_code_hash == filebase64sha256("tests/fixtures/lambda.zip")])
    error_message = "source_code_hash must follow the zip's content."
  }

  assert {
    condition = alltrue([for f in aws_lambda_function.this : jsonencode(f.environment[0].variables) == jsonencode({
      MAILSTEP_TABLE                   = "mailstep-main"
      MAILSTEP_EVENTS_TABLE            = "mailstep-events"
      MAILSTEP_TEMPLATE_BUCKET         = aws_s3_bucket.templates.id
      MAILSTEP_CONFIGURATION_SET       = "mailstep-config-set"
      MAILSTEP_EVENT_BUS               = "mailstep-bus"
      MAILSTEP_CONFIG_PARAMETER        = "/mailstep/config"
      MAILSTEP_SECRET_PARAMETER        = "/mailstep/unsubscribe-secret"
      MAILSTEP_BROADCAST_QUEUE_URL     = "https://sqs.eu-west-1.amazonaws.com/123456789012/mailstep-broadcast"
      MAILSTEP_BROADCAST_STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:mailstep--broadcast"
      MAILSTEP_BROADCAST_SEND_RATE     = "10"
      MAILSTEP_BROADCAST_CONCURRENCY   = "2"
      POWERTOOLS_SERVICE_NAME          = "mailstep"
      POWERTOOLS_METRICS_NAMESPACE     = "mailstep"
      LOG_LEVEL                        = "INFO"
    })])
    error_message = "Every function must get the contract's environment."
  }

  assert {
    condition     = { for k, g in aws_cloudwatch_log_group.function : k => [g.name, g.retention_in_days] } == { for k in keys(aws_lambda_function.this) : k => ["/aws/lambda/mailstep-${k}", 30] }
    error_message = "Each function needs its own log group (/aws/lambda/<name>) with the retention input."
  }

  assert {
    condition     = aws_lambda_function_url.unsubscribe.authorization_type == "NONE" && aws_lambda_function_url.unsubscribe.function_name == "mailstep-unsubscribe"
    error_message = "The unsubscribe function URL must be public (NONE) and point at the unsubscribe function."
  }

  assert {
    condition     = toset(keys(aws_lambda_function_event_invoke_config.this)) == toset(["send-email", "bounce-handler", "engagement-handler", "subscribe"])
    error_message = "Asynchronously invoked functions (and only those) need an on-failure destination."
  }

  assert {
    condition     = alltrue([for c in aws_lambda_function_event_invoke_config.this : c.destination_config[0].on_failure[0].destination == "arn:aws:sqs:eu-west-1:123456789012:mailstep-lambda-dlq"])
    error_message = "Failed asynchronous invocations must land in the Lambda DLQ."
  }

  # --- tables match the contract

  assert {
    condition     = alltrue([for t in [aws_dynamodb_table.main, aws_dynamodb_table.events] : t.billing_mode == "PAY_PER_REQUEST" && t.hash_key == "PK" && t.range_key == "SK"])
    error_message = "Both tables are on-demand with PK/SK keys."
  }

  assert {
    condition     = alltrue([for t in [aws_dynamodb_table.main, aws_dynamodb_table.events] : t.point_in_time_recovery[0].enabled && t.ttl[0].attribute_name == "ttl" && t.ttl[0].enabled && t.server_side_encryption[0].enabled])
    error_message = "Both tables need PITR, TTL on `ttl` and server-side encryption."
  }

  assert {
    condition = { for g in aws_dynamodb_table.events.global_secondary_index : g.name => [g.hash_key, g.range_key, g.projection_type] } == {
      by_template = ["template_key", "SK", "ALL"]
      by_sequence = ["sequence_id", "SK", "ALL"]
    }
    error_message = "The events table needs GSIs by_template (template_key) and by_sequence (sequence_id), range SK, projection ALL."
  }

  assert {
    condition     = length(aws_dynamodb_table.main.global_secondary_index) == 0
    error_message = "The main table is single-table without GSIs."
  }

  assert {
    condition     = aws_dynamodb_table.main.deletion_protection_enabled && aws_dynamodb_table.events.deletion_protection_enabled
    error_message = "Tables are protected from deletion by default."
  }

  # --- templates are uploaded one object per file

  assert {
    condition     = toset(keys(aws_s3_object.template)) == toset(["display-names.json", "onboarding/welcome.html", "onboarding/welcome.txt"])
    error_message = "Every file under templates_dir except hidden ones becomes one object keyed by its relative path."
  }

  assert {
    condition = { for k, o in aws_s3_object.template : k => o.content_type } == {
      "display-names.json"      = "application/json"
      "onboarding/welcome.html" = "text/html; charset=utf-8"
      "onboarding/welcome.txt"  = "text/plain; charset=utf-8"
    }
    error_message = "Content types follow the file extension."
  }

  assert {
    condition     = alltrue([for k, o in aws_s3_object.template : o.source_hash == filemd5("tests/fixtures/templates/${k}") && o.etag == filemd5("tests/fixtures/templates/${k}")])
    error_message = "Objects carry the file's MD5 so edits re-upload."
  }

  assert {
    condition     = aws_s3_bucket_public_access_block.templates.block_public_acls && aws_s3_bucket_public_access_block.templates.block_public_policy && aws_s3_bucket_public_access_block.templates.ignore_public_acls && aws_s3_bucket_public_access_block.templates.restrict_public_buckets
    error_message = "The templates bucket blocks all public access."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.templates.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "Without a KMS key the bucket uses SSE-S3."
  }

  assert {
    condition     = aws_s3_bucket.templates.bucket == "mailstep-templates-123456789012" && length(aws_s3_bucket_versioning.templates) == 0
    error_message = "Bucket name is <prefix>-templates-<account>; versioning is off by default."
  }

  # --- ses events reach the handlers only from our configuration set

  assert {
    condition = { for k, d in aws_ses_event_destination.sns : k => toset(d.matching_types) } == {
      bounces    = toset(["bounce", "complaint"])
      engagement = toset(["delivery", "open", "click", "bounce", "complaint"])
    }
    error_message = "Bounce/complaint go to the bounce topic; delivery/open/click/bounce/complaint to the engagement topic."
  }

  assert {
    condition     = length(aws_ses_configuration_set.this.tracking_options) == 0
    error_message = "Tracking options are set only with a custom redirect domain."
  }

  assert {
    condition = alltrue(flatten([for k, doc in data.aws_iam_policy_document.ses_topic : [
      for s in doc.statement : [
        s.actions == toset(["sns:Publish"]),
        one(s.principals).identifiers == toset(["ses.amazonaws.com"]),
        jsonencode({ for c in s.condition : c.variable => c.values }) == jsonencode({
          "AWS:SourceAccount" = ["123456789012"]
          "AWS:SourceArn"     = ["arn:aws:ses:eu-west-1:123456789012:configuration-set/mailstep-config-set"]
        }),
      ]
    ]]))
    error_message = "Topic policies allow only ses.amazonaws.com, from this account and this configuration set."
  }

  assert {
    condition     = { for k, s in aws_sns_topic_subscription.handler : k => [s.protocol, s.topic_arn] } == { bounce-handler = ["lambda", aws_sns_topic.ses["bounces"].arn], engagement-handler = ["lambda", aws_sns_topic.ses["engagement"].arn] }
    error_message = "Each SNS topic feeds its handler."
  }

  assert {
    condition     = alltrue([for p in aws_lambda_permission.sns : p.principal == "sns.amazonaws.com" && p.source_arn != null])
    error_message = "SNS may invoke the handlers only from our topics."
  }

  # --- iam is scoped per function

  assert {
    condition = alltrue([for k in ["send-email", "unsubscribe", "bounce-handler"] :
      one([for s in data.aws_iam_policy_document.function[k].statement : s.resources if s.sid == "StopOwnExecutions"]) == toset(["arn:aws:states:eu-west-1:123456789012:execution:mailstep-*:*"])
    ])
    error_message = "states:StopExecution must be scoped to execution:<name_prefix>-*:*."
  }

  assert {
    condition     = alltrue([for k in ["check-condition", "engagement-handler", "subscribe"] : length([for s in data.aws_iam_policy_document.function[k].statement : s if s.sid == "StopOwnExecutions"]) == 0])
    error_message = "Only send-email, unsubscribe and bounce-handler may stop executions."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["check-condition"].statement : s.actions if s.sid == "MainTable"]) == toset(["dynamodb:GetItem"])
    error_message = "check-condition only reads the main table."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["subscribe"].statement : s.actions if s.sid == "MainTable"]) == toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"])
    error_message = "subscribe reads and writes profiles and tag rows of the main table, nothing more."
  }

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.function["subscribe"].statement : s.sid]) == toset(["WriteOwnLogs", "MainTable", "OnFailureDestination"])
    error_message = "subscribe needs no SSM, SES, Step Functions, S3 or EventBridge permissions."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["engagement-handler"].statement : s.actions if s.sid == "EventsTable"]) == toset(["dynamodb:PutItem"])
    error_message = "engagement-handler only writes events."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["bounce-handler"].statement : s.resources if s.sid == "ReadParameters"]) == toset(["arn:aws:ssm:eu-west-1:123456789012:parameter/mailstep/config"])
    error_message = "bounce-handler reads the config parameter, never the secret."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["send-email"].statement : s.resources if s.sid == "SendEmail"]) == toset(["arn:aws:ses:eu-west-1:123456789012:identity/*", "arn:aws:ses:eu-west-1:123456789012:configuration-set/mailstep-config-set"])
    error_message = "send-email may send only with identities of this account and our configuration set."
  }

  assert {
    condition = alltrue(flatten([for k, doc in data.aws_iam_policy_document.function : [
      for s in doc.statement : [for a in s.actions : !strcontains(a, "*")]
    ]]))
    error_message = "No wildcard actions in function policies."
  }

  assert {
    condition = alltrue(flatten([for k, doc in data.aws_iam_policy_document.function : [
      for s in doc.statement : [for r in s.resources : r != "*"]
    ]]))
    error_message = "No `*` resources in function policies."
  }

  assert {
    condition     = toset([for r in aws_iam_role.function : r.name]) == toset([for k in keys(aws_lambda_function.this) : "mailstep-${k}"])
    error_message = "One role per function."
  }

  # --- cleanup rule targets send email on the default bus

  assert {
    condition     = coalesce(aws_cloudwatch_event_rule.cleanup.event_bus_name, "default") == "default"
    error_message = "Step Functions status changes arrive on the default bus (no bus name given)."
  }

  assert {
    condition = jsondecode(aws_cloudwatch_event_rule.cleanup.event_pattern) == {
      source        = ["aws.states"]
      "detail-type" = ["Step Functions Execution Status Change"]
      detail = {
        status          = ["FAILED", "TIMED_OUT", "ABORTED"]
        stateMachineArn = [{ prefix = "arn:aws:states:eu-west-1:123456789012:stateMachine:mailstep-" }]
      }
    }
    error_message = "The cleanup rule matches failed, timed-out and aborted executions of <name_prefix>-* state machines."
  }

  assert {
    condition     = aws_cloudwatch_event_target.cleanup.arn == aws_lambda_function.this["send-email"].arn && aws_cloudwatch_event_target.cleanup.input == null && length(aws_cloudwatch_event_target.cleanup.input_transformer) == 0
    error_message = "The cleanup rule sends the event unchanged to send-email."
  }

  assert {
    condition     = aws_cloudwatch_event_target.cleanup.dead_letter_config[0].arn == aws_sqs_queue.events_dlq.arn && aws_cloudwatch_event_target.cleanup.retry_policy[0].maximum_retry_attempts > 0
    error_message = "The cleanup target needs a retry policy and the DLQ."
  }

  # --- subscribe rule: app events only, on our bus

  assert {
    condition = aws_cloudwatch_event_rule.subscribe.event_bus_name == "mailstep-bus" && jsondecode(aws_cloudwatch_event_rule.subscribe.event_pattern) == {
      source        = [{ "anything-but" = "mailstep" }]
      "detail-type" = ["subscriber.subscribed", "subscriber.updated"]
    }
    error_message = "The subscribe rule matches subscriber.subscribed/updated on our bus, from any source but mailstep (no loops)."
  }

  assert {
    condition     = aws_cloudwatch_event_target.subscribe.arn == aws_lambda_function.this["subscribe"].arn && aws_cloudwatch_event_target.subscribe.event_bus_name == "mailstep-bus" && aws_cloudwatch_event_target.subscribe.input == null && length(aws_cloudwatch_event_target.subscribe.input_transformer) == 0
    error_message = "The subscribe rule sends the whole event to the subscribe function."
  }

  assert {
    condition     = aws_cloudwatch_event_target.subscribe.dead_letter_config[0].arn == aws_sqs_queue.events_dlq.arn && aws_cloudwatch_event_target.subscribe.retry_policy[0].maximum_retry_attempts > 0
    error_message = "The subscribe target needs a retry policy and the DLQ."
  }

  assert {
    condition     = aws_lambda_permission.subscribe.principal == "events.amazonaws.com" && aws_lambda_permission.subscribe.source_arn == aws_cloudwatch_event_rule.subscribe.arn && aws_lambda_permission.subscribe.function_name == "mailstep-subscribe"
    error_message = "Only the subscribe rule may invoke the subscribe function."
  }

  assert {
    condition = jsonencode({
      for c in one(data.aws_iam_policy_document.events_dlq.statement).condition : c.variable => c.values
      }) == jsonencode({
      "aws:SourceAccount" = ["123456789012"]
      "aws:SourceArn" = [
        "arn:aws:events:eu-west-1:123456789012:rule/mailstep-*",
        "arn:aws:events:eu-west-1:123456789012:rule/mailstep-bus/mailstep-*",
      ]
    })
    error_message = "Only this stack's EventBridge rules may send to the DLQ."
  }

  assert {
    condition     = aws_sqs_queue.events_dlq.sqs_managed_sse_enabled && aws_sqs_queue.lambda_dlq.sqs_managed_sse_enabled
    error_message = "Dead-letter queues are encrypted."
  }

  # --- parameters hold config and a write only secret

  assert {
    condition = jsondecode(aws_ssm_parameter.config.value) == {
      unsubscribe_url   = "https://abc123.lambda-url.eu-west-1.on.aws/"
      data_ttl_days     = 0
      events_ttl_days   = 365
      token_ttl_days    = 90
      display_names_key = "display-names.json"
    }
    error_message = "The config parameter holds the contract's JSON with the Function URL."
  }

  assert {
    condition     = aws_ssm_parameter.config.type == "String" && aws_ssm_parameter.unsubscribe_secret.type == "SecureString"
    error_message = "Config is a String, the secret a SecureString."
  }

  assert {
    condition     = aws_ssm_parameter.unsubscribe_secret.value_wo == null && aws_ssm_parameter.unsubscribe_secret.value_wo_version == 1
    error_message = "The secret is write-only: nothing of it is kept in state."
  }

  assert {
    condition     = output.secret_parameter_name == "/mailstep/unsubscribe-secret" && output.config_parameter_name == "/mailstep/config"
    error_message = "Outputs name the parameters (never their values)."
  }

  # --- everything is tagged without default tags

  assert {
    condition = alltrue(flatten([
      [for r in [aws_dynamodb_table.main, aws_dynamodb_table.events, aws_s3_bucket.templates, aws_cloudwatch_event_bus.this, aws_sqs_queue.events_dlq, aws_sqs_queue.lambda_dlq, aws_sqs_queue.broadcast, aws_sqs_queue.broadcast_dlq, aws_lambda_event_source_mapping.broadcast, aws_sfn_state_machine.broadcast, aws_iam_role.broadcast_state_machine, aws_cloudwatch_log_group.broadcast_state_machine, aws_cloudwatch_event_rule.cleanup, aws_ssm_parameter.config, aws_ssm_parameter.unsubscribe_secret] : r.tags == tomap({ application = "mailstep", team = "growth" })],
      [for r in aws_lambda_function.this : r.tags == tomap({ application = "mailstep", team = "growth" })],
      [for r in aws_iam_role.function : r.tags == tomap({ application = "mailstep", team = "growth" })],
      [for r in aws_cloudwatch_log_group.function : r.tags == tomap({ application = "mailstep", team = "growth" })],
      [for r in aws_sns_topic.ses : r.tags == tomap({ application = "mailstep", team = "growth" })],
      [for r in aws_cloudwatch_metric_alarm.function_errors : r.tags == tomap({ application = "mailstep", team = "growth" })],
      [for r in aws_s3_object.template : r.tags == tomap({ application = "mailstep", team = "growth" })],
    ]))
    error_message = "Every taggable resource carries tags merged with application = mailstep."
  }

  # --- broadcasts: queue, event source mapping, state machine, grants

  assert {
    condition     = aws_sqs_queue.broadcast.name == "mailstep-broadcast" && aws_sqs_queue.broadcast.visibility_timeout_seconds == 360 && aws_sqs_queue.broadcast.sqs_managed_sse_enabled && jsondecode(aws_sqs_queue.broadcast.redrive_policy) == { deadLetterTargetArn = "arn:aws:sqs:eu-west-1:123456789012:mailstep-broadcast-dlq", maxReceiveCount = 5 }
    error_message = "The broadcast queue is encrypted, hides a message for 6x broadcast-send's timeout and redrives to its DLQ after 5 receives."
  }

  assert {
    condition     = aws_sqs_queue.broadcast_dlq.name == "mailstep-broadcast-dlq" && aws_sqs_queue.broadcast_dlq.message_retention_seconds == 1209600 && aws_sqs_queue.broadcast_dlq.sqs_managed_sse_enabled && aws_cloudwatch_metric_alarm.dlq["broadcast"].dimensions.QueueName == "mailstep-broadcast-dlq"
    error_message = "The broadcast DLQ keeps 14 days, is encrypted and has a depth alarm."
  }

  assert {
    condition = (aws_lambda_event_source_mapping.broadcast.event_source_arn == aws_sqs_queue.broadcast.arn
      && aws_lambda_event_source_mapping.broadcast.function_name == "arn:aws:lambda:eu-west-1:123456789012:function:mailstep-broadcast-send"
      && aws_lambda_event_source_mapping.broadcast.batch_size == 10
      && aws_lambda_event_source_mapping.broadcast.function_response_types == toset(["ReportBatchItemFailures"])
    && aws_lambda_event_source_mapping.broadcast.scaling_config[0].maximum_concurrency == 2)
    error_message = "The queue feeds broadcast-send in batches of 10, with batch item failures and maximum_concurrency = broadcast_concurrency."
  }

  assert {
    condition     = aws_sfn_state_machine.broadcast.name == "mailstep--broadcast" && aws_sfn_state_machine.broadcast.type == "STANDARD" && aws_sfn_state_machine.broadcast.logging_configuration[0].level == "ERROR" && !aws_sfn_state_machine.broadcast.logging_configuration[0].include_execution_data
    error_message = "The broadcast state machine is STANDARD, named <name_prefix>--broadcast, logging errors without execution data."
  }

  assert {
    condition = (jsondecode(aws_sfn_state_machine.broadcast.definition).States.Resolve.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:mailstep-broadcast"
      && jsondecode(aws_sfn_state_machine.broadcast.definition).States["Fail-record"].Parameters.FunctionName == "arn:aws:lambda:eu-west-1:123456789012:function:mailstep-broadcast"
    && aws_sfn_state_machine.broadcast.definition == output.broadcast_definition)
    error_message = "Both Tasks invoke the broadcast function; the definition is exported."
  }

  assert {
    condition = (one([for s in data.aws_iam_policy_document.broadcast_state_machine.statement : s.resources if s.sid == "InvokeBroadcast"]) == toset(["arn:aws:lambda:eu-west-1:123456789012:function:mailstep-broadcast"])
    && toset([for s in data.aws_iam_policy_document.broadcast_state_machine.statement : s.sid]) == toset(["InvokeBroadcast", "DeliverLogs"]))
    error_message = "The state machine may invoke the broadcast function only (and deliver its logs)."
  }

  assert {
    condition = jsonencode({ for c in one(data.aws_iam_policy_document.broadcast_state_machine_trust.statement).condition : c.variable => c.values }) == jsonencode({
      "aws:SourceAccount" = ["123456789012"]
      "aws:SourceArn"     = ["arn:aws:states:eu-west-1:123456789012:stateMachine:mailstep--broadcast"]
    })
    error_message = "Only the broadcast state machine of this account may assume its role."
  }

  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.function["broadcast"].statement : s.sid => [s.actions, s.resources] }) == jsonencode({
      BroadcastQueue            = [["sqs:SendMessage"], ["arn:aws:sqs:eu-west-1:123456789012:mailstep-broadcast"]]
      MainTable                 = [["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"], ["arn:aws:dynamodb:eu-west-1:123456789012:table/mailstep-main"]]
      ManageBroadcastExecutions = [["states:DescribeExecution", "states:StopExecution"], ["arn:aws:states:eu-west-1:123456789012:execution:mailstep--broadcast:*"]]
      ReadParameters            = [["ssm:GetParameter"], ["arn:aws:ssm:eu-west-1:123456789012:parameter/mailstep/config"]]
      ReadTemplates             = [["s3:GetObject"], ["arn:aws:s3:::mailstep-templates-123456789012/*"]]
      StartBroadcastExecutions  = [["states:StartExecution"], ["arn:aws:states:eu-west-1:123456789012:stateMachine:mailstep--broadcast"]]
      WriteOwnLogs              = [["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mailstep:*"]]
    })
    error_message = "broadcast gets exactly the contract's grants: table pages, templates, SendMessage, its own executions, the config."
  }

  assert {
    condition = jsonencode({ for s in data.aws_iam_policy_document.function["broadcast-send"].statement : s.sid => [s.actions, s.resources] if contains(["BroadcastQueue", "MainTable", "ReadParameters", "SendEmail", "PublishLifecycleEvents"], s.sid) }) == jsonencode({
      BroadcastQueue         = [["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"], ["arn:aws:sqs:eu-west-1:123456789012:mailstep-broadcast"]]
      MainTable              = [["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"], ["arn:aws:dynamodb:eu-west-1:123456789012:table/mailstep-main"]]
      PublishLifecycleEvents = [["events:PutEvents"], ["arn:aws:events:eu-west-1:123456789012:event-bus/mailstep-bus"]]
      ReadParameters         = [["ssm:GetParameter"], ["arn:aws:ssm:eu-west-1:123456789012:parameter/mailstep/config", "arn:aws:ssm:eu-west-1:123456789012:parameter/mailstep/unsubscribe-secret"]]
      SendEmail              = [["ses:SendEmail"], ["arn:aws:ses:eu-west-1:123456789012:configuration-set/mailstep-config-set", "arn:aws:ses:eu-west-1:123456789012:identity/*"]]
    })
    error_message = "broadcast-send consumes the queue (ReceiveMessage, DeleteMessage, GetQueueAttributes), claims, sends and publishes."
  }

  assert {
    condition     = toset([for s in data.aws_iam_policy_document.function["broadcast-send"].statement : s.sid]) == toset(["WriteOwnLogs", "MainTable", "ReadTemplates", "SendEmail", "ReadParameters", "PublishLifecycleEvents", "BroadcastQueue"])
    error_message = "broadcast-send may not stop or start executions."
  }

  assert {
    condition     = alltrue([for k in ["send-email", "check-condition", "unsubscribe", "bounce-handler", "engagement-handler", "subscribe"] : length([for s in data.aws_iam_policy_document.function[k].statement : s if contains(["BroadcastQueue", "StartBroadcastExecutions", "ManageBroadcastExecutions"], s.sid)]) == 0])
    error_message = "Only the broadcast functions touch the broadcast queue or state machine."
  }

  assert {
    condition     = output.broadcast_queue_url == aws_sqs_queue.broadcast.url && output.broadcast_queue_arn == aws_sqs_queue.broadcast.arn && output.broadcast_dlq_url == aws_sqs_queue.broadcast_dlq.url && output.broadcast_state_machine_arn == aws_sfn_state_machine.broadcast.arn && output.broadcast_function_name == "mailstep-broadcast"
    error_message = "The outputs name the broadcast queue, DLQ, state machine and function."
  }

  # --- core output is what a sequence needs

  assert {
    condition     = output.core.name_prefix == "mailstep" && output.core.region == "eu-west-1" && output.core.account_id == "123456789012" && output.core.partition == "aws" && output.core.event_bus_name == "mailstep-bus" && output.core.send_email_function_arn == aws_lambda_function.this["send-email"].arn && output.core.check_condition_function_arn == aws_lambda_function.this["check-condition"].arn && output.core.dlq_arn == aws_sqs_queue.events_dlq.arn && output.core.log_retention_days == 30 && output.core.kms_key_arn == null
    error_message = "The core object output carries what a sequence module needs."
  }

  assert {
    condition     = length(aws_sns_topic.replies) == 0 && length(aws_ses_receipt_rule_set.replies) == 0 && length(aws_ses_active_receipt_rule_set.replies) == 0 && output.replies_topic_arn == null && !contains(keys(aws_lambda_function.this), "reply")
    error_message = "Reply capture is off by default: no topic, rule set, or reply function."
  }

  assert {
    condition     = output.core.template_keys == tolist(["display-names.json", "onboarding/welcome.html", "onboarding/welcome.txt"])
    error_message = "The core output lists the uploaded template keys (sequences check their templates exist)."
  }
}

# --- options --------------------------------------------------------------------

run "customer_managed_key_encrypts_data_at_rest" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = aws_dynamodb_table.main.server_side_encryption[0].kms_key_arn == var.kms_key_arn && aws_dynamodb_table.events.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    error_message = "Tables use the customer managed key."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.templates.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" && one(one(aws_s3_bucket_server_side_encryption_configuration.templates.rule).apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn
    error_message = "The bucket uses SSE-KMS with the key."
  }

  assert {
    condition     = alltrue([for k, o in aws_s3_object.template : o.source_hash == filemd5("tests/fixtures/templates/${k}")])
    error_message = "Under SSE-KMS the ETag is no MD5: objects rely on source_hash."
  }

  assert {
    condition     = aws_ssm_parameter.unsubscribe_secret.key_id == var.kms_key_arn && alltrue([for t in aws_sns_topic.ses : t.kms_master_key_id == var.kms_key_arn])
    error_message = "The secret and the SES topics use the key."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["send-email"].statement : s.resources if s.sid == "DecryptWithCustomerKey"]) == toset([var.kms_key_arn]) && length([for s in data.aws_iam_policy_document.function["check-condition"].statement : s if s.sid == "DecryptWithCustomerKey"]) == 0
    error_message = "Only functions that read the secret or templates may decrypt with the key."
  }

  assert {
    condition     = output.core.kms_key_arn == var.kms_key_arn
    error_message = "The core output passes the key on to sequences."
  }
}

run "alarms_notify_the_given_topic" {
  command = apply

  variables {
    alarm_topic_arn = "arn:aws:sns:eu-west-1:123456789012:ops-alerts"
  }

  assert {
    condition     = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.dlq), values(aws_cloudwatch_metric_alarm.function_errors)) : a.alarm_actions == toset([var.alarm_topic_arn]) && a.ok_actions == toset([var.alarm_topic_arn])])
    error_message = "Every alarm notifies alarm_topic_arn."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.function_errors)) == toset(keys(aws_lambda_function.this)) && toset(keys(aws_cloudwatch_metric_alarm.dlq)) == toset(["events", "lambda", "broadcast"])
    error_message = "One error alarm per function and one depth alarm per DLQ."
  }
}

run "broadcast_rate_and_concurrency_inputs" {
  command = plan

  variables {
    broadcast_send_rate   = 14
    broadcast_concurrency = 5
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.environment[0].variables.MAILSTEP_BROADCAST_SEND_RATE == "14" && f.environment[0].variables.MAILSTEP_BROADCAST_CONCURRENCY == "5"])
    error_message = "The send rate and concurrency reach every function's environment."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.broadcast.scaling_config[0].maximum_concurrency == 5
    error_message = "broadcast_concurrency caps the event source mapping."
  }
}

run "email_identity" {
  command = apply

  variables {
    ses_identity = "hello@acme.io"
  }

  assert {
    condition     = length(aws_ses_email_identity.this) == 1 && aws_ses_email_identity.this[0].email == "hello@acme.io" && length(aws_ses_domain_identity.this) == 0 && output.ses_dns_records == []
    error_message = "An address creates an email identity only."
  }
}

run "domain_identity_with_dkim_and_custom_tracking_domain" {
  command = apply

  variables {
    ses_identity             = "acme.io"
    tracking_redirect_domain = "links.acme.io"
  }

  assert {
    condition     = length(aws_ses_domain_identity.this) == 1 && length(aws_ses_domain_dkim.this) == 1 && length(aws_ses_email_identity.this) == 0
    error_message = "A domain creates a domain identity with DKIM."
  }

  assert {
    condition     = aws_ses_configuration_set.this.tracking_options[0].custom_redirect_domain == "links.acme.io"
    error_message = "A custom redirect domain sets the configuration set's tracking options."
  }
}

run "runtime_architecture_and_versioning_inputs" {
  command = apply

  variables {
    lambda_runtime              = "python3.13"
    lambda_architecture         = "x86_64"
    log_retention_days          = 90
    templates_bucket_versioning = true
    deletion_protection         = false
    templates_dir               = null
  }

  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.runtime == "python3.13" && f.architectures == tolist(["x86_64"])])
    error_message = "Runtime and architecture follow the inputs."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.function : g.retention_in_days == 90])
    error_message = "Retention follows log_retention_days."
  }

  assert {
    condition     = length(aws_s3_bucket_versioning.templates) == 1 && length(aws_s3_object.template) == 0 && !aws_dynamodb_table.main.deletion_protection_enabled
    error_message = "Versioning, no templates and no deletion protection when asked."
  }
}

# --- validations: every validation block fails on a bad value ---------------------

run "reply_capture_receives_into_the_reply_function" {
  command = apply

  variables {
    reply_capture = { recipients = ["replies@acme.io", "acme.io"] }
  }

  override_resource {
    target = aws_sns_topic.replies[0]
    values = { arn = "arn:aws:sns:eu-west-1:123456789012:mailstep-replies" }
  }

  assert {
    condition     = aws_lambda_function.this["reply"].handler == "mailstep.handlers.reply.handler" && aws_lambda_function.this["reply"].function_name == "mailstep-reply" && contains(keys(aws_lambda_function_event_invoke_config.this), "reply")
    error_message = "reply_capture adds the reply function (asynchronous: it has an on-failure destination)."
  }

  assert {
    condition     = aws_sns_topic.replies[0].name == "mailstep-replies" && output.replies_topic_arn == "arn:aws:sns:eu-west-1:123456789012:mailstep-replies"
    error_message = "Replies arrive on the <name_prefix>-replies topic, exported as replies_topic_arn."
  }

  assert {
    condition = (
      aws_ses_receipt_rule_set.replies[0].rule_set_name == "mailstep-replies" &&
      aws_ses_receipt_rule.replies[0].rule_set_name == "mailstep-replies" &&
      aws_ses_receipt_rule.replies[0].recipients == toset(["replies@acme.io", "acme.io"]) &&
      aws_ses_receipt_rule.replies[0].scan_enabled &&
      aws_ses_receipt_rule.replies[0].enabled &&
      one(aws_ses_receipt_rule.replies[0].sns_action).encoding == "UTF-8" &&
      one(aws_ses_receipt_rule.replies[0].sns_action).topic_arn == aws_sns_topic.replies[0].arn
    )
    error_message = "One receipt rule sends the recipients' mail, scanned, UTF-8 encoded, to the replies topic."
  }

  assert {
    condition     = length(aws_ses_active_receipt_rule_set.replies) == 0
    error_message = "The rule set is not activated unless asked (activating replaces the account's active set)."
  }

  assert {
    condition = jsonencode({ for c in one(data.aws_iam_policy_document.replies_topic[0].statement).condition : c.variable => c.values }) == jsonencode({
      "AWS:SourceAccount" = ["123456789012"]
      "AWS:SourceArn"     = ["arn:aws:ses:eu-west-1:123456789012:receipt-rule-set/mailstep-replies:receipt-rule/mailstep-replies"]
    }) && one(one(data.aws_iam_policy_document.replies_topic[0].statement).principals).identifiers == toset(["ses.amazonaws.com"])
    error_message = "Only SES, from this account and our receipt rule, may publish to the replies topic."
  }

  assert {
    condition     = aws_sns_topic_subscription.reply[0].endpoint == aws_lambda_function.this["reply"].arn && aws_lambda_permission.reply[0].source_arn == aws_sns_topic.replies[0].arn && aws_lambda_permission.reply[0].principal == "sns.amazonaws.com"
    error_message = "The replies topic feeds the reply function, and only it may invoke it."
  }

  assert {
    condition = (
      one([for s in data.aws_iam_policy_document.function["reply"].statement : s.actions if s.sid == "MainTable"]) == toset(["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"]) &&
      one([for s in data.aws_iam_policy_document.function["reply"].statement : s.actions if s.sid == "EventsTable"]) == toset(["dynamodb:PutItem"]) &&
      toset([for s in data.aws_iam_policy_document.function["reply"].statement : s.sid]) == toset(["WriteOwnLogs", "MainTable", "EventsTable", "ReadParameters", "PublishLifecycleEvents", "OnFailureDestination"])
    )
    error_message = "reply reads profiles and send logs, counts, writes events and publishes; no SES without forward_to."
  }

  assert {
    condition     = !contains(keys(jsondecode(aws_ssm_parameter.config.value)), "reply_forward_to")
    error_message = "Without forward_to the runtime config has no reply_forward_to."
  }
}

run "reply_capture_activation_and_forwarding" {
  command = apply

  variables {
    reply_capture = { recipients = ["acme.io"], activate = true, forward_to = "team@acme.io" }
  }

  assert {
    condition     = aws_ses_active_receipt_rule_set.replies[0].rule_set_name == "mailstep-replies"
    error_message = "activate = true makes our rule set the active one."
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.function["reply"].statement : s.actions if s.sid == "ForwardReplies"]) == toset(["ses:SendEmail", "ses:SendRawEmail"]) && one([for s in data.aws_iam_policy_document.function["reply"].statement : s.resources if s.sid == "ForwardReplies"]) == toset(["arn:aws:ses:eu-west-1:123456789012:identity/*"])
    error_message = "forward_to lets reply send raw email from this account's identities."
  }

  assert {
    condition     = jsondecode(aws_ssm_parameter.config.value).reply_forward_to == "team@acme.io"
    error_message = "forward_to reaches the function through the runtime config."
  }

  assert {
    condition     = alltrue([for k, doc in data.aws_iam_policy_document.function : length([for s in doc.statement : s if s.sid == "ForwardReplies"]) == 0 if k != "reply"])
    error_message = "Only reply may forward."
  }
}

run "reply_capture_needs_recipients" {
  command = plan
  variables { reply_capture = { recipients = [] } }
  expect_failures = [var.reply_capture]
}

run "reply_capture_recipients_must_be_addresses_or_domains" {
  command = plan
  variables { reply_capture = { recipients = ["not a domain"] } }
  expect_failures = [var.reply_capture]
}

run "reply_capture_forward_to_must_be_an_address" {
  command = plan
  variables { reply_capture = { recipients = ["acme.io"], forward_to = "acme.io" } }
  expect_failures = [var.reply_capture]
}

run "name_prefix_rejects_uppercase" {
  command = plan
  variables { name_prefix = "MailStep" }
  expect_failures = [var.name_prefix]
}

run "name_prefix_rejects_leading_digit" {
  command = plan
  variables { name_prefix = "1mail" }
  expect_failures = [var.name_prefix]
}

run "name_prefix_rejects_more_than_32_characters" {
  command = plan
  variables { name_prefix = "a23456789012345678901234567890123" }
  expect_failures = [var.name_prefix]
}

run "name_prefix_rejects_trailing_or_double_hyphen" {
  command = plan
  variables { name_prefix = "mail--step-" }
  expect_failures = [var.name_prefix]
}

run "name_prefix_accepts_32_characters" {
  command = plan
  variables { name_prefix = "a2345678901234567890123456789012" }
}

run "lambda_zip_path_must_exist" {
  command = plan
  variables { lambda_zip_path = "build/does-not-exist.zip" }
  expect_failures = [var.lambda_zip_path]
}

run "kms_key_arn_must_be_a_key_arn" {
  command = plan
  variables { kms_key_arn = "alias/mailstep" }
  expect_failures = [var.kms_key_arn]
}

run "log_retention_days_must_be_a_cloudwatch_value" {
  command = plan
  variables { log_retention_days = 2 }
  expect_failures = [var.log_retention_days]
}

run "data_ttl_days_must_not_be_negative" {
  command = plan
  variables { data_ttl_days = -1 }
  expect_failures = [var.data_ttl_days]
}

run "events_ttl_days_must_be_positive" {
  command = plan
  variables { events_ttl_days = 0 }
  expect_failures = [var.events_ttl_days]
}

run "token_ttl_days_must_be_whole_days" {
  command = plan
  variables { token_ttl_days = 1.5 }
  expect_failures = [var.token_ttl_days]
}

run "unsubscribe_base_url_must_be_https" {
  command = plan
  variables { unsubscribe_base_url = "http://unsubscribe.acme.test/" }
  expect_failures = [var.unsubscribe_base_url]
}

run "unsubscribe_base_url_has_no_query" {
  command = plan
  variables { unsubscribe_base_url = "https://unsubscribe.acme.test/?x=1" }
  expect_failures = [var.unsubscribe_base_url]
}

run "unsubscribe_base_url_goes_into_the_config" {
  command = plan
  variables { unsubscribe_base_url = "https://unsubscribe.acme.test/u" }

  assert {
    condition     = jsondecode(aws_ssm_parameter.config.value).unsubscribe_url == "https://unsubscribe.acme.test/u"
    error_message = "Links point at unsubscribe_base_url when it is set."
  }
}

run "lambda_runtime_must_be_supported" {
  command = plan
  variables { lambda_runtime = "python3.9" }
  expect_failures = [var.lambda_runtime]
}

run "lambda_architecture_must_be_supported" {
  command = plan
  variables { lambda_architecture = "aarch64" }
  expect_failures = [var.lambda_architecture]
}

run "log_level_must_be_known" {
  command = plan
  variables { log_level = "TRACE" }
  expect_failures = [var.log_level]
}

run "unsubscribe_secret_must_be_long" {
  command = plan
  variables { unsubscribe_secret = "too-short" }
  expect_failures = [var.unsubscribe_secret]
}

run "unsubscribe_secret_version_must_be_positive" {
  command = plan
  variables { unsubscribe_secret_version = 0 }
  expect_failures = [var.unsubscribe_secret_version]
}

run "ses_identity_must_be_domain_or_email" {
  command = plan
  variables { ses_identity = "not an identity" }
  expect_failures = [var.ses_identity]
}

run "tracking_redirect_domain_must_be_a_domain" {
  command = plan
  variables { tracking_redirect_domain = "https://links.acme.io" }
  expect_failures = [var.tracking_redirect_domain]
}

run "alarm_topic_arn_must_be_a_topic_arn" {
  command = plan
  variables { alarm_topic_arn = "ops-alerts" }
  expect_failures = [var.alarm_topic_arn]
}

run "broadcast_send_rate_must_be_positive" {
  command = plan
  variables { broadcast_send_rate = 0 }
  expect_failures = [var.broadcast_send_rate]
}

run "broadcast_send_rate_must_not_exceed_10000" {
  command = plan
  variables { broadcast_send_rate = 10001 }
  expect_failures = [var.broadcast_send_rate]
}

run "broadcast_concurrency_must_be_at_least_2" {
  command = plan
  variables { broadcast_concurrency = 1 }
  expect_failures = [var.broadcast_concurrency]
}

run "broadcast_concurrency_must_not_exceed_1000" {
  command = plan
  variables { broadcast_concurrency = 1001 }
  expect_failures = [var.broadcast_concurrency]
}

run "broadcast_concurrency_must_be_whole" {
  command = plan
  variables { broadcast_concurrency = 2.5 }
  expect_failures = [var.broadcast_concurrency]
}
