# Conversations: one item per conversation, keyed by conversationId, holding
# the merged state and its revision. Ended conversations carry expiresAt
# (epoch seconds), and DynamoDB TTL deletes them after STREAM_STATE_TTL_DAYS.
resource "aws_dynamodb_table" "conversations" {
  name                        = "${var.name}-conversations"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "conversationId"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "conversationId"
    type = "S"
  }

  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = local.tags
}

# Control: back-fill checkpoints (and, later, channel leases), keyed by pk.
resource "aws_dynamodb_table" "control" {
  name                        = "${var.name}-control"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = local.tags
}
