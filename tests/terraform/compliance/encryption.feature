Feature: Data at rest is encrypted and recoverable
  In order to protect subscriber data
  As the operator of a mailstep stack
  Every table, bucket and queue is encrypted, and tables can be restored

  @noskip
  Scenario: DynamoDB tables use server-side encryption
    Given I have aws_dynamodb_table defined
    Then it must contain server_side_encryption
    And it must contain enabled
    And its value must be true

  @noskip
  Scenario: DynamoDB tables keep point-in-time recovery
    Given I have aws_dynamodb_table defined
    Then it must contain point_in_time_recovery
    And it must contain enabled
    And its value must be true

  @noskip
  Scenario: DynamoDB tables expire items on the ttl attribute
    Given I have aws_dynamodb_table defined
    Then it must contain ttl
    And it must contain attribute_name
    And its value must be ttl

  @noskip
  Scenario: Bucket encryption is SSE-S3 or SSE-KMS
    Given I have aws_s3_bucket_server_side_encryption_configuration defined
    Then it must contain rule
    And it must contain apply_server_side_encryption_by_default
    And it must contain sse_algorithm
    And its value must match the "^(AES256|aws:kms)$" regex

  @noskip
  Scenario: Queues are encrypted
    Given I have aws_sqs_queue defined
    Then it must contain sqs_managed_sse_enabled
    And its value must be true

  @noskip
  Scenario: Queues that are not dead-letter queues redrive to one
    Given I have aws_sqs_queue defined
    When its name is not ".*-dlq$" regex
    Then it must contain redrive_policy
    And it must contain deadLetterTargetArn
    And its value must match the "^arn:aws:sqs:.*-dlq$" regex

  @noskip
  Scenario: The unsubscribe secret is a SecureString
    Given I have aws_ssm_parameter defined
    When its name is ".*/unsubscribe-secret$" regex
    Then it must contain type
    And its value must be SecureString
