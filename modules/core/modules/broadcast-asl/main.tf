# Renders the broadcast state machine (runtime contract, "Broadcasts"):
#
#   Resolve ─▶ Done? ─┬─ done ──────────▶ Done (Succeed)
#      ▲              ├─ wait_seconds ──▶ Pace (Wait SecondsPath) ─▶ Resolve
#      │              └─ otherwise ─────▶ Invalid-result ─┐
#   Resolve ──Catch States.ALL (ResultPath $.error)───────┴─▶ Fail-record ─▶ Failed (Fail)
#
# The document is definition.asl.json.tftpl, one jsonencode expression.

locals {
  # As every Lambda Task of the sequences (modules/sequence/modules/asl, STYLE): the
  # transient Lambda errors (2 s, x2, 6 tries), then throttling and outages of the
  # services the handler calls that outlast botocore's own retries (the handler's
  # error type is the exception's name).
  lambda_retry = [
    {
      ErrorEquals = [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
      ]
      IntervalSeconds = 2
      MaxAttempts     = 6
      BackoffRate     = 2
    },
    {
      ErrorEquals = [
        "ThrottlingException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
      ]
      IntervalSeconds = 5
      MaxAttempts     = 4
      BackoffRate     = 3
    },
  ]

  definition = templatefile("${path.module}/definition.asl.json.tftpl", {
    broadcast_function_arn = var.broadcast_function_arn
    retry                  = local.lambda_retry
    # The optimised Lambda integration, in the function's partition.
    lambda_invoke = "arn:${split(":", var.broadcast_function_arn)[1]}:states:::lambda:invoke"
  })
}
