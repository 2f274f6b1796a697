# ---------------------------------------------------------------------------
# Naming and placement
# ---------------------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name; one stack per name and AWS account."
  type        = string
  default     = "genesys-stream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "The name must be 3 to 32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC of the service's subnets."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "The vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the task. They need a route to HTTPS on the internet (NAT gateway) for Genesys Cloud, and to AWS APIs (NAT or VPC endpoints). The task gets no public IP."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "Give at least one private subnet in subnet_ids."
  }

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "Every subnet id must look like subnet-0123456789abcdef0."
  }
}

variable "cluster_arn" {
  description = "ARN of an existing ECS cluster to run in. When null, the module creates a cluster with Container Insights."
  type        = string
  default     = null

  validation {
    condition     = var.cluster_arn == null || can(regex("^arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/.+$", var.cluster_arn))
    error_message = "The cluster_arn must be an ECS cluster ARN, or null to create a cluster."
  }
}

# ---------------------------------------------------------------------------
# Image and task size
# ---------------------------------------------------------------------------

variable "image" {
  description = "Full image reference to run. When null, the module runs image_tag from its own ECR repository. The execution role may pull only from that repository, so an image in another private ECR repository needs a repository policy that lets this role pull."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag in the module's ECR repository to run when image is null. Tags are immutable, so a new build needs a new tag (a commit id, for example)."
  type        = string
  default     = "0.1.0"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag)) && var.image_tag != "latest"
    error_message = "The image_tag must be a valid Docker tag other than latest, because the repository's tags are immutable."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "The cpu_architecture must be X86_64 or ARM64."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units (1024 = one vCPU)."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "The task_cpu must be one of 256, 512, 1024, 2048 or 4096."
  }
}

variable "task_memory" {
  description = "Fargate task memory in MiB; it must be a size Fargate allows for task_cpu."
  type        = number
  default     = 1024

  validation {
    condition     = var.task_memory >= 512 && var.task_memory <= 30720
    error_message = "The task_memory must be from 512 to 30720 MiB."
  }
}

# ---------------------------------------------------------------------------
# Deployment
# ---------------------------------------------------------------------------

variable "desired_count" {
  description = "Number of tasks. Must be 1: two tasks would hold the same channels and evict each other's sockets, and the service has no channel leases yet."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_count == 1
    error_message = "The desired_count must be 1: without channel leases, a second task would take over the first one's channels."
  }
}

variable "stop_timeout" {
  description = "Seconds ECS waits after SIGTERM before SIGKILL; the service flushes its batches in that time. Fargate allows 2 to 120."
  type        = number
  default     = 120

  validation {
    condition     = var.stop_timeout >= 2 && var.stop_timeout <= 120
    error_message = "The stop_timeout must be from 2 to 120 seconds (the Fargate maximum)."
  }
}

variable "health_check_start_period" {
  description = "Seconds after start during which a failing container health check does not count; covers the first token, channels and back-fill."
  type        = number
  default     = 120

  validation {
    condition     = var.health_check_start_period >= 0 && var.health_check_start_period <= 300
    error_message = "The health_check_start_period must be from 0 to 300 seconds (the ECS limit)."
  }
}

# ---------------------------------------------------------------------------
# Genesys Cloud
# ---------------------------------------------------------------------------

variable "genesys_region" {
  description = "Genesys Cloud region of the org, by AWS region name (eu-west-1) or by domain (mypurecloud.ie)."
  type        = string

  validation {
    condition = contains([
      "us-east-1", "mypurecloud.com",
      "us-east-2", "use2.us-gov-pure.cloud",
      "us-west-2", "usw2.pure.cloud",
      "ca-central-1", "cac1.pure.cloud",
      "sa-east-1", "sae1.pure.cloud",
      "mx-central-1", "mxc1.pure.cloud",
      "eu-west-1", "mypurecloud.ie",
      "eu-west-2", "euw2.pure.cloud",
      "eu-central-1", "mypurecloud.de",
      "eu-central-2", "euc2.pure.cloud",
      "eusc-de-east-1", "edee1.eusc-pure.cloud",
      "me-central-1", "mec1.pure.cloud",
      "ap-south-1", "aps1.pure.cloud",
      "ap-southeast-1", "apse1.pure.cloud",
      "ap-southeast-2", "mypurecloud.com.au",
      "ap-northeast-1", "mypurecloud.jp",
      "ap-northeast-2", "apne2.pure.cloud",
      "ap-northeast-3", "apne3.pure.cloud",
    ], lower(var.genesys_region))
    error_message = "The genesys_region must be a Genesys Cloud region name or domain: us-east-1 (mypurecloud.com), us-east-2 (use2.us-gov-pure.cloud), us-west-2 (usw2.pure.cloud), ca-central-1 (cac1.pure.cloud), sa-east-1 (sae1.pure.cloud), mx-central-1 (mxc1.pure.cloud), eu-west-1 (mypurecloud.ie), eu-west-2 (euw2.pure.cloud), eu-central-1 (mypurecloud.de), eu-central-2 (euc2.pure.cloud), eusc-de-east-1 (edee1.eusc-pure.cloud), me-central-1 (mec1.pure.cloud), ap-south-1 (aps1.pure.cloud), ap-southeast-1 (apse1.pure.cloud), ap-southeast-2 (mypurecloud.com.au), ap-northeast-1 (mypurecloud.jp), ap-northeast-2 (apne2.pure.cloud) or ap-northeast-3 (apne3.pure.cloud)."
  }
}

variable "genesys_topics" {
  description = "Full notification topic names to subscribe to, such as v2.routing.queues.<id>.conversations or v2.users.<id>?conversations&presence."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for topic in var.genesys_topics : can(regex("^v2\\.[A-Za-z0-9_.?&-]+$", topic)) && length(topic) <= 200])
    error_message = "Every topic must start with v2., have at most 200 characters, and contain only letters, digits and _ . - ? &."
  }
}

variable "genesys_queue_ids" {
  description = "Routing queue ids whose conversations to follow (one v2.routing.queues.<id>.conversations topic each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.genesys_queue_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    error_message = "Every queue id must be a UUID."
  }
}

variable "genesys_user_ids" {
  description = "User ids whose conversations to follow (one v2.users.<id>.conversations topic each)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.genesys_user_ids : can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", id))])
    error_message = "Every user id must be a UUID."
  }
}

# ---------------------------------------------------------------------------
# Service behaviour (each maps to one STREAM_* environment variable)
# ---------------------------------------------------------------------------

variable "forward_events" {
  description = "Lifecycle event types forwarded to the queue."
  type        = list(string)
  default     = ["conversation.started", "conversation.updated", "conversation.ended", "participant.joined", "participant.left"]

  validation {
    condition     = length(var.forward_events) > 0 && alltrue([for type in var.forward_events : contains(["conversation.started", "conversation.updated", "conversation.ended", "participant.joined", "participant.left"], type)])
    error_message = "The forward_events must list one or more of conversation.started, conversation.updated, conversation.ended, participant.joined, participant.left."
  }
}

variable "merge_shards" {
  description = "Number of merge actors (conversation shards) in the task."
  type        = number
  default     = 4

  validation {
    condition     = var.merge_shards >= 1 && var.merge_shards <= 64 && floor(var.merge_shards) == var.merge_shards
    error_message = "The merge_shards must be a whole number from 1 to 64."
  }
}

variable "flush_interval" {
  description = "Seconds the sink gathers updates before it writes once per conversation."
  type        = number
  default     = 1

  validation {
    condition     = var.flush_interval >= 0.01 && var.flush_interval <= 60
    error_message = "The flush_interval must be from 0.01 to 60 seconds."
  }
}

variable "state_ttl_days" {
  description = "Days an ended conversation stays in the conversations table before DynamoDB TTL deletes it."
  type        = number
  default     = 30

  validation {
    condition     = var.state_ttl_days >= 1 && var.state_ttl_days <= 3650 && floor(var.state_ttl_days) == var.state_ttl_days
    error_message = "The state_ttl_days must be a whole number from 1 to 3650."
  }
}

variable "backfill_lookback" {
  description = "Seconds of history back-filled on a first start, when no checkpoint exists."
  type        = number
  default     = 3600

  validation {
    condition     = var.backfill_lookback >= 0 && var.backfill_lookback <= 604800
    error_message = "The backfill_lookback must be from 0 to 604800 seconds (7 days)."
  }
}

variable "heartbeat_silence" {
  description = "Seconds without any frame before the service pings a channel."
  type        = number
  default     = 35

  validation {
    condition     = var.heartbeat_silence >= 1 && var.heartbeat_silence <= 600
    error_message = "The heartbeat_silence must be from 1 to 600 seconds."
  }
}

variable "pong_timeout" {
  description = "Seconds to wait for a pong before a socket counts as dead."
  type        = number
  default     = 10

  validation {
    condition     = var.pong_timeout >= 1 && var.pong_timeout <= 120
    error_message = "The pong_timeout must be from 1 to 120 seconds."
  }
}

variable "dead_budget" {
  description = "Seconds a channel may be down before the container health check fails and ECS replaces the task."
  type        = number
  default     = 120

  validation {
    condition     = var.dead_budget >= 1 && var.dead_budget <= 3600
    error_message = "The dead_budget must be from 1 to 3600 seconds."
  }
}

variable "log_level" {
  description = "Service log level: DEBUG, INFO, WARNING or ERROR. DEBUG logs every frame."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "The log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# ---------------------------------------------------------------------------
# Data retention and protection
# ---------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Days CloudWatch Logs keeps the service's log lines."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts, such as 30, 90, 365 or 731."
  }
}

variable "queue_retention_seconds" {
  description = "Seconds the event queue keeps an unread message (60 to 1209600)."
  type        = number
  default     = 345600

  validation {
    condition     = var.queue_retention_seconds >= 60 && var.queue_retention_seconds <= 1209600
    error_message = "The queue_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

variable "dlq_max_receive_count" {
  description = "Receives of one message by consumers before SQS moves it to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.dlq_max_receive_count >= 1 && var.dlq_max_receive_count <= 1000
    error_message = "The dlq_max_receive_count must be from 1 to 1000."
  }
}

variable "payload_retention_days" {
  description = "Days a large event body stays in the payload bucket. Consumers must read a message's body from S3 within this time; keep it at least the queue retention."
  type        = number
  default     = 14

  validation {
    condition     = var.payload_retention_days >= 1 && floor(var.payload_retention_days) == var.payload_retention_days
    error_message = "The payload_retention_days must be a whole number of days, at least 1."
  }
}

variable "payload_bucket_versioning" {
  description = "Keep earlier versions of payload objects (noncurrent versions expire after one day). Payload keys are written once, so versioning protects only against deletes."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the DynamoDB tables from deletion. Turn off and apply before destroying the stack."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Days a deleted credential secret can still be restored (0 deletes at once, otherwise 7 to 30)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "The secret_recovery_window_days must be 0 or from 7 to 30."
  }
}

variable "ecr_keep_images" {
  description = "Number of most recent images the ECR lifecycle policy keeps."
  type        = number
  default     = 30

  validation {
    condition     = var.ecr_keep_images >= 1
    error_message = "The ecr_keep_images must be at least 1."
  }
}

# ---------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------

variable "alarm_sns_topic_arn" {
  description = "SNS topic notified when an alarm fires or clears. When null, the alarms only change state."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alarm_sns_topic_arn))
    error_message = "The alarm_sns_topic_arn must be an SNS topic ARN, or null."
  }
}

variable "heartbeat_age_threshold" {
  description = "Seconds since the last frame on the quietest channel above which the heartbeat alarm fires. Genesys sends a heartbeat about every 30 seconds."
  type        = number
  default     = 90
}

variable "reconnects_threshold" {
  description = "Reconnects in 15 minutes above which the reconnect-rate alarm fires."
  type        = number
  default     = 10
}
