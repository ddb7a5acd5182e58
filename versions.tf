terraform {
  # 1.11: the unsubscribe secret is written with a write-only argument (value_wo),
  # which older versions would store in state.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100" # value_wo on aws_ssm_parameter; tested with 5.100
    }
  }
}
