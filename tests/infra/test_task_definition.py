"""The ECS task definition and service against what `genesys-stream run` reads."""

from __future__ import annotations

import ast
import re
from typing import Any

from tests.infra.terraform import ROOT, TERRAFORM_DIR, Module, load_module

CONFIG_SOURCE = ROOT / "genesys_stream" / "config.py"
LIFECYCLE_SOURCE = ROOT / "handlers" / "lifecycle.py"

# Settings the task definition leaves unset on purpose.
UNSET_ON_AWS = {
    "GENESYS_LOGIN_URL": "an override for tests and proxies; the region sets the login URL",
    "GENESYS_API_URL": "an override for tests and proxies; the region sets the API URL",
}
SECRET_KEYS = {"GENESYS_CLIENT_ID": "client_id", "GENESYS_CLIENT_SECRET": "client_secret"}


def settings_read_by_service() -> set[str]:
    """Return the environment variable of every ``Setting(...)`` in config.py."""
    tree = ast.parse(CONFIG_SOURCE.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Setting"):
            continue
        env = node.args[1] if len(node.args) > 1 else None
        for keyword in node.keywords:
            if keyword.arg == "env":
                env = keyword.value
        assert isinstance(env, ast.Constant), f"Setting at line {node.lineno} has no literal env"
        assert isinstance(env.value, str)
        names.add(env.value)
    return names


def test_service_reads_known_settings() -> None:
    names = settings_read_by_service()

    assert "STREAM_TABLE_NAME" in names
    assert set(UNSET_ON_AWS) <= names
    assert "STREAM_LOCAL_DIR" in names


def test_every_setting_is_set(module: Module) -> None:
    environment = set(module.locals["environment"])
    secrets = {secret["name"] for secret in module.locals["secrets"]}

    expected = settings_read_by_service() - set(UNSET_ON_AWS)

    assert expected - environment - secrets == set(), "settings the task definition misses"
    assert (environment | secrets) - settings_read_by_service() == set(), "unknown settings"
    assert environment.isdisjoint(secrets)


def test_credentials_come_from_the_secret(module: Module) -> None:
    secrets = {secret["name"]: secret["valueFrom"] for secret in module.locals["secrets"]}

    for name, key in SECRET_KEYS.items():
        assert secrets[name] == f"${{aws_secretsmanager_secret.genesys_client.arn}}:{key}::"


def test_container_uses_environment_and_secrets(module: Module) -> None:
    container = module.resource("aws_ecs_task_definition", "service")["container_definitions"]

    assert "local.environment[key]" in container
    assert "secrets = local.secrets" in container
    assert "readonlyRootFilesystem = true" in container
    assert 'command = ["CMD", "genesys-stream", "health"]' in container
    assert "stopTimeout = var.stop_timeout" in container


def test_tables_and_queue_come_from_the_stack(module: Module) -> None:
    environment = module.locals["environment"]

    assert environment["STREAM_TABLE_NAME"] == "${aws_dynamodb_table.conversations.name}"
    assert environment["STREAM_CONTROL_TABLE_NAME"] == "${aws_dynamodb_table.control.name}"
    assert environment["STREAM_QUEUE_URL"] == "${aws_sqs_queue.events.url}"
    assert environment["STREAM_PAYLOAD_BUCKET"] == "${aws_s3_bucket.payloads.bucket}"


def test_health_file_is_on_a_writable_mount(module: Module) -> None:
    health_file = module.locals["environment"]["STREAM_HEALTH_FILE"]
    local_dir = module.locals["environment"]["STREAM_LOCAL_DIR"]
    container = module.resource("aws_ecs_task_definition", "service")["container_definitions"]

    assert health_file.startswith("${local.state_dir}/")
    assert local_dir.startswith("${local.state_dir}/")
    assert "containerPath = local.state_dir" in container
    assert module.locals["state_dir"] == "/run/genesys-stream"


def test_secret_value_is_not_in_terraform() -> None:
    every_module = load_module(sorted(TERRAFORM_DIR.rglob("*.tf")))

    assert "aws_secretsmanager_secret_version" not in every_module.resources
    for path in TERRAFORM_DIR.rglob("*.tf"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bsecret_string\b", text), path.name
        assert not re.search(r"\bsecret_binary\b", text), path.name


def test_deployment_never_overlaps_tasks(module: Module) -> None:
    service = module.resource("aws_ecs_service", "service")
    desired = module.variables["desired_count"]

    assert service["deployment_minimum_healthy_percent"] == 0
    assert service["deployment_maximum_percent"] == 100
    assert service["desired_count"] == "${var.desired_count}"
    assert desired["default"] == 1
    assert desired["validation"][0]["condition"] == "${var.desired_count == 1}"


def test_deployment_rolls_back_on_failure(module: Module) -> None:
    breaker = module.resource("aws_ecs_service", "service")["deployment_circuit_breaker"][0]

    assert breaker == {"enable": True, "rollback": True}


def test_stop_timeout_is_at_most_fargate_maximum(module: Module) -> None:
    stop_timeout = module.variables["stop_timeout"]

    assert stop_timeout["default"] <= 120
    assert "var.stop_timeout <= 120" in stop_timeout["validation"][0]["condition"]


def test_service_runs_private_on_fargate(module: Module) -> None:
    service = module.resource("aws_ecs_service", "service")
    network = service["network_configuration"][0]

    assert service["launch_type"] == "FARGATE"
    assert network["assign_public_ip"] is False
    assert network["subnets"] == "${var.subnet_ids}"
    assert network["security_groups"] == ["${aws_security_group.service.id}"]


def test_subnets_must_not_be_empty(module: Module) -> None:
    conditions = [rule["condition"] for rule in module.variables["subnet_ids"]["validation"]]

    assert "${length(var.subnet_ids) > 0}" in conditions


def test_region_validation_lists_every_region(module: Module) -> None:
    from genesys.regions import REGIONS

    condition = module.variables["genesys_region"]["validation"][0]["condition"]

    assert len(REGIONS) == 18
    for region in REGIONS:
        assert f'"{region.aws_region}"' in condition
        assert f'"{region.domain}"' in condition


def lifecycle_event_types() -> set[str]:
    """Return the module-level string constants of handlers/lifecycle.py that name an event."""
    tree = ast.parse(LIFECYCLE_SOURCE.read_text(encoding="utf-8"))
    return {
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        and re.fullmatch(r"(conversation|participant)\.[a-z]+", node.value.value)
    }


def test_forward_events_match_lifecycle(module: Module) -> None:
    variable = module.variables["forward_events"]
    condition = variable["validation"][0]["condition"]
    types = lifecycle_event_types()

    assert len(types) == 5
    assert set(variable["default"]) == types
    for event_type in types:
        assert f'"{event_type}"' in condition


# Stand-ins for the values only AWS assigns, to feed the task's environment to the config loader.
RESOURCE_VALUES = {
    "aws_dynamodb_table.conversations.name": "genesys-stream-conversations",
    "aws_dynamodb_table.control.name": "genesys-stream-control",
    "aws_sqs_queue.events.url": "https://sqs.eu-west-1.amazonaws.com/123456789012/events.fifo",
    "aws_s3_bucket.payloads.bucket": "genesys-stream-payloads-123456789012-eu-west-1",
    "local.region": "eu-west-1",
    "local.state_dir": "/run/genesys-stream",
}
EXAMPLE_INPUTS = {
    "genesys_region": "mypurecloud.ie",
    "genesys_queue_ids": ["11111111-2222-3333-4444-555555555555"],
}


_REFERENCE = re.compile(r"\$\{(.+?)\}")
_VARIABLE = re.compile(r'(?:(?P<function>tostring|lower|join)\((?:",", )?)?var\.(?P<name>\w+)\)?')


def evaluate(expression: str, module: Module) -> str:
    """Evaluate the few expression forms the task's environment uses, with input defaults."""

    def substitute(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner in RESOURCE_VALUES:
            return RESOURCE_VALUES[inner]

        variable = _VARIABLE.fullmatch(inner)
        assert variable, f"unsupported expression {inner!r}"
        name = variable.group("name")
        value: Any = EXAMPLE_INPUTS.get(name, module.variables[name].get("default"))

        function = variable.group("function")
        if function == "join":
            return ",".join(value)
        if function == "lower":
            return str(value).lower()
        return f"{value:g}" if isinstance(value, float) else str(value)

    return _REFERENCE.sub(substitute, expression)


def test_task_environment_passes_config_checks(module: Module) -> None:
    from genesys_stream.config import load

    environment = {
        name: evaluate(expression, module)
        for name, expression in module.locals["environment"].items()
    }
    environment |= {"GENESYS_CLIENT_ID": "client", "GENESYS_CLIENT_SECRET": "secret"}

    config = load(environment)

    assert config.table_name == "genesys-stream-conversations"
    assert config.merge_shards == module.variables["merge_shards"]["default"]
    assert config.dead_budget == module.variables["dead_budget"]["default"]
    assert config.uses_aws
