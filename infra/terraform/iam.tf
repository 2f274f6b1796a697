# Two roles, each with only what it uses:
#
# - The execution role is ECS's: it pulls the image, writes the log stream and
#   reads the credential secret when a task starts.
# - The task role is the service's: the DynamoDB, SQS and S3 calls that the
#   code in stores/ makes, on this stack's resources only.
#
# tests/infra checks the task role against the boto3 calls in stores/.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only ECS tasks of this account may take on the role (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---------------------------------------------------------------------------
# Execution role
# ---------------------------------------------------------------------------

resource "aws_iam_role" "execution" {
  name_prefix        = "${var.name}-exec-"
  description        = "ECS pulls the ${var.name} image, writes its logs and reads its credential secret."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-secret"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

data "aws_iam_policy_document" "execution" {
  # GetAuthorizationToken has no resource-level permissions: AWS accepts only "*".
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.service.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.service.arn}:log-stream:*"]
  }

  statement {
    sid       = "ReadCredentialSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.genesys_client.arn]
  }

  statement {
    sid       = "DecryptCredentialSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

# ---------------------------------------------------------------------------
# Task role
# ---------------------------------------------------------------------------

locals {
  # The actions the service calls, one list per resource. Each name is the IAM
  # action of a boto3 call in stores/ (SendMessageBatch is authorized as
  # sqs:SendMessage). dynamodb:Scan is not here: only the `state list` command
  # scans, and operators run it from their own machine with their own role.
  conversations_table_actions = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
  ]
  control_table_actions = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
  ]
  events_queue_actions = [
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",
  ]
  payload_bucket_actions = [
    "s3:PutObject",
  ]
  # With a customer-managed key, SQS needs GenerateDataKey and Decrypt from a
  # producer, and S3 needs GenerateDataKey for an SSE-KMS upload. DynamoDB
  # uses the grant it creates with the table.
  # NOTE: this list has not run against AWS. A KMS AccessDenied from one of the
  # three services means an action is missing here.
  kms_actions = [
    "kms:Decrypt",
    "kms:GenerateDataKey",
  ]
}

resource "aws_iam_role" "task" {
  name_prefix        = "${var.name}-task-"
  description        = "The ${var.name} service: writes conversation state, forwards events, stores large payloads."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "task" {
  name   = "state-events-payloads"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

data "aws_iam_policy_document" "task" {
  statement {
    sid       = "ConversationsTable"
    actions   = local.conversations_table_actions
    resources = [aws_dynamodb_table.conversations.arn]
  }

  statement {
    sid       = "ControlTable"
    actions   = local.control_table_actions
    resources = [aws_dynamodb_table.control.arn]
  }

  statement {
    sid       = "EventsQueue"
    actions   = local.events_queue_actions
    resources = [aws_sqs_queue.events.arn]
  }

  statement {
    sid       = "PayloadBucket"
    actions   = local.payload_bucket_actions
    resources = ["${aws_s3_bucket.payloads.arn}/*"]
  }

  statement {
    sid       = "EncryptThroughStackServices"
    actions   = local.kms_actions
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "dynamodb.${local.region}.amazonaws.com",
        "sqs.${local.region}.amazonaws.com",
        "s3.${local.region}.amazonaws.com",
      ]
    }
  }
}
