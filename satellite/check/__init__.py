"""``satellite check``: the "Validate Connection" of the hosted product, deeper.

    results = run_checks(config)       # list[CheckResult], integrations in config order, then SEI
    print(render_table(results))

For each integration and collection: DNS, TCP, TLS, the PAT, the api-version, one cheap read per
enabled service (a refusal names the missing scope), users, and the projects the filter keeps;
for the SEI endpoint: DNS, TCP, TLS, the API key and the keys (a probe batch, nothing stored).
Integrations are checked concurrently; every request is tried once with a short timeout.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from satellite.check.ado_checks import READ_TIMEOUT, integration_checks
from satellite.check.probes import CONNECT_TIMEOUT
from satellite.check.report import render_json, render_table, summary
from satellite.check.result import SEI, CheckResult
from satellite.check.sei_checks import sei_checks

__all__ = ["run_checks", "CheckResult", "render_table", "render_json", "summary", "SEI"]


def _guarded(label: str, job: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    """A bug in one group of checks becomes one failed line instead of ending the others."""
    try:
        return job()
    except Exception as exc:  # noqa: BLE001 - reported as a failed check, redacted
        return [CheckResult(label, None, "internal", "", "fail", f"the check itself failed: {exc.__class__.__name__}: {exc}",
                            "please report this with the line above")]


def run_checks(config, *, timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT) -> list[CheckResult]:
    """Every check of ``config`` (a ``satellite.config.Config``); integrations and SEI run concurrently."""
    jobs: list[tuple[str, Callable[[], list[CheckResult]]]] = [
        (integration.id, lambda i=i, it=integration: integration_checks(i, it, config.limits, timeout=timeout, read_timeout=read_timeout))
        for i, integration in enumerate(config.integrations)
    ]
    from satellite.events.command import events_checks  # it builds on check.result

    jobs += [(integration.id, lambda it=integration: events_checks(config, it, timeout=read_timeout))
             for integration in config.integrations if integration.events.enabled]  # satellite.events
    jobs.append((SEI, lambda: sei_checks(config, timeout=timeout, read_timeout=read_timeout)))
    with ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="check") as pool:
        futures = [pool.submit(_guarded, label, job) for label, job in jobs]
        return [result for future in futures for result in future.result()]
