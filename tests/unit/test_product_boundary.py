"""The product package holds the agent alone: it never imports the stand-ins or their servers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAND_IN_MODULES = ("standins", "starlette", "uvicorn", "httptools")


def _foreign_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; the stand-in modules it left in ``sys.modules``."""
    probe = code + (
        "\nimport sys\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {STAND_IN_MODULES!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # a printed list of names


def test_satellite_run_help_imports_no_stand_in_and_no_server_framework():
    code = (
        "import contextlib, io\n"
        "from satellite.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['run', '--help'])\n"
    )
    assert _foreign_modules_after(code) == []


def test_every_product_module_imports_without_the_stand_ins():
    code = (
        "import importlib, pkgutil, satellite\n"
        "for info in pkgutil.walk_packages(satellite.__path__, 'satellite.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
    )
    assert _foreign_modules_after(code) == []


def test_the_stand_in_commands_are_the_only_place_the_product_names_them():
    """Only ``satellite/cli.py`` names ``standins`` (as strings it imports on demand); no import statement does."""
    offenders = []
    for path in sorted((ROOT / "satellite").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in STAND_IN_MODULES]
    assert offenders == []


def test_a_stand_in_command_without_the_extra_says_what_to_install(tmp_path):
    """Where the ``standins`` extra is missing, ``satellite demo`` exits 2 naming the extra (no traceback)."""
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {STAND_IN_MODULES!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "satellite", "demo"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "pip install 'sei-satellite[standins]'" in result.stderr and "Traceback" not in result.stderr
