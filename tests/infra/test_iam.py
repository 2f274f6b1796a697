"""The task role allows exactly the AWS calls the code makes, and the roles stay narrow.

The calls are read from the source: every ``self.<client>.<method>(...)`` in a
class of stores/ whose ``__init__`` takes a boto3 client (annotated
``DynamoDBClient``, ``SQSClient`` or ``S3Client``). A new call, or a new store
class, fails these tests until iam.tf grants it.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from typing import Any

from tests.infra.terraform import ROOT, Module

STORES_DIR = ROOT / "stores"
SOURCE_DIRS = ("actors", "handlers", "genesys", "genesys_stream", "simulator", "stores")

SERVICE_OF_CLIENT = {"DynamoDBClient": "dynamodb", "SQSClient": "sqs", "S3Client": "s3"}

# Which task-role statement (a list in iam.tf's locals) covers each store class.
ACTIONS_OF_CLASS = {
    "DynamoStateStore": "conversations_table_actions",
    "DynamoCheckpointStore": "control_table_actions",
    "SqsEventQueue": "events_queue_actions",
    "S3PayloadStore": "payload_bucket_actions",
}
RESOURCE_OF_ACTIONS = {
    "conversations_table_actions": ["${aws_dynamodb_table.conversations.arn}"],
    "control_table_actions": ["${aws_dynamodb_table.control.arn}"],
    "events_queue_actions": ["${aws_sqs_queue.events.arn}"],
    "payload_bucket_actions": ["${aws_s3_bucket.payloads.arn}/*"],
}

# Boto3 methods whose IAM action is not the method name in PascalCase.
ACTION_OF_METHOD = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "s3:HeadObject": "s3:GetObject",
}

# Calls the code makes that the task role must not allow.
NOT_FOR_THE_SERVICE = {
    "dynamodb:Scan": (
        "only `genesys-stream state list` scans, run by an operator with their own role"
    ),
}


def _client_attributes(init: ast.FunctionDef) -> dict[str, str]:
    """Return ``{attribute of self: AWS service}`` for each client ``__init__`` stores."""
    services = {}
    for argument in init.args.args + init.args.kwonlyargs:
        annotation = ast.unparse(argument.annotation) if argument.annotation else ""
        if annotation in SERVICE_OF_CLIENT:
            services[argument.arg] = SERVICE_OF_CLIENT[annotation]
    attributes = {}
    for node in ast.walk(init):
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Name):
            continue
        for target in node.targets:
            if isinstance(target, ast.Attribute) and node.value.id in services:
                attributes[target.attr] = services[node.value.id]
    return attributes


def _action(service: str, method: str) -> str:
    action = f"{service}:" + "".join(part.capitalize() for part in method.split("_"))
    return ACTION_OF_METHOD.get(action, action)


def aws_calls_by_class() -> dict[str, set[str]]:
    """Return the IAM action of every boto3 client call, by store class."""
    calls: dict[str, set[str]] = defaultdict(set)
    for path in sorted(STORES_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
            init = next(
                (
                    node
                    for node in cls.body
                    if isinstance(node, ast.FunctionDef) and node.name == "__init__"
                ),
                None,
            )
            clients = _client_attributes(init) if init else {}
            for node in ast.walk(cls):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                owner = node.func.value
                if not (
                    isinstance(owner, ast.Attribute)
                    and isinstance(owner.value, ast.Name)
                    and owner.value.id == "self"
                    and owner.attr in clients
                ):
                    continue
                method = node.func.attr
                if method == "get_paginator" and node.args:
                    method = ast.literal_eval(node.args[0])
                calls[cls.name].add(_action(clients[owner.attr], method))
    return dict(calls)


def _resolve(module: Module, value: Any) -> Any:
    match = re.fullmatch(r"\$\{local\.(\w+)\}", value) if isinstance(value, str) else None
    return module.locals[match.group(1)] if match else value


def _statements(module: Module, document: str) -> list[dict[str, Any]]:
    statements = module.data["aws_iam_policy_document"][document]["statement"]
    return [
        {**statement, "actions": _resolve(module, statement["actions"])} for statement in statements
    ]


def test_boto3_is_used_only_in_stores() -> None:
    for directory in SOURCE_DIRS:
        if directory == "stores":
            continue
        for path in (ROOT / directory).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(import|from) (boto3|botocore)\b", text, re.M), path


def test_store_calls_are_found() -> None:
    calls = aws_calls_by_class()

    assert "dynamodb:PutItem" in calls["DynamoStateStore"]
    assert "sqs:SendMessage" in calls["SqsEventQueue"]
    assert "s3:PutObject" in calls["S3PayloadStore"]


def test_every_store_class_has_a_statement() -> None:
    unmapped = set(aws_calls_by_class()) - set(ACTIONS_OF_CLASS)

    assert unmapped == set(), "add these classes to ACTIONS_OF_CLASS and their actions to iam.tf"


def test_task_role_allows_exactly_the_calls(module: Module) -> None:
    needed: dict[str, set[str]] = defaultdict(set)
    for cls, actions in aws_calls_by_class().items():
        needed[ACTIONS_OF_CLASS[cls]] |= actions - set(NOT_FOR_THE_SERVICE)

    for local_name in RESOURCE_OF_ACTIONS:
        granted = set(module.locals[local_name])
        assert granted == needed[local_name], local_name


def test_task_role_statements_name_their_resources(module: Module) -> None:
    statements = module.data["aws_iam_policy_document"]["task"]["statement"]
    resources_of = {statement["actions"]: statement["resources"] for statement in statements}

    for local_name, resources in RESOURCE_OF_ACTIONS.items():
        assert resources_of[f"${{local.{local_name}}}"] == resources, local_name
    assert len(statements) == len(RESOURCE_OF_ACTIONS) + 1, "one statement per resource and KMS"


def test_task_role_uses_the_key_only_through_the_stores(module: Module) -> None:
    statements = _statements(module, "task")
    kms = [statement for statement in statements if statement["sid"].startswith("Encrypt")]

    assert len(kms) == 1
    assert set(kms[0]["actions"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert kms[0]["resources"] == ["${aws_kms_key.this.arn}"]
    condition = kms[0]["condition"][0]
    assert condition["variable"] == "kms:ViaService"
    assert {value.split(".")[0] for value in condition["values"]} == {"dynamodb", "sqs", "s3"}


def test_task_role_denies_operator_calls(module: Module) -> None:
    statements = _statements(module, "task")
    granted = {action for statement in statements for action in statement["actions"]}

    for action in NOT_FOR_THE_SERVICE:
        assert action not in granted


def test_roles_grant_no_wildcard_actions(module: Module) -> None:
    for document in ("task", "execution"):
        for statement in _statements(module, document):
            for action in statement["actions"]:
                assert "*" not in action, f"{document}: {action}"


def test_roles_name_resources_where_aws_allows(module: Module) -> None:
    # ecr:GetAuthorizationToken takes no resource ARN: AWS accepts only "*".
    resource_free = {"ecr:GetAuthorizationToken"}

    for document in ("task", "execution"):
        for statement in _statements(module, document):
            if "*" in statement["resources"]:
                assert set(statement["actions"]) <= resource_free, statement["sid"]


def test_execution_role_reads_only_the_credential_secret(module: Module) -> None:
    statements = _statements(module, "execution")
    secret_reads = [
        statement
        for statement in statements
        if any(action.startswith("secretsmanager:") for action in statement["actions"])
    ]

    assert len(secret_reads) == 1
    assert secret_reads[0]["actions"] == ["secretsmanager:GetSecretValue"]
    assert secret_reads[0]["resources"] == ["${aws_secretsmanager_secret.genesys_client.arn}"]


def test_execution_role_decrypts_only_for_secrets_manager(module: Module) -> None:
    statements = _statements(module, "execution")
    kms = [
        statement
        for statement in statements
        if any(action.startswith("kms:") for action in statement["actions"])
    ]

    assert len(kms) == 1
    assert kms[0]["actions"] == ["kms:Decrypt"]
    assert kms[0]["condition"][0]["values"] == ["secretsmanager.${local.region}.amazonaws.com"]


def test_roles_are_for_ecs_tasks_only(module: Module) -> None:
    assume = module.data["aws_iam_policy_document"]["ecs_tasks_assume"]["statement"][0]

    assert assume["actions"] == ["sts:AssumeRole"]
    assert assume["principals"][0]["identifiers"] == ["ecs-tasks.amazonaws.com"]
    for role in ("task", "execution"):
        assert module.resource("aws_iam_role", role)["assume_role_policy"] == (
            "${data.aws_iam_policy_document.ecs_tasks_assume.json}"
        )


def test_no_managed_policies_attached(module: Module) -> None:
    assert "aws_iam_role_policy_attachment" not in module.resources
    assert "aws_iam_policy" not in module.resources
