# One customer-managed key encrypts the tables, the queues, the bucket, the
# log group, the secret and the image repository. The key policy lets the
# account's IAM policies grant use of the key (the roles in iam.tf do, through
# the services only), and lets CloudWatch Logs encrypt this stack's log group.

resource "aws_kms_key" "this" {
  description             = "${var.name}: tables, queues, payload bucket, logs, secret and images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

data "aws_iam_policy_document" "kms" {
  # In a key policy, "*" as the resource means this key and nothing else, and
  # the account statement only delegates to IAM policies, which stay narrow.
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key only; the statement delegates the key to the account's IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key only; the statement delegates the key to the account's IAM policies.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is this key only; key policies cannot name another resource.
  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsThisStacksLogGroup"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.name}"]
    }
  }
}
