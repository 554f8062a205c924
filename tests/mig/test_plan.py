"""clover.mig.plan: planning is pure (no NVML import) and operations are an enum."""

import ast
from pathlib import Path

import pytest

import clover.mig.plan as plan
from clover.errors import CloverError
from clover.mig.plan import Op, OpKind


def test_plan_module_never_imports_nvml():
    tree = ast.parse(Path(plan.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names} | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any("nvml" in str(x) or x == "clover.mig.manager" for x in names)


def test_op_kinds_are_an_enum_and_strings_convert():
    op = Op("create-gi", 1, "3g.20gb", 4, 9)
    assert op.action is OpKind.CREATE_GI and f"{op.action:<10}|" == "create-gi |"
    assert op.command() == "nvidia-smi mig -i 1 -cgi 9:4 -C"
    assert op.as_dict()["action"] == "create-gi"
    assert Op(OpKind.DESTROY_GI, 0, "*", -1, -1).nvml_call() == \
        "nvmlGpuInstanceDestroy(every GPU instance of GPU 0)"
    with pytest.raises(CloverError, match="unknown MIG operation 'explode'"):
        Op("explode", 0, "1g.5gb", 0, 19)
