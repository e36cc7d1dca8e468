"""The center stays readable: no module over 500 lines, no function over 80 (migrations are
generated schema history and are left as written), and every folder says in its docstring what
lives there."""

from __future__ import annotations

import ast
from pathlib import Path

import kubeprobe.center

CENTER = Path(kubeprobe.center.__file__).parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for p in CENTER.rglob("*.py") if "migrations" not in p.relative_to(CENTER).parts)


def test_no_module_over_500_lines() -> None:
    long = {str(p.relative_to(CENTER)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}, f"split these modules (lines): {long}"


def test_no_function_over_80_lines() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(CENTER)}:{node.name}"] = lines
    assert long == {}, f"split these functions (lines): {long}"


def test_every_folder_says_what_lives_there() -> None:
    for init in CENTER.rglob("__init__.py"):
        if "migrations" in init.relative_to(CENTER).parts:
            continue
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init.relative_to(CENTER)} has no docstring"
