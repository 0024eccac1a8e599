package aliberber.cases.example;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.LogicalType;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/** A decoded record as plain JSON: a union's value as itself, enums as their symbol,
 *  timestamp-millis as ISO-8601 UTC with milliseconds, dates as ISO dates. */
final class JsonForm {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final DateTimeFormatter MILLIS =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private JsonForm() {}

  static ObjectNode of(GenericRecord record) {
    return (ObjectNode) value(record.getSchema(), record);
  }

  private static JsonNode value(Schema schema, Object datum) {
    LogicalType logical = schema.getLogicalType();
    switch (schema.getType()) {
      case RECORD: {
        GenericRecord record = (GenericRecord) datum;
        ObjectNode node = NODES.objectNode();
        for (Schema.Field field : schema.getFields()) {
          node.set(field.name(), value(field.schema(), record.get(field.pos())));
        }
        return node;
      }
      case UNION:
        return value(schema.getTypes().get(GenericData.get().resolveUnion(schema, datum)), datum);
      case NULL:
        return NODES.nullNode();
      case LONG:
        if (logical != null && logical.getName().equals("timestamp-millis")) {
          return NODES.textNode(MILLIS.format(Instant.ofEpochMilli((Long) datum)));
        }
        return NODES.numberNode((Long) datum);
      case INT:
        if (logical != null && logical.getName().equals("date")) {
          return NODES.textNode(LocalDate.ofEpochDay((Integer) datum).toString());
        }
        return NODES.numberNode((Integer) datum);
      case BOOLEAN:
        return NODES.booleanNode((Boolean) datum);
      case FLOAT:
        return NODES.numberNode((Float) datum);
      case DOUBLE:
        return NODES.numberNode((Double) datum);
      case BYTES: {
        ByteBuffer buffer = ((ByteBuffer) datum).duplicate();
        byte[] bytes = new byte[buffer.remaining()];
        buffer.get(bytes);
        return NODES.textNode(Base64.getEncoder().encodeToString(bytes));
      }
      case ARRAY: {
        var array = NODES.arrayNode();
        for (Object item : (Iterable<?>) datum) {
          array.add(value(schema.getElementType(), item));
        }
        return array;
      }
      case MAP: {
        ObjectNode node = NODES.objectNode();
        ((java.util.Map<?, ?>) datum).forEach(
            (k, v) -> node.set(k.toString(), value(schema.getValueType(), v)));
        return node;
      }
      default: // STRING, ENUM, FIXED as text
        return NODES.textNode(datum.toString());
    }
  }
}
