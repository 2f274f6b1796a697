"""Parsed Terraform of infra/terraform, for static tests (no terraform binary needed).

``python-hcl2`` turns each file into plain Python values. Expressions stay
strings: ``"${var.name}"`` for a reference, ``"${jsonencode(...)}"`` for a call,
and literal strings lose their quotes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = ROOT / "infra" / "terraform"
MODULE_FILES = sorted(TERRAFORM_DIR.glob("*.tf"))
ALL_TF_FILES = sorted(TERRAFORM_DIR.rglob("*.tf"))


def load_tf(path: Path) -> dict[str, Any]:
    """Parse one .tf file into plain values: no comments, no block markers, no quotes."""
    with path.open(encoding="utf-8") as file:
        try:
            from hcl2 import SerializationOptions
        except ImportError:  # python-hcl2 before 7 returns plain values already.
            return dict(hcl2.load(file))
        options = SerializationOptions(
            with_comments=False, explicit_blocks=False, strip_string_quotes=True
        )
        return dict(hcl2.load(file, serialization_options=options))


@dataclass
class Module:
    """The blocks of every .tf file of one module, merged and indexed by name."""

    resources: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """Return the body of resource ``kind.name``; fail the test if it is missing."""
        body = self.resources.get(kind, {}).get(name)
        assert body is not None, f"resource {kind}.{name} is missing from {TERRAFORM_DIR}"
        return body


def _unquote(name: str) -> str:
    return name.strip('"')


def load_module(files: list[Path]) -> Module:
    """Merge the blocks of ``files`` into one ``Module``."""
    module = Module()
    for path in files:
        parsed = load_tf(path)
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.resources[_unquote(kind)][_unquote(name)] = body
        for block in parsed.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    module.data[_unquote(kind)][_unquote(name)] = body
        for block in parsed.get("locals", []):
            module.locals.update(block)
        for block in parsed.get("variable", []):
            for name, body in block.items():
                module.variables[_unquote(name)] = body
        for block in parsed.get("output", []):
            for name, body in block.items():
                module.outputs[_unquote(name)] = body
    return module
