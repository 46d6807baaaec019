"""The uploader and the heartbeat, built from the configuration in one place for ``sync --once`` and
``satellite run``: one SEI endpoint, one API-key source (read anew by both), one retry policy.

    with build_delivery(config, store, started_at=time.time()) as delivery:
        delivery.uploader.drain()
        delivery.heartbeat.send()
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from satellite.delivery.heartbeat import Heartbeat
from satellite.delivery.uploader import Uploader
from satellite.remote.channel import CommandChannel
from satellite.remote.bundle_upload import bundle_uploader
from satellite.retrying import RetryPolicy
from satellite.sei import ApiKeySource, SeiEndpoint
from satellite.store import Store

__all__ = ["Delivery", "build_delivery", "upload_policy"]


def upload_policy(config: Any) -> RetryPolicy:
    """Transient upload failures are retried forever, backing off up to ``delivery.max_backoff``."""
    delivery = config.delivery
    return RetryPolicy(max_attempts=None, initial_wait=delivery.initial_backoff.total_seconds(),
                       max_wait=delivery.max_backoff.total_seconds())


@dataclass(frozen=True)
class Delivery:
    """What talks to SEI for one process; close it (or use ``with``) to close the uploader's client."""

    uploader: Uploader
    heartbeat: Heartbeat
    api_key: ApiKeySource

    def close(self) -> None:
        self.uploader.close()

    def __enter__(self) -> "Delivery":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_delivery(
    config: Any,
    store: Store,
    *,
    started_at: float,
    retry_credentials: bool = False,
    api_key: ApiKeySource | None = None,
    retry: RetryPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
    stop: threading.Event | None = None,
    reconcile: Callable[[str], None] | None = None,
) -> Delivery:
    """``retry_credentials``: a refused API key is retried every ``delivery.auth_retry_interval``
    (the agent) instead of ending delivery (``sync --once``); ``api_key``: where the key comes from
    (by default the config's, read anew from its file); ``transport`` replaces the network (tests);
    ``reconcile``: the agent's reconciliation of an integration id, for SEI's ``reconcile_now``."""
    settings, delivery = config.satellite, config.delivery
    retention = delivery.ledger_retention.total_seconds()
    store.prune_ledger(time.time() - retention)  # at start; then at each acknowledgement
    endpoint = SeiEndpoint.from_settings(settings)
    api_key = api_key or ApiKeySource.from_config(config)
    uploader = Uploader(
        store,
        endpoint,
        api_key,
        timeout=delivery.request_timeout.total_seconds(),
        retry=retry or upload_policy(config),
        auth_retry_interval=delivery.auth_retry_interval.total_seconds() if retry_credentials else None,
        concurrency=delivery.concurrency,
        transport=transport,
        stop=stop,
        ledger_retention=retention,
    )
    commands = CommandChannel.from_config(config, store, reconcile=reconcile, support_bundle=bundle_uploader(config, store))
    return Delivery(uploader, Heartbeat(settings, endpoint, api_key, store, started_at, transport, commands), api_key)
