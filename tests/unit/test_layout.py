"""The test tree keeps its shape: test modules share code only through tests/support, and no
test file grows past 400 lines (split it by topic instead)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def modules_named_test() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, anywhere in the file, relative imports resolved."""
    package = path.parent.relative_to(TESTS.parent).parts
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from . import test_x` names the module in the imported names
            found += [module, *(f"{module}.{alias.name}" for alias in node.names)]
    return found


def test_no_module_imports_a_test_module_or_conftest() -> None:
    offenders = {
        str(path.relative_to(TESTS)): name
        for path in python_files()
        for name in imported_modules(path)
        if name.split(".")[0] == "tests" and name.split(".")[-1].startswith(("test_", "conftest"))
    }
    assert offenders == {}, "share code through tests/support instead"


def test_no_test_file_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(TESTS)): len(path.read_text().splitlines()) for path in modules_named_test()
    }
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}, "split these by topic"
    assert len(sizes) > 50  # the walk found the tree
