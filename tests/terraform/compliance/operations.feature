Feature: Operable by default
  In order to find out what went wrong and who owns what
  As the operator of a mailstep stack
  Logs are kept for a bounded time and every resource is tagged

  @noskip
  Scenario: Every log group has a retention
    Given I have aws_cloudwatch_log_group defined
    Then it must contain retention_in_days
    And its value must be greater than 0

  @noskip
  Scenario: Every taggable resource carries the application tag
    Given I have resource that supports tags defined
    Then it must contain tags
    And it must contain application
    And its value must be mailstep

  @noskip
  Scenario: EventBridge targets have a dead-letter queue
    Given I have aws_cloudwatch_event_target defined
    Then it must contain dead_letter_config
    And it must contain arn
    And its value must not be null

  @noskip
  Scenario: SQS event source mappings report batch item failures
    Given I have aws_lambda_event_source_mapping defined
    Then it must contain function_response_types
    And its value must contain ReportBatchItemFailures
