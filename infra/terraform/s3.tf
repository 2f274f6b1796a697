# Event bodies larger than the queue's MaximumMessageSize. The service writes
# each body once under a new key and puts a pointer to it in the SQS message;
# consumers read the object with their own role. Objects expire after
# payload_retention_days.

resource "aws_s3_bucket" "payloads" {
  #checkov:skip=CKV_AWS_18:Objects are written once by the task role; for an audit trail, enable CloudTrail S3 data events rather than a second logging bucket.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to new objects: consumers find each one through the pointer in its SQS message.
  #checkov:skip=CKV_AWS_144:Payloads are transient copies that expire within days; a replica would outlive the messages that point to them.
  bucket        = "${var.name}-payloads-${local.account_id}-${local.region}"
  force_destroy = false
  tags          = local.tags
}

resource "aws_s3_bucket_public_access_block" "payloads" {
  bucket                  = aws_s3_bucket.payloads.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# ACLs off: the bucket owner owns every object, and access is by IAM only.
resource "aws_s3_bucket_ownership_controls" "payloads" {
  bucket = aws_s3_bucket.payloads.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "payloads" {
  bucket = aws_s3_bucket.payloads.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    # An S3 Bucket Key cuts the KMS requests per object to about one per bucket and hour.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "payloads" {
  bucket = aws_s3_bucket.payloads.id

  versioning_configuration {
    status = var.payload_bucket_versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "payloads" {
  bucket = aws_s3_bucket.payloads.id

  rule {
    id     = "expire-payloads"
    status = "Enabled"

    filter {}

    expiration {
      days = var.payload_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # Versioning must be set before a rule on noncurrent versions applies.
  depends_on = [aws_s3_bucket_versioning.payloads]
}

# Refuse plain-HTTP requests.
resource "aws_s3_bucket_policy" "payloads" {
  bucket = aws_s3_bucket.payloads.id
  policy = data.aws_iam_policy_document.payloads_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.payloads]
}

data "aws_iam_policy_document" "payloads_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.payloads.arn, "${aws_s3_bucket.payloads.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
