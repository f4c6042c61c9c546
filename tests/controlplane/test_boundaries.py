"""The control plane talks to the runner through the contract only: it never imports ``model_runner``
(the smoke-test protocol and the pickle scanner live in ``contracts``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_control_plane_never_imports_the_runner() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path) if m.split(".")[0] == "model_runner")
        for path in (ROOT / "controlplane").rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}
