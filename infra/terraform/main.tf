# genesys-stream on AWS: one Fargate task that holds the Genesys Cloud
# notification channels, a DynamoDB table with one merged state per
# conversation, a FIFO queue of forwarded events and a bucket for bodies too
# large for the queue. Each concern has its own file:
#
#   ecs.tf        cluster, task definition, service
#   iam.tf        execution role and task role
#   dynamodb.tf   conversations table and control (checkpoint) table
#   sqs.tf        event queue and its dead-letter queue
#   s3.tf         payload bucket
#   secrets.tf    Genesys OAuth client credentials (value set outside Terraform)
#   network.tf    security group: no ingress, HTTPS egress only
#   logs.tf       log group
#   kms.tf        the customer-managed key that encrypts all of the above
#   alarms.tf     CloudWatch alarms on the service's metrics
#   dashboard.tf  CloudWatch dashboard
#   ecr.tf        image repository

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # Names the service's EMF metrics carry (genesys_stream/metrics.py).
  metric_namespace = "GenesysStream"
  metric_service   = "genesys-stream"

  tags = merge(var.tags, { "app" = "genesys-stream", "stack" = var.name })
}
