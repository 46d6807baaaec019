"""The chart's README: its values table is generated from values.yaml's comments and never stale;
its install example renders with real Helm."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml

from .helpers import CHART, ROOT, render
from .test_chart import MINIMAL

pytestmark = pytest.mark.deploy

SCRIPT = ROOT / "scripts" / "chart-readme.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_the_readme_values_table_is_current():
    result = _run("--check")
    assert result.returncode == 0, result.stderr + "\nrun: python scripts/chart-readme.py --write"


def test_a_changed_comment_or_default_makes_the_readme_stale_until_written(tmp_path):
    chart = tmp_path / "sei-satellite"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    text = values.read_text()
    values.write_text(text.replace("## @param logLevel Log level", "## @param logLevel How much to log").replace(
        "logLevel: info", "logLevel: warning"))
    stale = _run("--check", "--chart", str(chart))
    assert stale.returncode == 1 and "chart-readme.py --write" in stale.stderr
    assert _run("--write", "--chart", str(chart)).returncode == 0
    assert _run("--check", "--chart", str(chart)).returncode == 0
    assert '| `logLevel` | How much to log (debug, info, warning, error) | `"warning"` |' in (chart / "README.md").read_text()


def test_every_value_is_in_the_table_once_with_its_default():
    text = (CHART / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \| .* \| `(.*)` \|$", text, flags=re.MULTILINE)
    documented = re.findall(r"^\s*## @param (\S+) ", (CHART / "values.yaml").read_text(), flags=re.MULTILINE)
    assert [name for name, _ in rows] == documented
    defaults = dict(rows)
    assert defaults["replicaCount"] == "1" and defaults["podDisruptionBudget.maxUnavailable"] == "1"
    assert defaults["persistence.accessModes"] == '["ReadWriteOnce"]' and defaults["secrets.existingSecret"] == '""'


def test_the_readme_install_example_renders_with_the_secrets_it_names():
    text = (CHART / "README.md").read_text()
    (example,) = re.findall(r"```yaml\n# my-values.yaml\n(.*?)```", text, flags=re.DOTALL)
    values = yaml.safe_load(example)
    for flag in ("secrets.apiKey", "secrets.signingPrivateKey", "secrets.recipientPublicKey", "secrets.pats.tfs-main"):
        assert f"--set-file {flag}=" in text
    values["secrets"] = MINIMAL["secrets"]  # what the --set-file flags give
    rendered = render(values)
    assert rendered.config()["satellite"]["endpoint"] == "https://ingest.sei.example.com"
    assert "helm test sei-satellite -n sei --logs" in text
