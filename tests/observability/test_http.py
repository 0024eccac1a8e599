"""The HTTP endpoints while a component process's metrics file is still being created:
prometheus_client cannot read an empty file, and the endpoints answer 503 instead of
dropping the connection (a probe seen as a crash)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from observability import http


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_an_empty_metrics_file_is_a_503_not_a_dropped_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_liveall_12345.db").write_bytes(b"")  # created, not yet written
    port = _free_port()
    server = http.serve(port, ["orders"])
    try:
        with pytest.raises(HTTPError) as answered:
            urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
        assert answered.value.code == 503
        assert json.loads(answered.value.read())["reason"] == "metrics being written"
    finally:
        server.shutdown()
        server.server_close()
