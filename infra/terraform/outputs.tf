output "queue_url" {
  description = "URL of the FIFO queue of forwarded events."
  value       = aws_sqs_queue.events.url
}

output "queue_arn" {
  description = "ARN of the FIFO queue of forwarded events, for consumers' IAM policies."
  value       = aws_sqs_queue.events.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.events_dlq.url
}

output "table_name" {
  description = "Name of the DynamoDB table of conversation states."
  value       = aws_dynamodb_table.conversations.name
}

output "control_table_name" {
  description = "Name of the DynamoDB table of back-fill checkpoints."
  value       = aws_dynamodb_table.control.name
}

output "payload_bucket" {
  description = "Name of the S3 bucket of event bodies too large for the queue."
  value       = aws_s3_bucket.payloads.bucket
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the tables, queues and bucket; consumers need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret that must hold {\"client_id\", \"client_secret\"}."
  value       = aws_secretsmanager_secret.genesys_client.arn
}

output "ecr_repository_url" {
  description = "URL of the ECR repository to push the image to."
  value       = aws_ecr_repository.service.repository_url
}

output "cluster_arn" {
  description = "ARN of the ECS cluster the service runs in."
  value       = local.cluster_arn
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.service.name
}

output "log_group_name" {
  description = "Name of the CloudWatch log group of the service."
  value       = aws_cloudwatch_log_group.service.name
}

output "dashboard_url" {
  description = "URL of the CloudWatch dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards/dashboard/${aws_cloudwatch_dashboard.service.dashboard_name}"
}
