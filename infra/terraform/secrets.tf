# The Genesys Cloud OAuth client credentials, as one JSON secret:
#
#   {"client_id": "...", "client_secret": "..."}
#
# Terraform creates the secret but never its value, so the credentials stay out
# of the state file. Set the value once with `aws secretsmanager
# put-secret-value` (see README.md). ECS reads it when a task starts, so a new
# value takes effect with the next deployment.

resource "aws_secretsmanager_secret" "genesys_client" {
  #checkov:skip=CKV2_AWS_57:Genesys Cloud issues the client secret, so no rotation Lambda can make a new one; rotate it in Genesys Cloud, put the new value, and redeploy.
  name                    = "${var.name}/genesys-client"
  description             = "Genesys Cloud OAuth client credentials for ${var.name}: JSON with client_id and client_secret."
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = local.tags
}
