"""Offline checks of the Prometheus rules and the Grafana dashboard against the metrics
the service exports (deploy/observability/metrics.txt), and with promtool when it is
there; deploy/validate.py runs them beside the manifests' checks."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

OBSERVABILITY = Path(__file__).resolve().parent / "observability"


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.problems.append(problem)
        return ok

    def section(self, title: str, before: int) -> None:
        found = len(self.problems) - before
        print(f"validate: {title}: {'ok' if not found else f'{found} problem(s)'}")


# ---- Prometheus rules and the Grafana dashboard ----------------------------------------

_METRIC = re.compile(r"\border_cases_[a-z0-9_]+")
_HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def known_metrics(report: Report) -> set[str]:
    names = [line.strip() for line in (OBSERVABILITY / "metrics.txt").read_text().splitlines()]
    report.check(all(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", n) for n in names),
                 "metrics.txt: one metric name per line, nothing else")
    report.check(len(names) == len(set(names)), "metrics.txt: a name is listed twice")
    return set(names)


def unknown_metrics(expr: str, known: set[str]) -> list[str]:
    unknown = []
    for name in _METRIC.findall(expr):
        base = next((name[: -len(s)] for s in _HISTOGRAM_PARTS
                     if name.endswith(s) and name[: -len(s)] in known), name)
        if base not in known:
            unknown.append(name)
    return unknown


def check_rules(report: Report, known: set[str]) -> list[str]:
    before = len(report.problems)
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    exprs, names = [], []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            names.append(name)
            exprs.append(rule.get("expr", ""))
            report.check(bool(rule.get("expr")), f"alerts.yaml: {name} has no expr")
            if "alert" in rule:
                report.check(rule.get("labels", {}).get("severity") in ("warning", "critical"),
                             f"alerts.yaml: {name} needs severity warning or critical")
                report.check(bool(rule.get("annotations", {}).get("summary")),
                             f"alerts.yaml: {name} needs a summary")
            for metric in unknown_metrics(rule.get("expr", ""), known):
                report.check(False, f"alerts.yaml: {name} uses {metric}, not in metrics.txt")
            report.check(bool(_METRIC.search(rule.get("expr", ""))),
                         f"alerts.yaml: {name} uses none of the service's metrics")
    wanted = {"lag growing": "Lag", "dead letters": "DeadLetters",
              "outbox oldest event age": "Outbox", "a component not ready": "NotReady",
              "watermark stalled": "Watermark"}
    for what, part in wanted.items():
        report.check(any(part in n for n in names), f"alerts.yaml: no alert on {what}")
    report.section(f"{len(names)} alert rules: structure and metric names", before)
    return exprs


def check_dashboard(report: Report, known: set[str]) -> list[str]:
    before = len(report.problems)
    try:
        dashboard = json.loads((OBSERVABILITY / "dashboard.json").read_text())
    except json.JSONDecodeError as error:
        report.check(False, f"dashboard.json is not JSON: {error}")
        report.section("the dashboard", before)
        return []
    report.check(bool(dashboard.get("uid")) and bool(dashboard.get("title")),
                 "dashboard.json: a uid and a title")
    panels = list(_panels(dashboard.get("panels", [])))
    ids = [p.get("id") for p in panels]
    report.check(len(ids) == len(set(ids)), "dashboard.json: panel ids repeat")
    exprs = []
    for panel in panels:
        title = panel.get("title", panel.get("id"))
        grid = panel.get("gridPos", {})
        report.check(grid.get("x", -1) >= 0 and grid.get("x", 0) + grid.get("w", 99) <= 24,
                     f"dashboard.json: {title}: gridPos outside the 24 columns")
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets", [])
        report.check(bool(targets) and all(t.get("expr") for t in targets),
                     f"dashboard.json: {title}: a panel needs targets with expressions")
        for target in targets:
            expr = target.get("expr", "")
            exprs.append(expr)
            report.check(bool(_METRIC.search(expr)),
                         f"dashboard.json: {title}: {expr!r} uses none of the service's metrics")
            for metric in unknown_metrics(expr, known):
                report.check(False, f"dashboard.json: {title}: {metric} is not in metrics.txt")
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else str(query or "")
        for metric in unknown_metrics(text, known):
            report.check(False, f"dashboard.json: variable {variable.get('name')}: {metric} "
                                f"is not in metrics.txt")
    report.section(f"the dashboard: {len(panels)} panels, {len(exprs)} expressions", before)
    return exprs


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def check_with_promtool(report: Report, promtool: Path, dashboard_exprs: list[str]) -> None:
    before = len(report.problems)
    for args in (["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]):
        done = subprocess.run([str(promtool), *args], cwd=OBSERVABILITY, capture_output=True,
                              text=True)
        report.check(done.returncode == 0, f"promtool {' '.join(args)}:\n"
                                           f"{done.stdout}{done.stderr}".rstrip())
    # the dashboard's expressions parsed by Prometheus too: as recording rules, with
    # Grafana's variables given plausible values
    grafana = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h",
               "$topic": ".*"}
    rules = []
    for n, expr in enumerate(dashboard_exprs):
        for variable, value in grafana.items():
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:expression_{n}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, file)
        file.flush()
        done = subprocess.run([str(promtool), "check", "rules", "--lint=none", file.name],
                              capture_output=True, text=True)
    report.check(done.returncode == 0,
                 f"the dashboard's expressions do not all parse:\n{done.stdout}{done.stderr}")
    report.section("promtool: check rules, the rules' unit tests, the dashboard's PromQL",
                   before)
