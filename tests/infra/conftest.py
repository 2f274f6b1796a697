"""Fixtures of the infra tests: the parsed Terraform module."""

from __future__ import annotations

import pytest

from tests.infra.terraform import MODULE_FILES, TERRAFORM_DIR, Module, load_module


@pytest.fixture(scope="session")
def module() -> Module:
    """The reusable module in infra/terraform (its examples excluded)."""
    assert MODULE_FILES, f"no .tf files in {TERRAFORM_DIR}"
    return load_module(MODULE_FILES)
