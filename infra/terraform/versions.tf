terraform {
  # 1.5 brings `check` blocks; lifecycle preconditions (1.2) guard the inputs
  # that depend on each other.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}
