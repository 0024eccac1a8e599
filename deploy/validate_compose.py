"""The compose file checked offline against the Compose specification's schema and the
project's own rules for it (deploy/validate.py runs this beside the manifests' checks)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import jsonschema
import yaml
from validate_observability import Report

DEPLOY = Path(__file__).resolve().parent


def check_compose(report: Report, compose_zip: Path, components: list[str],
                  min_grace_seconds: float, sql_files: tuple[str, ...]) -> None:
    before = len(report.problems)
    with zipfile.ZipFile(compose_zip) as archive:
        member = next(n for n in archive.namelist() if n.endswith("/schema/compose-spec.json"))
        schema = json.loads(archive.read(member))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    for error in validator.iter_errors(compose):
        where = "/".join(str(p) for p in error.absolute_path)
        report.check(False, f"compose.yaml: {where}: {error.message}")
    services = compose.get("services", {})
    for component in components:
        service = services.get(component)
        if not report.check(service is not None, f"compose.yaml: no service {component}"):
            continue
        report.check(service.get("command") == ["run", component],
                     f"compose.yaml: {component} should run `cases run {component}`")
        url = service.get("environment", {}).get("DATABASE_URL", "")
        report.check("order_cases_app" in url,
                     f"compose.yaml: {component} must log in as the runtime role "
                     f"order_cases_app, not {url.split('@')[0]}")
        grace = service.get("stop_grace_period", "10s")
        report.check(_seconds(grace) >= min_grace_seconds,
                     f"compose.yaml: {component}'s stop_grace_period {grace} is shorter "
                     f"than {min_grace_seconds}s")
        report.check("database-role" in service.get("depends_on", {}),
                     f"compose.yaml: {component} must wait for the database role step")
    role = services.get("database-role", {})
    mounted = " ".join(role.get("volumes", []))
    report.check(all(f"./{name}:" in mounted for name in sql_files),
                 "compose.yaml: database-role must run deploy/database-role.sql and "
                 "database-login.sql")
    report.section("compose.yaml against the Compose specification", before)


def _seconds(text: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)",
                                                           str(text)))
