# Forwarded events: a FIFO queue with one message group per conversation, so
# each conversation's events stay in order. The service sets
# MessageDeduplicationId itself (a hash of the content), so content-based
# deduplication is off, and deduplication and throughput are per message group
# (high-throughput FIFO).
#
# NOTE: MaximumMessageSize is left at the provider's default. The service reads
# it from the queue at start and sends larger bodies through the payload bucket.

resource "aws_sqs_queue" "events" {
  name                              = "${var.name}-events.fifo"
  fifo_queue                        = true
  content_based_deduplication       = false
  deduplication_scope               = "messageGroup"
  fifo_throughput_limit             = "perMessageGroupId"
  message_retention_seconds         = var.queue_retention_seconds
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.events_dlq.arn
    maxReceiveCount     = var.dlq_max_receive_count
  })

  tags = local.tags
}

# Messages that consumers failed to process dlq_max_receive_count times. A FIFO
# queue's dead-letter queue must be FIFO too. It keeps messages for the maximum
# of 14 days.
resource "aws_sqs_queue" "events_dlq" {
  name                              = "${var.name}-events-dlq.fifo"
  fifo_queue                        = true
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
  tags                              = local.tags
}

# Only the event queue may move messages into the dead-letter queue.
resource "aws_sqs_queue_redrive_allow_policy" "events_dlq" {
  queue_url = aws_sqs_queue.events_dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}
