"""Every .tf file parses, so checkov (which skips files it cannot parse) reads them all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.terraform import ALL_TF_FILES, TERRAFORM_DIR, load_tf

# A checkov suppression comment: `#checkov:skip=<check id>:<reason>`.
_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def test_terraform_files_exist() -> None:
    names = {path.relative_to(TERRAFORM_DIR).as_posix() for path in ALL_TF_FILES}

    for expected in (
        "versions.tf",
        "variables.tf",
        "outputs.tf",
        "ecs.tf",
        "iam.tf",
        "dynamodb.tf",
        "sqs.tf",
        "s3.tf",
        "secrets.tf",
        "network.tf",
        "logs.tf",
        "alarms.tf",
        "dashboard.tf",
        "ecr.tf",
        "examples/basic/main.tf",
    ):
        assert expected in names


@pytest.mark.parametrize("path", ALL_TF_FILES, ids=lambda path: path.name)
def test_tf_file_parses(path: Path) -> None:
    parsed = load_tf(path)

    assert parsed, f"{path} parsed to nothing"


@pytest.mark.parametrize("path", ALL_TF_FILES, ids=lambda path: path.name)
def test_checkov_skips_have_reasons(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _SKIP.search(line)
        if match is None:
            continue
        check, reason = match.group(1), (match.group(2) or "").strip()
        assert len(reason.split()) >= 5, f"{path.name}: skip of {check} needs a reason"


def test_versions_pin_terraform_and_provider() -> None:
    versions = load_tf(TERRAFORM_DIR / "versions.tf")["terraform"][0]

    assert versions["required_version"] == ">= 1.5.0"
    assert versions["required_providers"][0]["aws"]["version"].startswith("~> 5.")
