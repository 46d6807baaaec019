"""``satellite events subscribe|list|unsubscribe -c FILE [--integration I]``, and the check's line.

``subscribe`` creates the missing subscriptions and replaces the existing ones (enabled, the
configured credentials), per collection of each integration with events on. A PAT that may not
manage service hooks (401/403: it needs "Service Hooks (read and write)", ``vso.hooks_write``)
gets instead exactly what an administrator must create: the URL, the event types, the user name
and where the password comes from (its ``${env:...}``/``${file:...}`` reference, never the value).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from satellite.ado.client import AdoClient, TlsOptions
from satellite.check.result import CheckResult, failed, passed, skipped
from satellite.errors import AdoAuthError, AdoError, AdoPermissionError
from satellite.events.subscriptions import (
    Wanted,
    apply_subscription,
    delete_subscription,
    event_url,
    list_subscriptions,
    ours,
    wanted_subscriptions,
)
from satellite.retrying import RetryPolicy
from satellite.support.redaction import INLINE, reference_text
from satellite.sync.collector import collection_targets

__all__ = ["admin_instructions", "events_checks", "events_command", "password_reference"]

ONCE = RetryPolicy(max_attempts=1)
HOOKS_SCOPE = 'the PAT lacks "Service Hooks (read and write)" (vso.hooks_write)'
Out = Callable[[str], None]


def password_reference(config, integration_id: str) -> str:
    """Where the events password comes from, as the config file writes it (never the value)."""
    try:
        raw = yaml.safe_load(Path(config.source).read_text(encoding="utf-8"))
        for item in raw.get("integrations") or []:
            if isinstance(item, dict) and item.get("id") == integration_id:
                return reference_text((item.get("events") or {}).get("password"))
    except (OSError, yaml.YAMLError, AttributeError):
        pass
    return INLINE


def admin_instructions(config, integration, collection_url: str, wanted: tuple[Wanted, ...]) -> list[str]:
    """What an administrator of the collection must create when the PAT may not."""
    lines = [
        f"The PAT of integration {integration.id} may not manage service hooks on {collection_url} ({HOOKS_SCOPE}).",
        ("Ask a collection administrator to create these Web Hooks subscriptions (Project settings > Service hooks >"
         " Web Hooks, any project; or POST _apis/hooks/subscriptions), or run this command with a PAT that may:"),
        f"  URL:                      {event_url(integration)}",
        (f"  Basic authentication:     user name {integration.events.username!r}, password from"
         f" {password_reference(config, integration.id)} (integrations[{integration.id}].events.password)"),
        "  Resource details to send: All;  Messages to send: None;  Detailed messages to send: None",
        "  Filters:                  none (any project, repository, branch, type)",
        "  Event types (publisher / event type):",
    ]
    lines += [f"    - {w.kind.publisher} / {w.kind.name}" for w in wanted]
    return lines


def _integrations(config, integration_id: str | None, out: Out) -> list | None:
    chosen = [i for i in config.integrations if integration_id in (None, i.id)]
    if integration_id is not None and not chosen:
        out(f"no integration {integration_id!r} in the config")
        return None
    enabled = [i for i in chosen if i.events.enabled]
    if not enabled:
        out("no integration has events enabled (integrations[].events.enabled)")
        return None
    return enabled


def _clients(config, integration):
    tls = TlsOptions(verify=integration.tls.verify, ca_bundle=integration.tls.ca_bundle)
    timeout = config.limits.request_timeout.total_seconds()
    for target in collection_targets(integration, tls, integration.proxy, timeout, ONCE):
        yield target, AdoClient(target, integration.pat, tls=tls, proxy=integration.proxy, timeout=timeout, retry=ONCE)


def events_command(config, action: str, integration_id: str | None = None, out: Out = print) -> int:
    """Run ``subscribe``, ``list`` or ``unsubscribe``; 0 when everything was done, 1 otherwise."""
    integrations = _integrations(config, integration_id, out)
    if integrations is None:
        return 1
    code = 0
    for integration in integrations:
        try:
            for target, client in _clients(config, integration):
                with client:
                    code |= _one(config, integration, target, client, action, out)
        except AdoError as exc:
            out(f"{integration.id}: {exc}")
            code = 1
    return code


def _one(config, integration, target, client: AdoClient, action: str, out: Out) -> int:
    wanted: tuple[Wanted, ...] = ()
    try:
        wanted = wanted_subscriptions(integration, client.api_version())
        found = ours(list_subscriptions(client), integration)
        if action == "list":
            out(f"{integration.id} / {target.name}: {len(found)} subscription(s) posting to {event_url(integration)}")
            for f in found:
                out(f"  {f.id}  {f.publisher}/{f.event_type}  {f.status}")
            missing = [w.kind.name for w in wanted if not any(f.event_type == w.kind.name for f in found)]
            if missing:
                out(f"  missing: {', '.join(missing)} (satellite events subscribe)")
            return 0 if not missing else 1
        if action == "unsubscribe":
            for f in found:
                delete_subscription(client, f.id)
                out(f"{integration.id} / {target.name}: deleted {f.id} ({f.event_type})")
            return 0
        for w in wanted:
            existing = next((f for f in found if f.event_type == w.kind.name), None)
            done, answer = apply_subscription(client, integration, w, existing)
            out(f"{integration.id} / {target.name}: {done} {answer.id} ({w.kind.name}, {answer.status})")
        extra = [f for f in found if f.event_type not in {w.kind.name for w in wanted}]
        for f in extra:
            out(f"{integration.id} / {target.name}: left {f.id} ({f.event_type}): no enabled service needs it"
                " (satellite events unsubscribe removes all)")
        return 0
    except (AdoAuthError, AdoPermissionError):
        if action != "subscribe":
            out(f"{integration.id} / {target.name}: the server refused ({HOOKS_SCOPE}, or vso.hooks to list)")
            return 1
        for line in admin_instructions(config, integration, target.url, wanted or wanted_subscriptions(integration)):
            out(line)
        return 1


def events_checks(config, integration, *, timeout: float) -> list[CheckResult]:
    """``satellite check``'s events line per collection: the subscriptions exist and are enabled."""
    if not integration.events.enabled:
        return []
    results = []
    tls = TlsOptions(verify=integration.tls.verify, ca_bundle=integration.tls.ca_bundle)
    url = event_url(integration)
    try:
        targets = collection_targets(integration, tls, integration.proxy, timeout, ONCE)
    except AdoError as exc:
        return [skipped(integration.id, None, "events subscriptions", url, f"collections not listed: {exc}")]
    for target in targets:
        with AdoClient(target, integration.pat, tls=tls, proxy=integration.proxy, timeout=timeout, retry=ONCE) as client:
            try:
                wanted = wanted_subscriptions(integration, client.api_version())
                found = ours(list_subscriptions(client), integration)
            except (AdoAuthError, AdoPermissionError):
                results.append(skipped(integration.id, target.name, "events subscriptions", url,
                                       "the PAT may not read service hooks (vso.hooks): ask an administrator to check them"))
                continue
            except AdoError as exc:
                results.append(failed(integration.id, target.name, "events subscriptions", url, str(exc)))
                continue
        missing = [w.kind.name for w in wanted if not any(f.event_type == w.kind.name for f in found)]
        off = [f"{f.event_type} ({f.status})" for f in found if f.status != "enabled"]
        if missing or off:
            detail = "; ".join(p for p in (f"missing: {', '.join(missing)}" if missing else "",
                                           f"not enabled: {', '.join(off)}" if off else "") if p)
            results.append(failed(integration.id, target.name, "events subscriptions", url, detail,
                                  "satellite events subscribe -c FILE (or ask an administrator: it prints what to create)"))
        else:
            results.append(passed(integration.id, target.name, "events subscriptions", url,
                                  f"{len(wanted)} subscription(s) enabled"))
    stale = _stale_warning(config, integration.id)
    if stale:
        results.append(failed(integration.id, None, "events delivery", url, stale,
                              "check the subscriptions' notification history on the server and that it reaches the URL"))
    return results


def _stale_warning(config, integration_id: str) -> str | None:
    """The agent's stale-subscription finding, when its store exists (read only, no new file)."""
    from satellite.events.health import read_event_status
    from satellite.store import Store
    from satellite.store.database import DATABASE_NAME

    if not (Path(config.satellite.data_dir) / DATABASE_NAME).exists():
        return None
    store = Store(config.satellite.data_dir)
    try:
        return next((v.warning() for v in read_event_status(store) if v.integration_id == integration_id), None)
    finally:
        store.close()
