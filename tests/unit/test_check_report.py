"""Rendering of ``satellite check`` results: table columns, hints under failures, JSON fields, no secret."""

from __future__ import annotations

import json

from satellite.check import CheckResult, render_json, render_table
from satellite.secret import Secret

CANARY = "CANARY-REPORT-SECRET-0123456789"

RESULTS = [
    CheckResult("tfs-main", None, "tcp", "tfs.corp:443", "pass", "connected to 10.0.0.5 in 3 ms"),
    CheckResult("tfs-main", "DefaultCollection", "pat", "https://tfs.corp/tfs/DefaultCollection", "fail",
                "the server refused the PAT (HTTP 401)", "create a new PAT on this server"),
    CheckResult("tfs-main", "DefaultCollection", "projects", "https://tfs.corp/tfs/DefaultCollection", "skip", "skipped: no PAT"),
]


def test_the_table_has_one_line_per_check_a_fix_line_under_failures_and_a_summary():
    lines = render_table(RESULTS).splitlines()
    assert lines[0].split() == ["integration", "collection", "check", "target", "result", "detail"]
    body = [line for line in lines[2:] if line.strip()]
    assert body[0].split()[:5] == ["tfs-main", "-", "tcp", "tfs.corp:443", "PASS"]
    assert body[1].split()[4] == "FAIL" and body[2].strip() == "fix: create a new PAT on this server"
    assert body[2].index("fix:") == lines[0].index("detail")  # the hint sits under the detail column
    assert body[3].split()[4] == "SKIP"
    assert body[-1] == "check: 1 passed, 1 failed, 1 skipped: some checks failed"


def test_json_lists_every_field():
    items = json.loads(render_json(RESULTS))
    assert items[1] == {"integration": "tfs-main", "collection": "DefaultCollection", "check": "pat",
                        "target": "https://tfs.corp/tfs/DefaultCollection", "ok": False, "status": "fail",
                        "detail": "the server refused the PAT (HTTP 401)", "hint": "create a new PAT on this server"}
    assert items[0]["ok"] is True and items[0]["collection"] is None


def test_a_secret_that_reaches_a_result_is_masked():
    Secret(CANARY)  # registered with the redactor, as every configured secret is
    leaky = CheckResult("x", None, "pat", f"https://user:{CANARY}@host", "fail", f"token {CANARY} refused", f"replace {CANARY}")
    assert CANARY not in render_table([leaky]) + render_json([leaky])
