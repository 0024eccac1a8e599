"""Avro single-object encoding: `C3 01`, the writer schema's CRC-64-AVRO fingerprint
(8 bytes, little-endian), then the Avro binary body.

A reader finds the writer schema by its fingerprint, so no registry is needed; every
released version kept in `avro/history/` stays readable and is resolved to the current one.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

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
    parsed = cast(dict[str, Any], load_schema(str(path), _write_hint=False))  # a record
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
            # released versions (NAME.vN.avsc, self-contained); those of a type no topic
            # carries yet wait until it is in TOPICS, which gives them their reader schema
            for path in sorted(history.glob("*.avsc")):
                old = _load(path)
                if old.type_name in self.current:
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
            raise DecodeError("empty value (no bytes: a tombstone or an empty record)")
        if data[:2] != MARKER:
            raise DecodeError(_not_single_object(data))
        if len(data) < HEADER_LENGTH:
            raise DecodeError(f"truncated header: {len(data)} bytes, where the marker and "
                              f"fingerprint alone take {HEADER_LENGTH}")
        writer = self.by_fingerprint.get(data[2:HEADER_LENGTH])
        if writer is None:
            raise DecodeError(f"unknown schema fingerprint {data[2:HEADER_LENGTH].hex()} "
                              "(no current or retired schema has it)")
        reader = self.current[writer.type_name]
        body = io.BytesIO(data[HEADER_LENGTH:])
        try:
            record = schemaless_reader(body, writer.compiled,
                                       None if writer is reader else reader.compiled)
        except Exception as exc:  # foreign bytes may fail in any way: all are theirs
            raise _body_error(writer, data[HEADER_LENGTH:], exc) from exc
        if body.tell() != len(data) - HEADER_LENGTH:
            raise DecodeError(f"{len(data) - HEADER_LENGTH - body.tell()} bytes after the record")
        assert isinstance(record, dict)
        return record


def avro_string(text: str) -> bytes:
    """`text` as Avro's binary encoding writes a string: the length of its UTF-8 bytes as
    a zigzag varint (the shortest), then the bytes."""
    data = text.encode("utf-8")
    length = len(data) << 1  # the zigzag form of a length, which is never negative
    head = bytearray()
    while length > 0x7F:
        head.append((length & 0x7F) | 0x80)
        length >>= 7
    head.append(length)
    return bytes(head) + data


def _not_single_object(data: bytes) -> str:
    """Why bytes without our marker are not ours, naming the look-alikes seen in practice."""
    if data[:1] == b"\x00" and len(data) >= 5:
        schema_id = int.from_bytes(data[1:5], "big")
        return ("Confluent Schema Registry framing (magic byte 0, schema id "
                f"{schema_id}), not Avro single-object encoding (C3 01)")
    if data[:1] == MARKER[:1] and len(data) >= 2:
        return f"wrong single-object marker C3 {data[1]:02X} (expected C3 01)"
    return "not Avro single-object encoding (no C3 01 marker)"


def _named_types(schema: Any, found: dict[str, Any]) -> dict[str, Any]:
    """Every named type (record, enum, fixed) defined in a parsed schema, by full name."""
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum", "fixed") and "name" in schema:
            found.setdefault(schema["name"], schema)
        for field in schema.get("fields", []):
            _named_types(field["type"], found)
        for key in ("items", "values"):
            if key in schema:
                _named_types(schema[key], found)
    return found


def _read_long(data: bytes) -> int | None:
    """The zigzag varint at the start of `data` (Avro's int and long), if complete."""
    read = _read_long_sized(data)
    return None if read is None else read[0]


def _read_long_sized(data: bytes) -> tuple[int, int] | None:
    """The zigzag varint at the start of `data` and how many bytes it takes, if complete."""
    value = shift = 0
    for size, byte in enumerate(data[:10], start=1):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), size
        shift += 7
    return None


def _type_name(schema: Any) -> str:
    """A branch of a union as a reason names it: null, string, date, Address, ..."""
    if isinstance(schema, str):
        return schema.rsplit(".", 1)[-1]
    if isinstance(schema, dict):
        return str(schema.get("logicalType") or schema.get("name", schema.get("type"))
                   ).rsplit(".", 1)[-1]
    return "union"


def _branch(schema: list[Any], named: dict[str, Any], rest: bytes
            ) -> tuple[Any, bytes] | str:
    """The branch a union's bytes choose and the bytes after its index; or why they
    choose none (the body ends inside the index, or the index is out of range)."""
    read = _read_long_sized(rest)
    if read is None:
        return ("the body ends inside this field, in its union branch index (truncated, or "
                "written without it)")
    index, size = read
    if not 0 <= index < len(schema):
        return (f"union branch index {index} is out of range (the field is one of "
                f"{', '.join(_type_name(b) for b in schema)}: index 0 to {len(schema) - 1})")
    chosen = schema[index]
    return (named.get(chosen, chosen) if isinstance(chosen, str) else chosen), rest[size:]


_ENDS = "the body ends inside this field (truncated, or written without it)"


def _explain(schema: Any, rest: bytes, exc: Exception,
             named: dict[str, Any] | None = None) -> str:
    """What is wrong with the field of type `schema` whose bytes start `rest`."""
    if isinstance(schema, list):  # a union: its branch index, then that branch
        chosen = _branch(schema, named or {}, rest)
        if isinstance(chosen, str):
            return chosen
        schema, rest = chosen
    kind = schema if isinstance(schema, str) else schema.get("type")
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if kind not in ("int", "long", "enum", "string", "bytes"):
        return _ENDS if isinstance(exc, EOFError) else _exception_text(exc)
    number = _read_long(rest)  # these all start with a zigzag varint
    if number is None:
        return _ENDS
    if kind == "enum":
        name = schema["name"].rsplit(".", 1)[-1]
        return (f"symbol index {number} is not one of the {len(schema['symbols'])} symbols "
                f"of {name} ({', '.join(schema['symbols'])})")
    if logical in ("timestamp-millis", "date"):
        return f"{logical} value {number} is beyond any calendar date"
    if kind in ("string", "bytes"):
        if number < 0:
            return f"negative length {number}"
        if number > len(rest):
            return (f"its length, {number} bytes, runs past the end of the body "
                    "(truncated, or written without it)")
        if isinstance(exc, UnicodeDecodeError):
            return f"the {number}-byte string is not UTF-8"
    return _ENDS if isinstance(exc, EOFError) else _exception_text(exc)


def _exception_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _locate(record: dict[str, Any], named: dict[str, Any], body: bytes,
            path: str) -> tuple[str, str] | None:
    """The dotted path of the first field of `record` that cannot be read from `body`,
    and why; None when every field reads. Avro binary carries no field names, so this
    re-reads growing prefixes of the schema (only ever on the error path)."""
    fields = record["fields"]
    position = 0
    for count, field in enumerate(fields, start=1):
        stream = io.BytesIO(body)
        try:
            schemaless_reader(stream, {**record, "fields": fields[:count]}, None)
        except Exception as exc:  # the same foreign bytes, re-read
            where = f"{path}{field['name']}"
            schema = field["type"]
            schema = named.get(schema, schema) if isinstance(schema, str) else schema
            rest = body[position:]
            if isinstance(schema, list):  # a union holding a record: look inside it
                chosen = _branch(schema, named, rest)
                if not isinstance(chosen, str):
                    schema, rest = chosen
            if isinstance(schema, dict) and schema.get("type") == "record":
                inner = _locate(schema, named, rest, f"{where}.")
                if inner is not None:
                    return inner
            return where, _explain(schema, rest, exc, named)
        position = stream.tell()
    return None


def _body_error(writer: RecordSchema, body: bytes, exc: Exception) -> DecodeError:
    """A DecodeError naming the first field of the body that cannot be read."""
    found = _locate(writer.parsed, _named_types(writer.parsed, {}), body, "")
    if found is None:  # every field reads: the retired writer cannot become the current
        return DecodeError(f"cannot read {writer.type_name} written with retired schema "
                           f"{writer.fingerprint.hex()} as the current one: {exc}")
    return DecodeError(f"cannot decode {writer.type_name} body at field {found[0]}: "
                       f"{found[1]}")


@cache
def shared_codec() -> Codec:
    return Codec()
