"""A headless Chromium driven over the DevTools protocol through a pipe (``--remote-debugging-pipe``).

No websocket, no driver download, nothing but the standard library: Chromium reads commands on
its fd 3 and writes answers and events on its fd 4, one JSON message per NUL-terminated frame.

    with Browser.launch(executable, profile_dir) as browser:
        page = browser.new_page()
        page.navigate("file:///.../report.html")
        page.evaluate("document.title")
        page.screenshot(path)

A page records what the tests must see empty: console errors, uncaught exceptions, log errors
(failed loads, CSP violations) and every request it made.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Browser", "CdpError", "Page"]

TIMEOUT = 30.0

FLAGS = (
    "--headless",
    "--remote-debugging-pipe",
    "--no-sandbox",  # root in CI containers; the page is our own file
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--window-size=1280,900",
)


class CdpError(RuntimeError):
    """A command answered with an error, the browser went away, or an answer did not come in time."""


@dataclass
class _Wire:
    """The two pipe ends and the reader thread that files answers by id and events in order."""

    process: subprocess.Popen[bytes]
    to_browser: int
    from_browser: int
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)
    next_id: int = 0

    def start(self) -> None:
        threading.Thread(target=self._read, name="cdp-reader", daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while chunk := os.read(self.from_browser, 1 << 16):
            buf += chunk
            *frames, buf = buf.split(b"\0")
            with self.cond:
                for frame in frames:
                    message = json.loads(frame)
                    if "id" in message:
                        self.answers[message["id"]] = message
                    else:
                        self.events.append(message)
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        message: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        with self.cond:
            if not self.cond.wait_for(lambda: mid in self.answers or self.closed, TIMEOUT):
                raise CdpError(f"{method}: no answer in {TIMEOUT:.0f} s")
            if mid not in self.answers:
                raise CdpError(f"{method}: the browser closed the pipe")
            answer = self.answers.pop(mid)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def wait_event(self, method: str, session: str, start: int) -> dict[str, Any]:
        """The first event ``method`` of ``session`` at index ``start`` or later in ``events``."""

        def found() -> dict[str, Any] | None:
            for event in self.events[start:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            return None

        with self.cond:
            if not self.cond.wait_for(lambda: found() is not None or self.closed, TIMEOUT):
                raise CdpError(f"no {method} in {TIMEOUT:.0f} s")
            event = found()
        if event is None:
            raise CdpError(f"the browser closed the pipe before {method}")
        return event


@dataclass(frozen=True)
class Page:
    """One tab, attached in flat mode; its events are the wire's events of its session."""

    wire: _Wire
    session: str
    target: str

    def close(self) -> None:
        self.wire.call("Target.closeTarget", {"targetId": self.target})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.wire.call(method, params, self.session)

    def navigate(self, url: str) -> None:
        """Loads ``url`` and returns once its load event fired."""
        with self.wire.cond:
            start = len(self.wire.events)
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"navigate {url}: {result['errorText']}")
        self.wire.wait_event("Page.loadEventFired", self.session, start)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression``; an exception in it is a CdpError."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CdpError(f"evaluate: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        """A PNG of the whole page (the viewport stretched to the document's height)."""
        height = int(self.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def events(self, *methods: str) -> list[dict[str, Any]]:
        with self.wire.cond:
            return [e for e in self.wire.events if e.get("sessionId") == self.session and e.get("method") in methods]

    def errors(self) -> list[str]:
        """Console errors and asserts, uncaught exceptions and error log entries, as text."""
        out = []
        for event in self.events("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"):
            p = event["params"]
            if event["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif event["method"] == "Runtime.exceptionThrown":
                details = p["exceptionDetails"]
                out.append("exception: " + str(details.get("exception", {}).get("description") or details.get("text")))
            elif event["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log ({p['entry']['source']}): {p['entry']['text']} {p['entry'].get('url', '')}".rstrip())
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events("Network.requestWillBeSent")]


@dataclass(frozen=True)
class Browser:
    """A Chromium process of ours (its own process group) and the pipe to it."""

    wire: _Wire

    @classmethod
    def launch(cls, executable: str, profile_dir: Path) -> Browser:
        to_read, to_browser = os.pipe()  # Chromium's fd 3: it reads commands
        from_browser, to_write = os.pipe()  # Chromium's fd 4: it writes answers and events

        def as_fd_3_and_4() -> None:  # in the child, before exec
            a, b = os.dup(to_read), os.dup(to_write)
            os.dup2(a, 3)
            os.dup2(b, 4)
            for fd in {a, b} - {3, 4}:
                os.close(fd)

        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=as_fd_3_and_4,  # noqa: PLW1509 (single-threaded at this point)
            start_new_session=True,
        )
        os.close(to_read)
        os.close(to_write)
        wire = _Wire(process, to_browser, from_browser)
        wire.start()
        return cls(wire)

    def version(self) -> str:
        return str(self.wire.call("Browser.getVersion")["product"])

    def new_page(self) -> Page:
        target = self.wire.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.wire.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self.wire, session, target)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        return page

    def close(self) -> None:
        """Browser.close, then waits for the process; kills our process group if it lingers."""
        process = self.wire.process
        try:
            if process.poll() is None:
                self.wire.call("Browser.close")
            process.wait(timeout=10)
        except (CdpError, OSError, subprocess.TimeoutExpired):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        finally:
            with self.wire.cond:  # the reader meets the end of the pipe once the process is gone
                self.wire.cond.wait_for(lambda: self.wire.closed, 5)
            for fd in (self.wire.to_browser, self.wire.from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
