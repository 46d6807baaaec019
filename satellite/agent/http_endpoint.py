"""The agent's HTTP endpoint: ``/healthz``, ``/readyz``, ``/metrics``, ``/`` (status page), ``/status.json``;
with events on, ``POST /events/ado/<integration>`` (``satellite.events.receiver``).

A quiet stdlib server in its own thread (probes are not logged). No route shows a secret:
everything comes from the status report and the metrics registry.
"""

from __future__ import annotations

import html
import platform
import ssl
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from satellite import __version__
from satellite.agent.status import StatusReport, age_text, read_status, time_text
from satellite.events.receiver import PATH_PREFIX, EventReceiver
from satellite.metrics import REGISTRY, StoreCollector
from satellite.store import Store

__all__ = ["HttpEndpoint", "NextRuns", "render_page"]

Readiness = Callable[[], tuple[bool, list[str]]]
# integration id -> when its next collection run is due (epoch seconds; None: not scheduled)
NextRuns = Callable[[], Mapping[str, float | None]]


def _next_run_text(at: float | None, now: float) -> str:
    if at is None:
        return "not scheduled"
    if at <= now:
        return "due now"
    return f"{time_text(at)} (in {age_text(at - now)})"


def render_page(report: StatusReport, satellite_id: str, next_runs: Mapping[str, float | None] | None = None) -> str:
    """A small self-refreshing page with the same facts as ``satellite status``, the satellite's
    version and, per integration, when its next collection run is due."""
    rows = "".join(
        "<tr class='{cls}'><td>{i}</td><td>{s}</td><td>{p}</td><td>{ok}</td><td>{rec}</td><td>{dl}</td><td>{f}</td><td>{e}</td></tr>".format(
            cls="bad" if s.failing_partitions else "",
            i=html.escape(s.integration_id), s=html.escape(s.stream), p=s.partitions,
            ok=f"{age_text(s.lag_s)} ago" if s.lag_s is not None else "never",
            rec=s.records_collected, dl=f"{s.records_delivered} in {s.batches_delivered} batches",
            f=s.failing_partitions, e=html.escape((s.last_error or "")[:200]),
        )
        for s in report.streams
    )
    paused = "<p class='bad'>Collection paused: the outbox is full.</p>" if report.collection_paused_since else ""
    skew = report.version.warning() if report.version is not None else None
    if skew:
        paused += f"<p class='bad version-skew'>{html.escape(skew)}</p>"
    for events in report.events:
        if events.warning():
            paused += f"<p class='bad events-stale'>{html.escape(events.warning())}</p>"
    schedule = "".join(
        f"<tr><td>{html.escape(integration)}</td><td>{_next_run_text(at, report.generated_at)}</td></tr>"
        for integration, at in sorted((next_runs or {}).items())
    )
    schedule_table = (f"<h2>Next runs</h2>\n<table class='next-runs'><tr><th>integration</th><th>next run</th></tr>{schedule}</table>\n"
                      if schedule else "")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>SEI satellite {html.escape(satellite_id)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}td,th{{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}}.bad{{color:#b00}}</style>
</head><body>
<h1>SEI satellite <code>{html.escape(satellite_id)}</code></h1>
<p class="version">satellite {html.escape(__version__)} · Python {html.escape(platform.python_version())}</p>
<p>Outbox: {report.outbox_batches} batches, {report.outbox_records} records, {report.outbox_bytes} bytes, oldest {age_text(report.oldest_batch_age_s)};
dead letters: <span class="{'bad' if report.dead_letters else ''}">{report.dead_letters}</span></p>{paused}
<table><tr><th>integration</th><th>stream</th><th>partitions</th><th>last success</th><th>records</th><th>delivered</th><th>failing</th><th>last error</th></tr>
{rows}</table>
{schedule_table}<p><a href="/metrics">metrics</a> · <a href="/status.json">status.json</a> · refreshes every 10 s</p>
</body></html>"""


class HttpEndpoint:
    def __init__(self, listen: str, store: Store, satellite_id: str, readiness: Readiness,
                 next_runs: NextRuns = lambda: {}, events: EventReceiver | None = None,
                 tls: tuple[str, str] | None = None) -> None:
        """``events``: serve ``POST /events/ado/<integration>`` (None: every POST is 404). ``tls``: (certificate,
        key) PEM files: HTTPS, each connection's handshake in its own handler thread (a slow client holds no other)."""
        context = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(*tls)
        host, _, port = listen.rpartition(":")
        REGISTRY.register(collector := StoreCollector(store))
        self._collector = collector
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 30  # a connection that sends nothing (or no TLS handshake) for this long is dropped

            def setup(self) -> None:
                self.refused = False
                if context is not None:  # the handshake here, in this connection's thread
                    self.request.settimeout(self.timeout)
                    try:
                        self.request = context.wrap_socket(self.request, server_side=True)
                    except OSError:  # ssl.SSLError too: not TLS, a bad handshake, a timeout
                        self.refused = True
                        return
                super().setup()

            def handle(self) -> None:
                if not self.refused:
                    super().handle()

            def finish(self) -> None:
                if self.refused:
                    return
                super().finish()
                if context is not None:  # the TLS socket wraps (and detached) the one the server closes
                    self.request.close()

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._send(200, "text/plain; charset=utf-8", b"ok\n")
                elif path == "/readyz":
                    ready, reasons = readiness()
                    body = ("ready\n" if ready else "not ready: " + "; ".join(reasons) + "\n").encode()
                    self._send(200 if ready else 503, "text/plain; charset=utf-8", body)
                elif path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
                elif path == "/status.json":
                    self._send(200, "application/json", read_status(store).to_json().encode())
                elif path == "/":
                    self._send(200, "text/html; charset=utf-8", render_page(read_status(store), satellite_id, next_runs()).encode())
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                path = self.path.split("?", 1)[0]
                if events is None or not path.startswith(PATH_PREFIX) or "/" in path[len(PATH_PREFIX):]:
                    self.close_connection = True  # the body is not read
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")
                    return
                answer = events.handle(path[len(PATH_PREFIX):], self.headers.get("Authorization"),
                                       self.headers.get("Content-Length"), self.rfile.read)
                if answer.close:
                    self.close_connection = True
                self._send(answer.status, "application/json", answer.body.encode(), answer.headers)

            def _send(self, status: int, content_type: str, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in headers:
                    self.send_header(name, value)
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # probes every few seconds: keep them out of the logs
                pass

        self._server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-endpoint", daemon=True)
        scheme = "https" if context is not None else "http"
        endpoint.url = f"{scheme}://{self._server.server_address[0]}:{self._server.server_address[1]}"

    def start(self) -> "HttpEndpoint":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        REGISTRY.unregister(self._collector)
