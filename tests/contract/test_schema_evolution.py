"""The evolution rule (FULL_TRANSITIVE against every released version), as Apache Avro's
Java SchemaCompatibility judges it: the repository's schemas pass, and a copy with a
deliberately incompatible change fails."""

from __future__ import annotations

import io
import json
import runpy
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from fastavro.schema import parse_schema

from schemas.codec import AVRO_DIR, MARKER, _load, shared_codec
from tests.contract.java import REPO, contract_check

SNAPSHOT = REPO / "tools" / "contract" / "snapshot.py"


@pytest.fixture
def avro_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return copy


def edit(avro_dir: Path, name: str, change: Any) -> None:
    path = avro_dir / f"aliberber.cases.{name}.avsc"
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))


def release(avro_dir: Path) -> list[Path]:
    """tools/contract/snapshot.py on `avro_dir`: the versions it released."""
    return runpy.run_path(str(SNAPSHOT))["snapshot"](avro_dir)


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_the_repository_schemas_keep_the_rule():
    checked = contract_check(AVRO_DIR)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "FAIL" not in checked.stdout


def test_every_current_message_type_is_released(avro_dir: Path):
    assert release(avro_dir) == []


def test_a_new_field_without_default_fails(avro_dir: Path):
    edit(avro_dir, "CaseClosed", lambda s: s["fields"].append(
        {"name": "closed_by", "type": "string"}))
    release(avro_dir)  # even released, the change breaks the rule
    checked = contract_check(avro_dir)
    assert checked.returncode == 1
    assert ("aliberber.cases.CaseClosed: the current schema cannot read v1: "
            "READER_FIELD_MISSING_DEFAULT_VALUE at /fields/9" in checked.stdout), checked.stdout


def test_a_removed_enum_symbol_fails(avro_dir: Path):
    def drop_symbol(schema: dict[str, Any]) -> None:
        field(schema, "close_reason")["type"]["symbols"].remove("support_closed")

    edit(avro_dir, "CaseClosed", drop_symbol)
    release(avro_dir)
    checked = contract_check(avro_dir)
    assert checked.returncode == 1
    assert "cannot read v1: MISSING_ENUM_SYMBOLS" in checked.stdout, checked.stdout


def test_a_shared_type_changed_incompatibly_fails_in_every_record_using_it(avro_dir: Path):
    edit(avro_dir, "Money", lambda s: field(s, "amount_minor").update(type="int"))
    checked = contract_check(avro_dir)
    assert checked.returncode == 1
    for user in ("OrderPlaced", "PaymentCaptured", "RefundIssued", "RefundRecorded",
                 "SupportRefundRequested"):
        assert f"aliberber.cases.{user}: the current schema cannot read v1: TYPE_MISMATCH" \
            in checked.stdout, checked.stdout


def test_a_compatible_change_passes_once_released(avro_dir: Path):
    edit(avro_dir, "CaseClosed", lambda s: s["fields"].append(
        {"name": "note", "type": ["null", "string"], "default": None}))
    checked = contract_check(avro_dir)
    assert checked.returncode == 1
    assert ("aliberber.cases.CaseClosed differs from its latest released version v1: add it "
            "as history/aliberber.cases.CaseClosed.v2.avsc") in checked.stdout, checked.stdout
    assert [p.name for p in release(avro_dir)] == ["aliberber.cases.CaseClosed.v2.avsc"]
    checked = contract_check(avro_dir)
    assert checked.returncode == 0, checked.stdout
    assert "28 released versions" in checked.stdout


def test_a_released_type_is_never_removed(avro_dir: Path):
    (avro_dir / "aliberber.cases.LateDelivery.avsc").unlink()
    checked = contract_check(avro_dir)
    assert checked.returncode == 1
    assert "aliberber.cases.LateDelivery was released and has no current schema" \
        in checked.stdout, checked.stdout


def _sample(schema: Any, named: dict[str, Any]) -> Any:
    """A value of `schema` with every field set (unions take their last branch)."""
    if isinstance(schema, list):
        return _sample(schema[-1], named)
    if isinstance(schema, str):
        if schema in named:
            return _sample(named[schema], named)
        return {"string": "sample", "long": 1_772_359_200_000, "int": 20_500,
                "boolean": True, "null": None}[schema]
    if schema["type"] == "record":
        named[schema["name"]] = schema
        return {f["name"]: _sample(f["type"], named) for f in schema["fields"]}
    if schema["type"] == "enum":
        named[schema["name"]] = schema
        return schema["symbols"][-1]
    return _sample(schema["type"], named)


@pytest.mark.parametrize("path", sorted((AVRO_DIR / "history").glob("*.avsc")),
                         ids=lambda p: p.name)
def test_every_released_version_decodes_with_the_python_codec(path: Path):
    released = _load(path)
    codec = shared_codec()
    if released.type_name not in codec.current:
        pytest.skip(f"{released.type_name} is not a record type of any topic yet")
    record = _sample(released.parsed, {})
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(released.parsed), record)
    decoded = codec.decode(MARKER + released.fingerprint + body.getvalue())
    assert decoded["type"] == released.type_name
