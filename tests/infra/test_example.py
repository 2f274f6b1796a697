"""The root module in examples/basic calls the module with every required input."""

from __future__ import annotations

from tests.infra.terraform import TERRAFORM_DIR, Module, load_tf

EXAMPLE = TERRAFORM_DIR / "examples" / "basic" / "main.tf"


def test_example_sets_required_inputs(module: Module) -> None:
    call = load_tf(EXAMPLE)["module"][0]["genesys_stream"]
    required = {name for name, variable in module.variables.items() if "default" not in variable}

    assert call["source"] == "../.."
    assert required - set(call) == set(), "required inputs the example does not set"
    assert set(call) - {"source"} <= set(module.variables), "inputs the module does not have"


def test_example_outputs_exist_in_module(module: Module) -> None:
    outputs = load_tf(EXAMPLE)["output"]

    for block in outputs:
        for body in block.values():
            reference = body["value"].removeprefix("${module.genesys_stream.").rstrip("}")
            assert reference in module.outputs


def test_example_tfvars_set_example_inputs() -> None:
    tfvars = load_tf(EXAMPLE.parent / "terraform.tfvars.example")
    variables = load_tf(EXAMPLE)["variable"]
    required = {
        name for block in variables for name, body in block.items() if "default" not in body
    }

    assert required <= set(tfvars)


def test_readme_documents_inputs_and_outputs(module: Module) -> None:
    readme = (TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")

    for name in module.variables:
        assert f"| `{name}` |" in readme, f"input {name} is missing from README.md"
    for name in module.outputs:
        assert f"`{name}`" in readme, f"output {name} is missing from README.md"
