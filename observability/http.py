"""/healthz, /readyz and /metrics on CASES_HTTP_PORT, served from a thread of the
process that runs the components (the supervisor, for several)."""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import CollectorRegistry

from observability import health

log = structlog.get_logger("http")


def registry() -> CollectorRegistry:
    """This process's metrics, or every component process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        combined = CollectorRegistry()
        MultiProcessCollector(combined)
        return combined
    return REGISTRY


T = TypeVar("T")

#: a component process's metrics file is empty for a moment after it is created, and
#: prometheus_client then fails to read it (struct.error): read again, a few times
_READ_ATTEMPTS = 3
_READ_AGAIN_SECONDS = 0.05


def _read_metrics(read: Callable[[], T]) -> T:
    for attempt in range(1, _READ_ATTEMPTS + 1):
        try:
            return read()
        except struct.error:
            if attempt == _READ_ATTEMPTS:
                raise
            time.sleep(_READ_AGAIN_SECONDS)
    raise AssertionError("unreachable")


def serve(port: int, components: list[str]) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; the server (shut it down to stop)."""
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ("/metrics", "/healthz", "/readyz"):
                self._reply(404, b"not found\n", "text/plain")
                return
            try:
                self._answer(path)
            except struct.error as exc:  # a metrics file still being created
                log.warning("metrics_unreadable", path=path, error=str(exc))
                self._reply(503, json.dumps({"status": "failing", "reason":
                                             "metrics being written"}).encode() + b"\n",
                            "application/json")

        def _answer(self, path: str) -> None:
            if path == "/metrics":
                self._reply(200, _read_metrics(lambda: generate_latest(registry())),
                            CONTENT_TYPE_LATEST)
                return
            found = _read_metrics(lambda: health.statuses(registry(), components))
            ok = (health.alive(found, time.monotonic() - started) if path == "/healthz"
                  else health.ready(found))
            body = {"status": "ok" if ok else "failing",
                    "components": {s.component: {"ready": s.ready,
                                                 "silent_for_seconds": None
                                                 if s.silent_for is None
                                                 else round(s.silent_for, 1)}
                                   for s in found}}
            self._reply(200 if ok else 503, json.dumps(body).encode() + b"\n",
                        "application/json")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass  # probes every few seconds: not worth a line each

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info("http_serving", port=port, paths=["/healthz", "/readyz", "/metrics"])
    return server
