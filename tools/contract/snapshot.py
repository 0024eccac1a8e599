"""Release the schemas: write `schemas/avro/history/NAME.vN.avsc` for every message type
whose current schema differs from its latest released version (or has none yet).

A released version is self-contained: the named types it uses (Money, Address, the enums)
are written inside it as they are at its release, so it stays what was released whatever
later happens to their files. Run it once a change passes `make contract-check`'s
compatibility rule; the check fails until the change is released this way.

    python tools/contract/snapshot.py [SCHEMA_DIR]     (make contract-snapshot)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

AVRO_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
VERSION = re.compile(r"^(?P<name>.+)\.v(?P<version>\d+)\.avsc$")


def _full_name(schema: dict[str, Any], namespace: str) -> str:
    name = schema["name"]
    return name if "." in name else f"{schema.get('namespace', namespace)}.{name}"


def _expand(schema: Any, files: dict[str, Any], defined: set[str], namespace: str) -> Any:
    """`schema` with every named type defined in another file written in at its first
    use (Avro allows a name only after its definition, and one definition per name)."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return schema
        full = schema if "." in schema else f"{namespace}.{schema}"
        if full in defined or full not in files:
            return schema
        return _expand(files[full], files, defined, namespace)
    if isinstance(schema, list):
        return [_expand(branch, files, defined, namespace) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if schema.get("type") in ("record", "enum", "fixed"):
        namespace = _full_name(schema, namespace).rsplit(".", 1)[0]
        defined.add(_full_name(schema, namespace))
    if "fields" in schema:
        out["fields"] = [{**field, "type": _expand(field["type"], files, defined, namespace)}
                         for field in schema["fields"]]
    for key in ("items", "values"):
        if key in schema:
            out[key] = _expand(schema[key], files, defined, namespace)
    if isinstance(schema.get("type"), (dict, list)):
        out["type"] = _expand(schema["type"], files, defined, namespace)
    return out


def _without_docs(schema: Any) -> Any:
    """What a release compares: the schema without its documentation (as Avro's own
    Schema.equals does), so a reworded doc is no new version."""
    if isinstance(schema, dict):
        return {k: _without_docs(v) for k, v in schema.items() if k != "doc"}
    if isinstance(schema, list):
        return [_without_docs(v) for v in schema]
    return schema


def is_message_type(schema: Any) -> bool:
    """A record sent on a topic on its own: its second field is `type`, an enum whose one
    symbol is the record's name (the other named types only live inside these)."""
    fields = schema.get("fields", []) if isinstance(schema, dict) else []
    if schema.get("type") != "record" or len(fields) < 2 or fields[1]["name"] != "type":
        return False
    kind = fields[1]["type"]
    return isinstance(kind, dict) and kind.get("symbols") == [schema["name"].rsplit(".", 1)[-1]]


def snapshot(avro_dir: Path = AVRO_DIR) -> list[Path]:
    """Write the versions not yet released; return the files written."""
    files: dict[str, Any] = {}
    for path in sorted(avro_dir.glob("*.avsc")):
        schema = json.loads(path.read_text())
        files[_full_name(schema, "")] = schema
    history = avro_dir / "history"
    history.mkdir(exist_ok=True)
    latest: dict[str, tuple[int, Any]] = {}
    for path in history.glob("*.avsc"):
        match = VERSION.match(path.name)
        if match is None:
            raise SystemExit(f"{path}: a released version is named NAME.vN.avsc")
        version = int(match["version"])
        if version > latest.get(match["name"], (0, None))[0]:
            latest[match["name"]] = (version, json.loads(path.read_text()))
    written = []
    for full, schema in files.items():
        if not is_message_type(schema):
            continue
        expanded = _expand(schema, files, set(), full.rsplit(".", 1)[0])
        version, released = latest.get(full, (0, None))
        if released is not None and _without_docs(released) == _without_docs(expanded):
            continue
        path = history / f"{full}.v{version + 1}.avsc"
        path.write_text(json.dumps(expanded, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in snapshot(Path(sys.argv[1]) if len(sys.argv) > 1 else AVRO_DIR):
        print(f"released {written_path}")
