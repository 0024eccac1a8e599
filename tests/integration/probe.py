"""The service's HTTP endpoints as a platform reads them: a free port to serve them on, a
GET that returns the status whatever it is, and /metrics parsed with prometheus_client's
own text parser."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, timeout: float = 10.0) -> tuple[int, str]:
    """(HTTP status, body) of a GET, a 503 included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Scrape:
    """One reading of /metrics."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = {f.name: f for f in families}
        self.samples: list[Sample] = [s for f in self.families.values() for s in f.samples]

    def matching(self, name: str, **labels: str) -> list[Sample]:
        """The samples of that name whose labels include `labels`."""
        return [s for s in self.samples if s.name == name
                and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float | None:
        """Their sum; None when there is no such sample."""
        found = self.matching(name, **labels)
        return sum(s.value for s in found) if found else None

    def count(self, name: str, **labels: str) -> float:
        """As `value`, 0 for a series not exported yet (a counter before its first
        increment, a label value not seen yet)."""
        return self.value(name, **labels) or 0.0


def scrape(base_url: str) -> Scrape:
    status, text = get(f"{base_url}/metrics")
    assert status == 200, f"/metrics answered {status}"
    return Scrape(text_string_to_metric_families(text))
