Feature: Nothing is public but the unsubscribe link
  In order to keep subscriber data private
  As the operator of a mailstep stack
  Buckets block public access and only the unsubscribe Function URL is unauthenticated

  @noskip
  Scenario Outline: Buckets block every kind of public access
    Given I have aws_s3_bucket_public_access_block defined
    Then it must contain <setting>
    And its value must be true

    Examples:
      | setting                 |
      | block_public_acls       |
      | block_public_policy     |
      | ignore_public_acls      |
      | restrict_public_buckets |

  @noskip
  Scenario: The only unauthenticated Function URL is the unsubscribe function's
    Given I have aws_lambda_function_url defined
    When its authorization_type is NONE
    Then it must contain function_name
    And its value must match the ".*-unsubscribe$" regex

  Scenario: No Lambda permission is granted to everyone
    Given I have aws_lambda_permission defined
    Then it must contain principal
    And its value must not match the "^\*$" regex

  @noskip
  Scenario: Service principals invoke functions only from our resources
    Given I have aws_lambda_permission defined
    Then it must contain source_arn
    And its value must not be null

  # Reply capture: what SES receives for us is scanned before a function parses it.
  @noskip
  Scenario: Inbound mail is scanned for spam and viruses
    Given I have aws_ses_receipt_rule defined
    Then it must contain scan_enabled
    And its value must be true
