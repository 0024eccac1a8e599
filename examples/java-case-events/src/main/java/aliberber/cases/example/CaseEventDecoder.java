package aliberber.cases.example;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.SchemaParser;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.SchemaStore;

/**
 * Avro single-object decoding of every case-event type with one decoder.
 *
 * <p>A BinaryMessageDecoder built with one type's schema reads only that type: the writer
 * schema of any other type is missing (MissingSchemaException), or cannot be resolved to it.
 * Here the reader schema is the union of every case-event type, so each record resolves to
 * the branch of its own name, and the SchemaStore holds every schema a record may have been
 * written with: the current ones and every released version (history/NAME.vN.avsc).
 */
final class CaseEventDecoder {
  private final BinaryMessageDecoder<Object> decoder;

  private CaseEventDecoder(BinaryMessageDecoder<Object> decoder) {
    this.decoder = decoder;
  }

  static CaseEventDecoder load(Path avroDir, List<String> types) throws IOException {
    Map<String, Schema> current = parseAll(avroDir);
    SchemaStore.Cache writers = new SchemaStore.Cache();
    List<Schema> readers = new ArrayList<>();
    for (String type : types) {
      Schema schema = current.get("aliberber.cases." + type);
      if (schema == null) {
        throw new IllegalArgumentException("no schema of " + type + " in " + avroDir);
      }
      readers.add(schema);
      writers.addSchema(schema);
      Path history = avroDir.resolve("history");
      if (Files.isDirectory(history)) {
        try (DirectoryStream<Path> versions =
                 Files.newDirectoryStream(history, "aliberber.cases." + type + ".v*.avsc")) {
          for (Path version : versions) {
            SchemaParser alone = new SchemaParser(); // each version defines its own types
            writers.addSchema(alone.resolve(alone.parse(version)));
          }
        }
      }
    }
    Schema anyCaseEvent = Schema.createUnion(readers);
    return new CaseEventDecoder(
        new BinaryMessageDecoder<>(GenericData.get(), anyCaseEvent, writers));
  }

  /** The case event in `value`; throws (MissingSchemaException, AvroRuntimeException, an
   *  IOException) when the bytes are not a case event this reader knows. */
  GenericRecord decode(byte[] value) throws IOException {
    return (GenericRecord) decoder.decode(value);
  }

  /** Every schema of the directory; one parser, since the files refer to each other's
   *  types by name (Money, CaseState, ...), in any order. */
  private static Map<String, Schema> parseAll(Path dir) throws IOException {
    SchemaParser parser = new SchemaParser();
    List<SchemaParser.ParseResult> parsed = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.avsc")) {
      for (Path file : files) {
        parsed.add(parser.parse(file));
      }
    }
    Map<String, Schema> byName = new HashMap<>();
    for (SchemaParser.ParseResult result : parsed) {
      Schema schema = parser.resolve(result);
      byName.put(schema.getFullName(), schema);
    }
    return byName;
  }
}
