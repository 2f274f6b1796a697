# One dashboard with every service metric, grouped by concern, plus the two
# queues' depths. Each service widget is defined by its metric names only.

locals {
  dashboard_service_widgets = [
    { title = "Events (count per minute)", stat = "Sum", metrics = ["EventsIn", "EventsMerged", "EventsAccepted", "EventsForwarded"] },
    { title = "Channels", stat = "Minimum", metrics = ["LiveChannels", "TopicsPerChannel"] },
    { title = "Heartbeat age (s)", stat = "Maximum", metrics = ["HeartbeatAge"] },
    { title = "Reconnects and rotations", stat = "Sum", metrics = ["Reconnects", "ChannelRotations", "ChannelsCreated", "Gaps"] },
    { title = "Delivery lag p99 (ms)", stat = "p99", metrics = ["DeliveryLag"] },
    { title = "Sink latency p99 (ms)", stat = "p99", metrics = ["SinkLatency"] },
    { title = "Back-fill", stat = "Sum", metrics = ["BackfilledConversations", "BackfillFailures"] },
    { title = "Problems", stat = "Sum", metrics = ["MergeConflicts", "MergeErrors", "SchemaSurprises", "RejectedTopics", "DeliveryFailures"] },
  ]

  dashboard_widgets = concat(
    [
      for index, widget in local.dashboard_service_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          stat    = widget.stat
          period  = 60
          view    = "timeSeries"
          metrics = [for name in widget.metrics : [local.metric_namespace, name, "Service", local.metric_service]]
        }
      }
    ],
    [
      {
        type   = "metric"
        x      = 0
        y      = ceil(length(local.dashboard_service_widgets) / 2) * 6
        width  = 24
        height = 6
        properties = {
          title  = "Queue depth (messages)"
          region = local.region
          stat   = "Maximum"
          period = 60
          view   = "timeSeries"
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.events.name],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.events_dlq.name],
          ]
        }
      }
    ],
  )
}

resource "aws_cloudwatch_dashboard" "service" {
  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
