package aliberber.cases.contract;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.message.BinaryMessageEncoder;

/**
 * Test vectors for the Python codec: for every message type, its CRC-64-AVRO fingerprint
 * (SchemaNormalization.parsingFingerprint64) and the single-object bytes
 * (BinaryMessageEncoder) of a sample record given in Avro's JSON encoding.
 */
final class Vectors {
  private Vectors() {}

  static void run(Path dir, Path samplesFile, Path out) throws IOException {
    SchemaDir schemas = SchemaDir.load(dir);
    ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    JsonNode samples = json.readTree(samplesFile.toFile());
    ObjectNode vectors = json.createObjectNode();
    for (Schema schema : schemas.messageTypes()) {
      String name = schema.getFullName();
      JsonNode sample = samples.get(name);
      if (sample == null) {
        throw new IllegalArgumentException(samplesFile + " has no sample of " + name);
      }
      GenericRecord record = new GenericDatumReader<GenericRecord>(schema)
          .read(null, DecoderFactory.get().jsonDecoder(schema, sample.toString()));
      ByteBuffer encoded = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), schema)
          .encode(record);
      byte[] bytes = new byte[encoded.remaining()];
      encoded.get(bytes);
      ObjectNode vector = vectors.putObject(name);
      vector.put("fingerprint", Check.hex(SchemaNormalization.parsingFingerprint64(schema)));
      vector.set("record", json.readTree(avroJson(schema, record)));
      vector.put("single_object", HexFormat.of().formatHex(bytes));
    }
    ObjectNode root = json.createObjectNode();
    root.put("about", "Written by Apache Avro " + Schema.class.getPackage().getImplementationVersion()
        + " (Java) from the schemas in schemas/avro: regenerate with `make contract-vectors`. "
        + "record is in Avro's JSON encoding; fingerprint is the little-endian CRC-64-AVRO "
        + "fingerprint of the schema's parsing canonical form; single_object is C3 01, the "
        + "fingerprint, then the Avro binary body.");
    root.set("vectors", vectors);
    Files.writeString(out, json.writeValueAsString(root) + "\n");
    System.out.printf("avro-contract: %d vectors written to %s%n", vectors.size(), out);
  }

  private static String avroJson(Schema schema, GenericRecord record) throws IOException {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    JsonEncoder encoder = EncoderFactory.get().jsonEncoder(schema, buffer);
    new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
    encoder.flush();
    return buffer.toString(java.nio.charset.StandardCharsets.UTF_8);
  }
}
