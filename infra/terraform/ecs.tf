# One Fargate task runs `genesys-stream run`. Deployments stop the old task
# before starting the new one (minimum healthy 0 %, maximum 100 %), because two
# tasks with the same OAuth client would fight over the same channels: one
# WebSocket per channel, and a second one disconnects the first.

locals {
  cluster_arn = var.cluster_arn != null ? var.cluster_arn : aws_ecs_cluster.this[0].arn
  image       = var.image != null ? var.image : "${aws_ecr_repository.service.repository_url}:${var.image_tag}"

  container_name = "genesys-stream"

  # Memory sizes (MiB) Fargate allows for each CPU size of a Linux task.
  fargate_memory = {
    "256"  = [512, 1024, 2048]
    "512"  = range(1024, 4097, 1024)
    "1024" = range(2048, 8193, 1024)
    "2048" = range(4096, 16385, 1024)
    "4096" = range(8192, 30721, 1024)
  }

  # The only writable paths, because the root filesystem is read-only. The
  # Dockerfile declares both as VOLUMEs (state_dir owned by the service user,
  # /tmp writable by all), and ECS copies a VOLUME's ownership and mode onto
  # the bind mount of the same path.
  state_dir   = "/run/genesys-stream"
  scratch_dir = "/tmp"

  # Every setting `genesys-stream run` reads from the environment, except the
  # client credentials (injected from the secret below), GENESYS_LOGIN_URL and
  # GENESYS_API_URL (overrides for tests and proxies). STREAM_LOCAL_DIR holds
  # the spill and dead-letter files on AWS, so it is on the writable mount.
  environment = {
    GENESYS_REGION            = lower(var.genesys_region)
    GENESYS_TOPICS            = join(",", var.genesys_topics)
    GENESYS_QUEUE_IDS         = join(",", var.genesys_queue_ids)
    GENESYS_USER_IDS          = join(",", var.genesys_user_ids)
    STREAM_FORWARD_EVENTS     = join(",", var.forward_events)
    STREAM_TABLE_NAME         = aws_dynamodb_table.conversations.name
    STREAM_CONTROL_TABLE_NAME = aws_dynamodb_table.control.name
    STREAM_QUEUE_URL          = aws_sqs_queue.events.url
    STREAM_PAYLOAD_BUCKET     = aws_s3_bucket.payloads.bucket
    STREAM_MERGE_SHARDS       = tostring(var.merge_shards)
    STREAM_FLUSH_INTERVAL     = tostring(var.flush_interval)
    STREAM_STATE_TTL_DAYS     = tostring(var.state_ttl_days)
    STREAM_BACKFILL_LOOKBACK  = tostring(var.backfill_lookback)
    STREAM_HEARTBEAT_SILENCE  = tostring(var.heartbeat_silence)
    STREAM_PONG_TIMEOUT       = tostring(var.pong_timeout)
    STREAM_DEAD_BUDGET        = tostring(var.dead_budget)
    STREAM_HEALTH_FILE        = "${local.state_dir}/health.json"
    STREAM_LOCAL_DIR          = "${local.state_dir}/local"
    STREAM_LOG_LEVEL          = var.log_level
    AWS_REGION                = local.region
  }

  # ECS reads these JSON keys of the secret when the task starts
  # (valueFrom = "<secret ARN>:<json key>:<version stage>:<version id>").
  secrets = [
    {
      name      = "GENESYS_CLIENT_ID"
      valueFrom = "${aws_secretsmanager_secret.genesys_client.arn}:client_id::"
    },
    {
      name      = "GENESYS_CLIENT_SECRET"
      valueFrom = "${aws_secretsmanager_secret.genesys_client.arn}:client_secret::"
    },
  ]
}

resource "aws_ecs_cluster" "this" {
  count = var.cluster_arn == null ? 1 : 0
  name  = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

resource "aws_ecs_task_definition" "service" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = "state"
  }

  volume {
    name = "scratch"
  }

  container_definitions = jsonencode([
    {
      name                   = local.container_name
      image                  = local.image
      essential              = true
      command                = ["run"]
      readonlyRootFilesystem = true
      stopTimeout            = var.stop_timeout

      # Empty values (an unused topic list) are left out: ECS drops them, which
      # would show as a change on every plan, and the service reads "" and
      # unset alike.
      environment = [for key in sort(keys(local.environment)) : { name = key, value = local.environment[key] } if local.environment[key] != ""]
      secrets     = local.secrets

      mountPoints = [
        { sourceVolume = "state", containerPath = local.state_dir, readOnly = false },
        { sourceVolume = "scratch", containerPath = local.scratch_dir, readOnly = false },
      ]

      # An init process forwards SIGTERM to the service and reaps child processes.
      linuxParameters = {
        initProcessEnabled = true
      }

      healthCheck = {
        command     = ["CMD", "genesys-stream", "health"]
        interval    = 30
        timeout     = 10
        retries     = 3
        startPeriod = var.health_check_start_period
      }

      # Non-blocking, so a slow CloudWatch Logs never stalls the actors that
      # write to stdout; lines beyond the buffer are dropped instead.
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.service.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "service"
          "mode"                  = "non-blocking"
          "max-buffer-size"       = "25m"
        }
      }
    }
  ])

  lifecycle {
    precondition {
      condition     = contains(lookup(local.fargate_memory, tostring(var.task_cpu), []), var.task_memory)
      error_message = "Fargate does not run ${var.task_cpu} CPU units with ${var.task_memory} MiB; pick a memory size Fargate allows for that CPU size."
    }

    precondition {
      condition     = length(var.genesys_topics) + length(var.genesys_queue_ids) + length(var.genesys_user_ids) > 0
      error_message = "Nothing to subscribe to: set at least one of genesys_topics, genesys_queue_ids or genesys_user_ids."
    }
  }

  tags = local.tags
}

resource "aws_ecs_service" "service" {
  name                   = var.name
  cluster                = local.cluster_arn
  task_definition        = aws_ecs_task_definition.service.arn
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  # NOTE: no channel leases yet, so exactly one task may run at any time,
  # during deployments too: ECS stops the old task (minimum 0 % healthy)
  # before it starts the new one (maximum 100 %). The new task back-fills the
  # gap between the two from the Genesys Cloud REST APIs.
  desired_count                      = var.desired_count
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.service.id]
    assign_public_ip = false
  }

  tags = local.tags
}
