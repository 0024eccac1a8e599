"""Regenerate tests/schemas/vectors.json: the fingerprint of every message type and the
single-object bytes of its sample record (tests/schemas/samples.py), computed by Apache
Avro's Java library (tools/avro-contract), which tests/schemas/test_vectors.py holds the
Python codec to.

    python tools/contract/vectors.py      (make contract-vectors)

The samples go to Java in Avro's JSON encoding, the one form both libraries read.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fastavro import json_writer  # noqa: E402
from fastavro.schema import load_schema, parse_schema  # noqa: E402

from tests.schemas.samples import ALL  # noqa: E402

AVRO_DIR = REPO / "schemas" / "avro"
OUT = REPO / "tests" / "schemas" / "vectors.json"


def avro_json(type_name: str, record: dict) -> object:
    schema = parse_schema(load_schema(str(AVRO_DIR / f"aliberber.cases.{type_name}.avsc"),
                                      _write_hint=False))
    out = io.StringIO()
    json_writer(out, schema, [record])
    return json.loads(out.getvalue())


def main() -> None:
    samples = {f"aliberber.cases.{name}": avro_json(name, r) for name, r in ALL.items()}
    classpath = subprocess.run(["bash", str(REPO / "tools" / "java" / "build.sh"),
                                str(REPO / "tools" / "avro-contract")], check=True,
                               capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        samples_file = Path(tmp) / "samples.json"
        samples_file.write_text(json.dumps(samples))
        subprocess.run(["java", "-cp", classpath, "aliberber.cases.contract.Main", "vectors",
                        str(AVRO_DIR), str(samples_file), str(OUT)], check=True)


if __name__ == "__main__":
    main()
