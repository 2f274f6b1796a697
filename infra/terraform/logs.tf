# The service writes JSON log lines and EMF metric lines to stdout; the awslogs
# driver sends both here, and CloudWatch turns the EMF lines into metrics.

resource "aws_cloudwatch_log_group" "service" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = local.tags
}
