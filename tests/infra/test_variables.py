"""The module's input validation, run by a real terraform binary where one is on PATH.

Only variables.tf is copied into a scratch folder: it needs no provider, so
`terraform init` and `terraform plan` run offline and evaluate every
validation block against the values given.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.infra.terraform import TERRAFORM_DIR

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH")

QUEUE_ID = "11111111-2222-3333-4444-555555555555"
VALID: dict[str, Any] = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "genesys_region": "eu-west-1",
    "genesys_queue_ids": [QUEUE_ID],
}


def run_terraform(folder: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    environment = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
    return subprocess.run(  # noqa: S603 - a fixed binary with arguments built here.
        [TERRAFORM, *arguments, "-no-color", "-input=false"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def variables_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("variables")
    shutil.copy(TERRAFORM_DIR / "variables.tf", folder / "variables.tf")
    result = run_terraform(folder, "init", "-backend=false")
    assert result.returncode == 0, result.stderr
    return folder


def plan(folder: Path, **overrides: Any) -> subprocess.CompletedProcess[str]:
    values = {**VALID, **overrides}
    (folder / "values.tfvars.json").write_bytes(orjson.dumps(values))
    return run_terraform(folder, "plan", "-var-file=values.tfvars.json")


def error_text(result: subprocess.CompletedProcess[str]) -> str:
    # Terraform draws a box around each error and wraps its lines.
    return " ".join(re.sub(r"[│╷╵]", " ", result.stderr).split())


def test_valid_inputs_plan(variables_only: Path) -> None:
    result = plan(variables_only)

    assert result.returncode == 0, error_text(result)


@pytest.mark.parametrize(
    "region",
    ["eu-west-1", "mypurecloud.ie", "MyPureCloud.IE", "eusc-de-east-1", "use2.us-gov-pure.cloud"],
)
def test_region_accepted(variables_only: Path, region: str) -> None:
    result = plan(variables_only, genesys_region=region)

    assert result.returncode == 0, error_text(result)


def test_every_genesys_region_accepted(variables_only: Path) -> None:
    from genesys.regions import REGIONS

    for region in REGIONS:
        for name in (region.aws_region, region.domain):
            result = plan(variables_only, genesys_region=name)
            assert result.returncode == 0, f"{name}: {error_text(result)}"


def test_topics_accepted(variables_only: Path) -> None:
    topics = [
        f"v2.routing.queues.{QUEUE_ID}.conversations.calls",
        f"v2.users.{QUEUE_ID}?conversations&presence",
        f"v2.detail.events.conversation.{QUEUE_ID}.customer.start",
    ]

    result = plan(variables_only, genesys_topics=topics)

    assert result.returncode == 0, error_text(result)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"genesys_region": "eu-west-9"}, "genesys_region must be a Genesys Cloud region"),
        ({"genesys_region": "mypurecloud.com.ie"}, "genesys_region must be a Genesys Cloud region"),
        ({"subnet_ids": []}, "at least one private subnet"),
        ({"subnet_ids": ["sn-1"]}, "Every subnet id must look like"),
        ({"vpc_id": "my-vpc"}, "vpc_id must look like"),
        ({"desired_count": 2}, "desired_count must be 1"),
        ({"desired_count": 0}, "desired_count must be 1"),
        ({"stop_timeout": 121}, "stop_timeout must be from 2 to 120"),
        ({"genesys_topics": ["v2.users.x conversations"]}, "Every topic must start with v2."),
        ({"genesys_topics": ["users.x.conversations"]}, "Every topic must start with v2."),
        ({"genesys_topics": ["v2." + "x" * 198]}, "at most 200 characters"),
        ({"genesys_queue_ids": ["queue-1"]}, "Every queue id must be a UUID"),
        ({"genesys_user_ids": ["user-1"]}, "Every user id must be a UUID"),
        ({"forward_events": ["conversation.bogus"]}, "forward_events must list one or more"),
        ({"forward_events": []}, "forward_events must list one or more"),
        ({"image_tag": "latest"}, "image_tag must be a valid Docker tag other than latest"),
        ({"log_retention_days": 42}, "log_retention_days must be a value CloudWatch Logs"),
        ({"task_cpu": 300}, "task_cpu must be one of"),
        ({"merge_shards": 0}, "merge_shards must be a whole number from 1 to 64"),
        ({"log_level": "TRACE"}, "log_level must be DEBUG, INFO, WARNING or ERROR"),
        ({"name": "Genesys_Stream"}, "The name must be 3 to 32 characters"),
        ({"alarm_sns_topic_arn": "my-topic"}, "alarm_sns_topic_arn must be an SNS topic ARN"),
        ({"secret_recovery_window_days": 3}, "secret_recovery_window_days must be 0 or"),
    ],
)
def test_invalid_input_rejected(
    variables_only: Path, overrides: dict[str, Any], message: str
) -> None:
    result = plan(variables_only, **overrides)

    assert result.returncode != 0
    assert message in error_text(result)
