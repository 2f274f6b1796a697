# Alarms on the service's EMF metrics (namespace GenesysStream, dimension
# Service) and on the dead-letter queue. Each notifies alarm_sns_topic_arn,
# when set, on firing and on clearing.

locals {
  alarm_actions     = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  metric_dimensions = { Service = local.metric_service }
}

# No live channel for 3 minutes: nothing is being received. Missing data
# counts as breaching, because a task that is down emits no metrics at all.
resource "aws_cloudwatch_metric_alarm" "no_live_channel" {
  alarm_name          = "${var.name}-no-live-channel"
  alarm_description   = "No Genesys Cloud channel has had a live WebSocket for 3 minutes; conversation events are not being received. Check the service's logs for connect and reconnect errors."
  namespace           = local.metric_namespace
  metric_name         = "LiveChannels"
  dimensions          = local.metric_dimensions
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Genesys sends a heartbeat about every 30 s, so a channel silent for much
# longer has a socket that is dead without being closed.
resource "aws_cloudwatch_metric_alarm" "heartbeat_age" {
  alarm_name          = "${var.name}-heartbeat-age"
  alarm_description   = "A channel has received no frame, heartbeat included, for over ${var.heartbeat_age_threshold} s for 3 minutes."
  namespace           = local.metric_namespace
  metric_name         = "HeartbeatAge"
  dimensions          = local.metric_dimensions
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.heartbeat_age_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "reconnect_rate" {
  alarm_name          = "${var.name}-reconnect-rate"
  alarm_description   = "More than ${var.reconnects_threshold} WebSocket reconnects in 15 minutes: the network, the token or Genesys Cloud is unstable."
  namespace           = local.metric_namespace
  metric_name         = "Reconnects"
  dimensions          = local.metric_dimensions
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.reconnects_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "backfill_failures" {
  alarm_name          = "${var.name}-backfill-failures"
  alarm_description   = "Back-fill requests to the Genesys Cloud REST APIs failed in the last 15 minutes; conversations missed during a gap may be stale."
  namespace           = local.metric_namespace
  metric_name         = "BackfillFailures"
  dimensions          = local.metric_dimensions
  statistic           = "Sum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "delivery_failures" {
  alarm_name          = "${var.name}-delivery-failures"
  alarm_description   = "Events could not be delivered to the queue after every retry in the last 5 minutes."
  namespace           = local.metric_namespace
  metric_name         = "DeliveryFailures"
  dimensions          = local.metric_dimensions
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Consumers failed to process a message dlq_max_receive_count times.
resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  alarm_name          = "${var.name}-dlq-depth"
  alarm_description   = "Messages are waiting in the dead-letter queue ${aws_sqs_queue.events_dlq.name}: a consumer failed to process them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.events_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}
