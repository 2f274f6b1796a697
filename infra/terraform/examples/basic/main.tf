# A root module that deploys genesys-stream into existing private subnets.
# Copy terraform.tfvars.example to terraform.tfvars, fill it in, then
# `terraform init && terraform apply`. See ../../README.md for every step.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      "managed-by" = "terraform"
    }
  }
}

variable "aws_region" {
  description = "AWS region to deploy to."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the private subnets."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets with a NAT gateway (or VPC endpoints plus NAT for Genesys Cloud)."
  type        = list(string)
}

variable "genesys_region" {
  description = "Genesys Cloud region of the org, such as eu-west-1 or mypurecloud.ie."
  type        = string
}

variable "genesys_queue_ids" {
  description = "Routing queue ids whose conversations to follow."
  type        = list(string)
  default     = []
}

variable "genesys_user_ids" {
  description = "User ids whose conversations to follow."
  type        = list(string)
  default     = []
}

variable "genesys_topics" {
  description = "Further full topic names to subscribe to."
  type        = list(string)
  default     = []
}

variable "image_tag" {
  description = "Tag of the image pushed to the stack's ECR repository."
  type        = string
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for alarm notifications, or null."
  type        = string
  default     = null
}

module "genesys_stream" {
  source = "../.."

  name                = "genesys-stream"
  vpc_id              = var.vpc_id
  subnet_ids          = var.subnet_ids
  genesys_region      = var.genesys_region
  genesys_queue_ids   = var.genesys_queue_ids
  genesys_user_ids    = var.genesys_user_ids
  genesys_topics      = var.genesys_topics
  image_tag           = var.image_tag
  alarm_sns_topic_arn = var.alarm_sns_topic_arn
}

output "queue_url" {
  description = "URL of the FIFO queue of forwarded events."
  value       = module.genesys_stream.queue_url
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.genesys_stream.dlq_url
}

output "table_name" {
  description = "DynamoDB table of conversation states."
  value       = module.genesys_stream.table_name
}

output "control_table_name" {
  description = "DynamoDB table of back-fill checkpoints."
  value       = module.genesys_stream.control_table_name
}

output "payload_bucket" {
  description = "S3 bucket of large event bodies."
  value       = module.genesys_stream.payload_bucket
}

output "secret_arn" {
  description = "Secret to fill with the Genesys Cloud client credentials."
  value       = module.genesys_stream.secret_arn
}

output "ecr_repository_url" {
  description = "ECR repository to push the image to."
  value       = module.genesys_stream.ecr_repository_url
}

output "dashboard_url" {
  description = "CloudWatch dashboard of the service."
  value       = module.genesys_stream.dashboard_url
}
