"""Process settings: the CLI applies the switch interval, the collector's thresholds (and malloc's) before anything runs."""

from __future__ import annotations

import subprocess
import sys

from satellite.process_tuning import GC_THRESHOLDS, SWITCH_INTERVAL_S


def test_tune_process_sets_the_switch_interval_and_the_collector_and_freezes_start_up():
    code = ("import gc, sys; from satellite.process_tuning import tune_process; before = sys.getswitchinterval(); "
            "tune_process(); print(before, sys.getswitchinterval(), *gc.get_threshold(), gc.get_freeze_count() > 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) == 0.005 and float(out[1]) == SWITCH_INTERVAL_S
    assert tuple(int(n) for n in out[2:5]) == GC_THRESHOLDS and out[5] == "True"  # start-up objects frozen


def test_main_tunes_the_process_first(monkeypatch):
    import satellite.cli as cli

    calls: list[str] = []
    monkeypatch.setattr(cli, "tune_process", lambda: calls.append("tuned"))
    monkeypatch.setattr(cli, "build_parser", lambda: (_ for _ in ()).throw(SystemExit(0)))  # stop right after
    try:
        cli.main(["version"])
    except SystemExit:
        pass
    assert calls == ["tuned"]
