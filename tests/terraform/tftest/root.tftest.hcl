# Root stack validations with a mocked AWS provider. Run from the repository root:
#   terraform test -test-directory=tests/terraform/tftest
# (tests/terraform/test_terraform.py does, on a copy of the sources).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  lambda_zip_path = "modules/core/tests/fixtures/lambda.zip"
}

run "defaults_plan" {
  command = plan

  assert {
    condition     = module.core.function_names["send-email"] == "mailstep-send-email" && module.core.event_bus_name == "mailstep-bus"
    error_message = "The root stack deploys the core with name_prefix mailstep by default."
  }

  assert {
    condition     = output.broadcast_function_name == "mailstep-broadcast" && module.core.function_names["broadcast-send"] == "mailstep-broadcast-send"
    error_message = "The root stack deploys the broadcast functions and outputs the one operators invoke."
  }
}

run "region_must_be_a_region_code" {
  command = plan
  variables { region = "Europe (Ireland)" }
  expect_failures = [var.region]
}

run "reply_capture_is_off_by_default_and_passed_through" {
  command = plan

  assert {
    condition     = output.replies_topic_arn == null && !contains(keys(module.core.function_names), "reply")
    error_message = "Reply capture is off by default."
  }
}

run "reply_capture_reaches_the_core" {
  command = plan
  variables { reply_capture = { recipients = ["acme.test"] } }

  assert {
    condition     = module.core.function_names["reply"] == "mailstep-reply"
    error_message = "var.reply_capture is passed to the core module."
  }
}
