terraform {
  required_version = ">= 1.11" # write-only value_wo (see parameters.tf)

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100" # value_wo on aws_ssm_parameter; tested with 5.100
    }
  }
}
