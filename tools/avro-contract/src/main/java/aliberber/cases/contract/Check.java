package aliberber.cases.contract;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.SchemaCompatibility.SchemaPairCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;

/**
 * The evolution rule, FULL_TRANSITIVE: every message type's current schema reads records
 * written with each of its released versions, and each released version reads records
 * written with the current schema. Also: the current schema is the latest released one (a
 * change comes with its history file), no released type disappears, and a record written
 * with every released fingerprint decodes through Avro's single-object decoder.
 */
final class Check {
  private Check() {}

  static int run(Path dir) throws IOException {
    SchemaDir schemas = SchemaDir.load(dir);
    List<String> problems = new ArrayList<>();
    int pairs = 0;
    for (SchemaDir.Released r : schemas.history) {
      if (!schemas.current.containsKey(r.fullName())) {
        problems.add(r.file() + ": " + r.fullName() + " was released and has no current "
            + "schema; a released type is never removed (old records stay in the topics)");
      }
    }
    List<Schema> messageTypes = schemas.messageTypes();
    for (Schema schema : messageTypes) {
      String name = schema.getFullName();
      List<SchemaDir.Released> versions = schemas.versionsOf(name);
      if (versions.isEmpty()) {
        problems.add(name + " has no released version: add history/" + name
            + ".v1.avsc (make contract-snapshot)");
        continue;
      }
      SchemaDir.Released latest = versions.get(versions.size() - 1);
      if (!latest.schema().equals(schema)) {
        problems.add(name + " differs from its latest released version v" + latest.version()
            + ": add it as history/" + name + ".v" + (latest.version() + 1)
            + ".avsc (make contract-snapshot)");
      }
      for (SchemaDir.Released old : versions) {
        pairs += 2;
        report(problems, name + ": the current schema cannot read v" + old.version(),
            SchemaCompatibility.checkReaderWriterCompatibility(schema, old.schema()));
        report(problems, name + ": v" + old.version() + " cannot read the current schema",
            SchemaCompatibility.checkReaderWriterCompatibility(old.schema(), schema));
      }
    }
    int readable = readable(schemas, problems);
    System.out.printf("avro-contract: %d message types, %d released versions, %d compatibility "
        + "checks (FULL_TRANSITIVE), %d released fingerprints decoded%n",
        messageTypes.size(), schemas.history.size(), pairs, readable);
    for (String problem : problems) {
      System.out.println("FAIL " + problem);
    }
    return problems.isEmpty() ? 0 : 1;
  }

  private static void report(List<String> problems, String what, SchemaPairCompatibility pair) {
    if (pair.getType() == SchemaCompatibilityType.COMPATIBLE) {
      return;
    }
    for (Incompatibility i : pair.getResult().getIncompatibilities()) {
      problems.add(what + ": " + i.getType() + " at " + i.getLocation() + " (" + i.getMessage()
          + ")");
    }
  }

  /** Writes a record with each released version and reads it as the single-object decoder
   *  of the type's current schema does: writer found by fingerprint, resolved to the reader. */
  private static int readable(SchemaDir schemas, List<String> problems) {
    SchemaStore.Cache store = new SchemaStore.Cache();
    schemas.messageTypes().forEach(store::addSchema);
    schemas.history.forEach(r -> store.addSchema(r.schema()));
    Map<Long, String> canonicalByFingerprint = new HashMap<>();
    int decoded = 0;
    for (SchemaDir.Released r : schemas.history) {
      long fingerprint = SchemaNormalization.parsingFingerprint64(r.schema());
      String canonical = SchemaNormalization.toParsingForm(r.schema());
      String seen = canonicalByFingerprint.putIfAbsent(fingerprint, canonical);
      if (seen != null && !seen.equals(canonical)) {
        problems.add(r.file() + ": fingerprint " + hex(fingerprint) + " is another schema's too");
      }
      Schema reader = schemas.current.get(r.fullName());
      if (reader == null) {
        continue;
      }
      try {
        GenericRecord written = Samples.record(r.schema());
        ByteBuffer bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), r.schema())
            .encode(written);
        new BinaryMessageDecoder<GenericRecord>(GenericData.get(), reader, store).decode(bytes);
        decoded++;
      } catch (Exception e) {
        problems.add(r.fullName() + " v" + r.version() + " (fingerprint " + hex(fingerprint)
            + ") does not decode with the current schema: " + e);
      }
    }
    return decoded;
  }

  /** A fingerprint as the single-object header carries it: 8 bytes, little-endian. */
  static String hex(long fingerprint) {
    return HexFormat.of().formatHex(
        ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(fingerprint).array());
  }
}
