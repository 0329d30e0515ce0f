"""The domain imports nothing that does I/O: only an allow-list of pure standard-library modules."""

from __future__ import annotations

import ast
from pathlib import Path

import hanoinet.domain

DOMAIN = Path(hanoinet.domain.__file__).parent
PURE_STDLIB = {
    "__future__", "abc", "bisect", "calendar", "collections", "dataclasses", "datetime", "decimal", "enum",
    "functools", "hashlib", "itertools", "json", "math", "operator", "re", "string", "types", "typing", "uuid",
}  # fmt: skip
FORBIDDEN_CALLS = {"open", "exec", "eval", "__import__"}


def violations(source: str, name: str) -> list[str]:
    """Return every import outside the allow-list and every call to a built-in that does I/O."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""] if node.level == 0 else ["hanoinet.domain"]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{name}:{node.lineno}: calls {node.func.id}()")
            continue
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if not (module.startswith("hanoinet.domain") or top in PURE_STDLIB):
                found.append(f"{name}:{node.lineno}: imports {module}")
    return found


def test_domain_imports_only_pure_modules() -> None:
    files = sorted(DOMAIN.glob("*.py"))
    assert len(files) >= 6
    problems = [v for f in files for v in violations(f.read_text(encoding="utf-8"), f.name)]
    assert problems == []


def test_the_check_catches_io_imports_and_calls() -> None:
    source = "import os\nfrom sqlalchemy import select\nfrom pathlib import Path\nimport fastapi.routing\nopen('x')\n"
    assert violations(source, "bad.py") == [
        "bad.py:1: imports os",
        "bad.py:2: imports sqlalchemy",
        "bad.py:3: imports pathlib",
        "bad.py:4: imports fastapi.routing",
        "bad.py:5: calls open()",
    ]


def test_the_check_allows_the_domain_and_pure_stdlib() -> None:
    source = "from datetime import date\nfrom hanoinet.domain.rules import Period\nfrom . import errors\n"
    assert violations(source, "ok.py") == []
