"""The truth shares no code with what it checks: no import of the receiver (its report) or the satellite."""

from __future__ import annotations

import ast
from pathlib import Path

from standins.ado_simulator import truth

FORBIDDEN = ("standins.sei_receiver", "satellite")


def test_the_truth_imports_neither_the_report_nor_the_satellite():
    for path in Path(truth.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), f"{path.name} imports {name}"
