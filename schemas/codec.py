"""Avro single-object encoding: `C3 01`, the writer schema's CRC-64-AVRO fingerprint
(8 bytes, little-endian), then the Avro binary body.

A reader finds the writer schema by its fingerprint, so no registry is needed; schemas of
older versions kept in `avro/history/` stay readable and are resolved to the current one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, load_schema, parse_schema, to_parsing_canonical_form

from schemas import TOPICS

MARKER = b"\xc3\x01"
HEADER_LENGTH = len(MARKER) + 8
NAMESPACE = "aliberber.cases"
AVRO_DIR = Path(__file__).parent / "avro"


class DecodeError(ValueError):
    """Bytes that are not a record this service can read."""


@dataclass(frozen=True)
class RecordSchema:
    type_name: str
    #: the schema as written (fingerprinted; the JSON form is checked against it)
    parsed: Any
    fingerprint: bytes
    #: the same, marked as parsed by fastavro: without the mark fastavro parses a schema
    #: again on every record it reads or writes
    compiled: Any


def _load(path: Path) -> RecordSchema:
    parsed = load_schema(str(path), _write_hint=False)
    canonical = to_parsing_canonical_form(parsed)
    name = parsed["name"].rsplit(".", 1)[-1]
    return RecordSchema(name, parsed, bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
                        parse_schema(parsed))


class Codec:
    """Encodes and decodes every record type of every topic; schemas are parsed once."""

    def __init__(self, avro_dir: Path = AVRO_DIR) -> None:
        record_types = {t for types in TOPICS.values() for t in types}
        self.current: dict[str, RecordSchema] = {
            t: _load(avro_dir / f"{NAMESPACE}.{t}.avsc") for t in record_types
        }
        self.by_fingerprint: dict[bytes, RecordSchema] = {
            s.fingerprint: s for s in self.current.values()
        }
        history = avro_dir / "history"
        if history.is_dir():
            for path in sorted(history.glob("*.avsc")):
                old = _load(path)
                self.by_fingerprint.setdefault(old.fingerprint, old)

    def encode(self, record: dict[str, Any]) -> bytes:
        schema = self.current[record["type"]]
        out = io.BytesIO()
        out.write(MARKER)
        out.write(schema.fingerprint)
        schemaless_writer(out, schema.compiled, record)
        return out.getvalue()

    def decode(self, data: bytes | None) -> dict[str, Any]:
        if not data:
            raise DecodeError("empty value")
        if data[:2] != MARKER:
            raise DecodeError("not Avro single-object encoding (no C3 01 marker)")
        if len(data) < HEADER_LENGTH:
            raise DecodeError("truncated header")
        writer = self.by_fingerprint.get(data[2:HEADER_LENGTH])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_LENGTH].hex()}")
        reader = self.current[writer.type_name]
        body = io.BytesIO(data[HEADER_LENGTH:])
        try:
            record = schemaless_reader(body, writer.compiled,
                                       None if writer is reader else reader.compiled)
        except (EOFError, ValueError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise DecodeError(f"cannot decode {writer.type_name} body: {exc}") from exc
        if body.tell() != len(data) - HEADER_LENGTH:
            raise DecodeError(f"{len(data) - HEADER_LENGTH - body.tell()} bytes after the record")
        assert isinstance(record, dict)
        return record


@cache
def shared_codec() -> Codec:
    return Codec()
