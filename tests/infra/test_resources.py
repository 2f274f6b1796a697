"""Encryption, privacy and network rules of the stack's resources."""

from __future__ import annotations

from tests.infra.terraform import Module

KEY = "${aws_kms_key.this.arn}"


def test_tables_are_encrypted_and_recoverable(module: Module) -> None:
    for name in ("conversations", "control"):
        table = module.resource("aws_dynamodb_table", name)

        assert table["billing_mode"] == "PAY_PER_REQUEST"
        assert table["server_side_encryption"][0] == {"enabled": True, "kms_key_arn": KEY}
        assert table["point_in_time_recovery"][0] == {"enabled": True}


def test_table_keys_match_the_stores(module: Module) -> None:
    conversations = module.resource("aws_dynamodb_table", "conversations")
    control = module.resource("aws_dynamodb_table", "control")

    assert conversations["hash_key"] == "conversationId"
    assert conversations["attribute"] == [{"name": "conversationId", "type": "S"}]
    assert conversations["ttl"][0] == {"attribute_name": "expiresAt", "enabled": True}
    assert control["hash_key"] == "pk"
    assert control["attribute"] == [{"name": "pk", "type": "S"}]


def test_queues_are_encrypted_fifo(module: Module) -> None:
    for name in ("events", "events_dlq"):
        queue = module.resource("aws_sqs_queue", name)

        assert queue["fifo_queue"] is True
        assert queue["kms_master_key_id"] == KEY
        assert queue["name"].endswith(".fifo")


def test_queue_redrives_to_dlq(module: Module) -> None:
    queue = module.resource("aws_sqs_queue", "events")

    assert "aws_sqs_queue.events_dlq.arn" in queue["redrive_policy"]
    assert "maxReceiveCount" in queue["redrive_policy"]


def test_bucket_is_private_and_encrypted(module: Module) -> None:
    access = module.resource("aws_s3_bucket_public_access_block", "payloads")
    ownership = module.resource("aws_s3_bucket_ownership_controls", "payloads")
    encryption = module.resource("aws_s3_bucket_server_side_encryption_configuration", "payloads")
    default = encryption["rule"][0]["apply_server_side_encryption_by_default"][0]

    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert access[setting] is True
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": KEY}


def test_bucket_expires_payloads(module: Module) -> None:
    rule = module.resource("aws_s3_bucket_lifecycle_configuration", "payloads")["rule"][0]

    assert rule["status"] == "Enabled"
    assert rule["expiration"][0]["days"] == "${var.payload_retention_days}"


def test_log_group_is_encrypted_with_retention(module: Module) -> None:
    group = module.resource("aws_cloudwatch_log_group", "service")

    assert group["kms_key_id"] == KEY
    assert group["retention_in_days"] == "${var.log_retention_days}"


def test_secret_is_encrypted(module: Module) -> None:
    secret = module.resource("aws_secretsmanager_secret", "genesys_client")

    assert secret["kms_key_id"] == KEY


def test_key_rotates(module: Module) -> None:
    key = module.resource("aws_kms_key", "this")

    assert key["enable_key_rotation"] is True


def test_repository_scans_and_is_immutable(module: Module) -> None:
    repository = module.resource("aws_ecr_repository", "service")

    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"][0]["scan_on_push"] is True


def test_security_group_has_no_ingress(module: Module) -> None:
    group = module.resource("aws_security_group", "service")

    assert "ingress" not in group
    assert "egress" not in group
    assert "aws_vpc_security_group_ingress_rule" not in module.resources
    assert "aws_security_group_rule" not in module.resources


def test_security_group_egress_is_https_only(module: Module) -> None:
    rules = module.resources["aws_vpc_security_group_egress_rule"]

    assert list(rules) == ["https"]
    rule = rules["https"]
    assert rule["security_group_id"] == "${aws_security_group.service.id}"
    assert rule["ip_protocol"] == "tcp"
    assert rule["from_port"] == 443
    assert rule["to_port"] == 443


def test_outputs_name_every_endpoint(module: Module) -> None:
    for name in (
        "queue_url",
        "dlq_url",
        "table_name",
        "control_table_name",
        "payload_bucket",
        "dashboard_url",
        "ecr_repository_url",
        "secret_arn",
    ):
        assert name in module.outputs


def test_variables_have_descriptions(module: Module) -> None:
    for name, variable in module.variables.items():
        assert variable.get("description"), f"variable {name} has no description"
