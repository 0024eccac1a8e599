"""Offline checks of what deploy/ ships beside the image: the Kubernetes manifests, the
compose file, the Prometheus rules and the Grafana dashboard (deploy/validate.sh runs
this in a virtualenv of its own, with the schemas it fetched from package registries).

  python deploy/validate.py --keda-zip ZIP --compose-zip ZIP [--promtool PATH]
  python deploy/validate.py --write     rewrite kubernetes/database-sql.yaml from the SQL

Prints one line per check and every problem found; exit status 1 if there was one.
"""

from __future__ import annotations

import argparse
import copy
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

DEPLOY = Path(__file__).resolve().parent
REPO = DEPLOY.parent
KUBERNETES = DEPLOY / "kubernetes"
sys.path.insert(0, str(REPO))
from validate_compose import check_compose  # noqa: E402  (beside this file)
from validate_observability import (  # noqa: E402  (beside this file)
    Report,
    check_dashboard,
    check_rules,
    check_with_promtool,
    known_metrics,
)

from schemas import INBOUND_TOPICS  # noqa: E402  (no imports of its own: safe here)

#: the oldest and the newest Kubernetes the manifests must be valid for
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
COMPONENTS = [*INBOUND_TOPICS, "relay", "sweeper"]
HTTP_PORT = 8080
#: SIGTERM to SIGKILL must outlast the relay's final flush (up to 30 s)
RELAY_FLUSH_SECONDS = 30
MIN_GRACE_SECONDS = 45
KEDA_KINDS = {"ScaledObject": "keda.sh_scaledobjects.yaml",
              "TriggerAuthentication": "keda.sh_triggerauthentications.yaml"}
#: librdkafka's settings in KEDA's words (its Kafka scaler's sasl and tls parameters)
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256",
             "SCRAM-SHA-512": "scram_sha512", "OAUTHBEARER": "oauthbearer", "GSSAPI": "gssapi"}
SQL_FILES = ("database-role.sql", "database-login.sql")


# ---- loading ---------------------------------------------------------------------------

def manifests(paths: list[Path]) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                yield path, doc


def name_of(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def crd_schemas(keda_zip: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the openAPIV3Schema of each served version of KEDA's CRDs."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    with zipfile.ZipFile(keda_zip) as archive:
        for kind, filename in KEDA_KINDS.items():
            member = next(n for n in archive.namelist()
                          if n.endswith(f"/config/crd/bases/{filename}"))
            crd = yaml.safe_load(archive.read(member))
            group = crd["spec"]["group"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schema = strict(version["schema"]["openAPIV3Schema"])
                    schemas[f"{group}/{version['name']}", kind] = schema
    return schemas


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused wherever the API server would drop them
    (a structural schema prunes them silently: a misspelt field would do nothing)."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    # metadata is the API server's to check, and TypeMeta is in every object
    schema.setdefault("properties", {}).setdefault("metadata", {"type": "object"})
    return schema


# ---- Kubernetes ------------------------------------------------------------------------

def check_kubernetes(report: Report, keda_zip: Path) -> dict[str, dict[str, Any]]:
    before = len(report.problems)
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    listed = kustomization.get("resources", [])
    files = sorted(p.name for p in KUBERNETES.glob("*.yaml")
                   if p.name not in ("kustomization.yaml", "secrets.example.yaml"))
    report.check(sorted(listed) == files,
                 f"kustomization.yaml lists {sorted(listed)}, the folder has {files}")
    paths = [KUBERNETES / name for name in listed if (KUBERNETES / name).exists()]
    paths.append(KUBERNETES / "secrets.example.yaml")
    keda = crd_schemas(keda_zip)
    by_name: dict[str, dict[str, Any]] = {}
    for path, doc in manifests(paths):
        name = name_of(doc)
        report.check(name not in by_name, f"{path.name}: {name} is defined twice")
        by_name[name] = doc
        report.check(doc.get("metadata", {}).get("namespace") in (None, "order-cases")
                     or doc.get("kind") == "Namespace",
                     f"{path.name}: {name} is not in namespace order-cases")
        if doc.get("kind") in KEDA_KINDS:
            schema = keda.get((doc.get("apiVersion"), doc["kind"]))
            if report.check(schema is not None,
                            f"{path.name}: {name}: KEDA serves no {doc.get('apiVersion')}"):
                for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
                    where = "/".join(str(p) for p in error.absolute_path)
                    report.check(False, f"{path.name}: {name}: {where}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = "/".join(str(p) for p in error.path)
                report.check(False, f"{path.name}: {name} (Kubernetes {version}): "
                                    f"{where}: {error.message}")
            except Exception as error:  # an unknown kind or version, a bad schema
                report.check(False, f"{path.name}: {name} (Kubernetes {version}): {error}")
    report.section(f"{len(by_name)} manifests against Kubernetes "
                   f"{' and '.join(KUBERNETES_VERSIONS)} and KEDA's CRDs", before)
    return by_name


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def probe_target(container: dict[str, Any], probe: dict[str, Any] | None) -> tuple[Any, Any]:
    get = (probe or {}).get("httpGet", {})
    port = get.get("port")
    named = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    return get.get("path"), named.get(port, port)


def check_policy(report: Report, docs: dict[str, dict[str, Any]]) -> None:
    """What the service needs of its manifests, beyond their schemas."""
    before = len(report.problems)
    config = docs.get("ConfigMap/order-cases", {}).get("data", {})
    secrets = {name.split("/", 1)[1]: doc.get("stringData", {}) | doc.get("data", {})
               for name, doc in docs.items() if name.startswith("Secret/")}
    configmaps = {name.split("/", 1)[1]: doc.get("data", {})
                  for name, doc in docs.items() if name.startswith("ConfigMap/")}
    report.check(config.get("CASES_HTTP_PORT") == str(HTTP_PORT),
                 f"ConfigMap order-cases: CASES_HTTP_PORT is not {HTTP_PORT}")
    partitions = config.get("CASES_TOPIC_PARTITIONS")
    report.check(partitions is not None and partitions.isdigit(),
                 "ConfigMap order-cases: CASES_TOPIC_PARTITIONS must name the partition "
                 "count (the ScaledObjects' maxReplicaCount follows it)")
    images = set()
    for component in COMPONENTS:
        where = f"Deployment/order-cases-{component}"
        deployment = docs.get(where)
        if not report.check(deployment is not None, f"{where} is missing"):
            continue
        template = deployment["spec"]["template"]
        pod = template["spec"]
        labels = template["metadata"].get("labels", {})
        (container,) = pod["containers"] if report.check(
            len(pod["containers"]) == 1, f"{where}: one container expected") else [None]
        if container is None:
            continue
        images.add(container.get("image"))
        report.check(container.get("args") == ["run", component],
                     f"{where}: args should be ['run', '{component}']")
        for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            report.check(probe_target(container, container.get(kind)) == (path, HTTP_PORT),
                         f"{where}: {kind} should be HTTP GET {path} on {HTTP_PORT}")
        annotations = template["metadata"].get("annotations", {})
        report.check(annotations.get("prometheus.io/scrape") == "true"
                     and annotations.get("prometheus.io/port") == str(HTTP_PORT)
                     and annotations.get("prometheus.io/path") == "/metrics",
                     f"{where}: the pod is not annotated for scraping /metrics on {HTTP_PORT}")
        grace = pod.get("terminationGracePeriodSeconds", 30)
        report.check(grace >= MIN_GRACE_SECONDS and grace > RELAY_FLUSH_SECONDS,
                     f"{where}: terminationGracePeriodSeconds {grace} is shorter than "
                     f"{MIN_GRACE_SECONDS} (the relay flushes for up to {RELAY_FLUSH_SECONDS} s)")
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            report.check({"cpu", "memory"} <= set(resources.get(part, {})),
                         f"{where}: resources.{part} needs cpu and memory")
        report.check(pod.get("securityContext", {}).get("runAsNonRoot") is True,
                     f"{where}: the pod must run as non-root")
        security = container.get("securityContext", {})
        report.check(security.get("readOnlyRootFilesystem") is True
                     and security.get("allowPrivilegeEscalation") is False
                     and security.get("capabilities", {}).get("drop") == ["ALL"],
                     f"{where}: read-only root, no privilege escalation, no capabilities")
        sources = container.get("envFrom", [])
        report.check({"configMapRef": {"name": "order-cases"}} in sources
                     and {"secretRef": {"name": "order-cases"}} in sources,
                     f"{where}: configuration from ConfigMap and Secret order-cases")
        report.check(any(d.get("kind") == "PodDisruptionBudget"
                         and _selects(d["spec"]["selector"], labels) for d in docs.values()),
                     f"{where}: no PodDisruptionBudget selects its pods")
        service = docs.get(f"Service/order-cases-{component}", {}).get("spec", {})
        report.check(service.get("clusterIP") == "None"
                     and _selects({"matchLabels": service.get("selector", {})}, labels),
                     f"{where}: no headless Service selects its pods")
        scaled = [d for d in docs.values() if d.get("kind") == "ScaledObject"
                  and d["spec"]["scaleTargetRef"].get("name") == f"order-cases-{component}"]
        if component in INBOUND_TOPICS:
            if report.check(len(scaled) == 1, f"{where}: one ScaledObject expected"):
                spec = scaled[0]["spec"]
                report.check(str(spec.get("maxReplicaCount")) == partitions,
                             f"ScaledObject/order-cases-{component}: maxReplicaCount "
                             f"{spec.get('maxReplicaCount')} is not the partition count "
                             f"{partitions}")
                report.check("replicas" not in deployment["spec"],
                             f"{where}: replicas are KEDA's to set")
                triggers = spec.get("triggers", [])
                report.check([t.get("type") for t in triggers] == ["kafka"]
                             and triggers[0]["metadata"].get("consumerGroup")
                             == f"order-cases.{component}"
                             and triggers[0]["metadata"].get("topic") == component
                             and "lagThreshold" in triggers[0]["metadata"],
                             f"ScaledObject/order-cases-{component}: a kafka trigger on "
                             f"group order-cases.{component}, topic {component}, by lag")
        else:
            report.check(not scaled, f"{where}: {component} is not scaled by lag")
    # the setup Job runs `cases setup` with the same image, as the owner
    job = docs.get("Job/order-cases-setup")
    if report.check(job is not None, "Job/order-cases-setup is missing"):
        pod = job["spec"]["template"]["spec"]
        setup = [c for c in containers(pod) if c.get("args", [])[-1:] == ["setup"]]
        report.check(len(setup) == 1 and setup[0].get("image") in images,
                     "Job/order-cases-setup: `cases setup` with the components' image")
        report.check(any(e.get("name") == "DATABASE_URL"
                         and e.get("valueFrom", {}).get("secretKeyRef", {}).get("name")
                         == "order-cases-setup" for c in setup for e in c.get("env", [])),
                     "Job/order-cases-setup: `cases setup` must use the owner's DATABASE_URL")
        images |= {c.get("image") for c in setup}
    report.check(len(images) == 1, f"the components' images differ: {sorted(images)}")
    # every Secret and ConfigMap key referred to exists
    for name, doc in docs.items():
        pod = _pod_spec(doc)
        if pod is None:
            continue
        for container in containers(pod):
            for source in container.get("envFrom", []):
                for kind, known in (("configMapRef", configmaps), ("secretRef", secrets)):
                    if kind in source:
                        report.check(source[kind]["name"] in known,
                                     f"{name}: {kind} {source[kind]['name']} is not defined")
            for env in container.get("env", []):
                for kind, known in (("configMapKeyRef", configmaps),
                                    ("secretKeyRef", secrets)):
                    ref = env.get("valueFrom", {}).get(kind)
                    if ref:
                        report.check(ref["key"] in known.get(ref["name"], {}),
                                     f"{name}: {kind} {ref['name']}/{ref['key']} "
                                     f"is not defined")
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                report.check(volume["configMap"]["name"] in configmaps,
                             f"{name}: ConfigMap {volume['configMap']['name']} is not defined")
    auth = docs.get("TriggerAuthentication/order-cases-kafka", {}).get("spec", {})
    for ref in auth.get("configMapTargetRef", []):
        report.check(ref["key"] in configmaps.get(ref["name"], {}),
                     f"TriggerAuthentication: ConfigMap {ref['name']}/{ref['key']} is not defined")
    for ref in auth.get("secretTargetRef", []):
        report.check(ref["key"] in secrets.get(ref["name"], {}),
                     f"TriggerAuthentication: Secret {ref['name']}/{ref['key']} is not defined")
    keda = configmaps.get("order-cases-keda", {})
    protocol = config.get("CASES_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    report.check(keda.get("tls") == ("enable" if protocol in ("SSL", "SASL_SSL") else "disable"),
                 f"ConfigMap order-cases-keda: tls must follow CASES_KAFKA_SECURITY_PROTOCOL "
                 f"{protocol}")
    mechanism = config.get("CASES_KAFKA_SASL_MECHANISM")
    report.check(keda.get("sasl") == (KEDA_SASL.get(mechanism.upper(), "?") if
                                      protocol.startswith("SASL") and mechanism else "none"),
                 f"ConfigMap order-cases-keda: sasl must follow CASES_KAFKA_SASL_MECHANISM "
                 f"{mechanism}")
    # the SQL the setup Job runs is the repository's
    report.check(configmaps.get("order-cases-database-sql") == sql_data(),
                 "kubernetes/database-sql.yaml differs from deploy/database-role.sql and "
                 "database-login.sql: run `python deploy/validate.py --write`")
    report.section(f"what the service needs of them ({len(COMPONENTS)} components)", before)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = selector.get("matchLabels", {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc.get("kind") in ("Deployment", "Job"):
        return doc["spec"]["template"]["spec"]
    return None


def sql_data() -> dict[str, str]:
    return {name: (DEPLOY / name).read_text() for name in SQL_FILES}


def write_sql_configmap() -> None:
    class Literal(str):
        pass

    yaml.SafeDumper.add_representer(
        Literal, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text,
                                                              style="|"))
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "order-cases-database-sql", "namespace": "order-cases",
                        "labels": {"app.kubernetes.io/part-of": "order-cases"}},
           "data": {name: Literal(text) for name, text in sql_data().items()}}
    header = ("# GENERATED from deploy/database-role.sql and deploy/database-login.sql by\n"
              "# `python deploy/validate.py --write`: edit those, not this. The setup Job runs\n"
              "# them with psql as the owner (deploy/validate.sh checks they are in step).\n")
    text = header + yaml.safe_dump(doc, sort_keys=False, width=100)
    (KUBERNETES / "database-sql.yaml").write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keda-zip", type=Path)
    parser.add_argument("--compose-zip", type=Path)
    parser.add_argument("--promtool", type=Path)
    parser.add_argument("--write", action="store_true",
                        help="rewrite kubernetes/database-sql.yaml from the SQL files")
    args = parser.parse_args()
    if args.write:
        write_sql_configmap()
        print("validate: wrote deploy/kubernetes/database-sql.yaml")
        return 0
    if not (args.keda_zip and args.compose_zip):
        parser.error("--keda-zip and --compose-zip are needed (deploy/validate.sh finds them)")
    report = Report()
    docs = check_kubernetes(report, args.keda_zip)
    check_policy(report, docs)
    check_compose(report, args.compose_zip, COMPONENTS, MIN_GRACE_SECONDS, SQL_FILES)
    known = known_metrics(report)
    check_rules(report, known)
    dashboard_exprs = check_dashboard(report, known)
    if args.promtool:
        check_with_promtool(report, args.promtool, dashboard_exprs)
    else:
        print("validate: promtool: not available, so the rules' PromQL was checked for "
              "structure and metric names only")
    for problem in report.problems:
        print(f"validate: PROBLEM: {problem}", file=sys.stderr)
    print(f"validate: {'ok' if not report.problems else f'{len(report.problems)} problem(s)'}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
