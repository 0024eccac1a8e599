package aliberber.cases.contract;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

/** A record of any schema with every field set (unions take their last branch, enums
 *  their last symbol), so that reading it exercises every field's resolution. */
final class Samples {
  private Samples() {}

  static GenericRecord record(Schema schema) {
    return (GenericRecord) datum(schema);
  }

  private static Object datum(Schema schema) {
    switch (schema.getType()) {
      case RECORD:
        GenericData.Record record = new GenericData.Record(schema);
        for (Schema.Field field : schema.getFields()) {
          record.put(field.pos(), datum(field.schema()));
        }
        return record;
      case ENUM:
        List<String> symbols = schema.getEnumSymbols();
        return new GenericData.EnumSymbol(schema, symbols.get(symbols.size() - 1));
      case UNION:
        List<Schema> branches = schema.getTypes();
        return datum(branches.get(branches.size() - 1));
      case ARRAY:
        return List.of(datum(schema.getElementType()));
      case MAP:
        return Map.of("key", datum(schema.getValueType()));
      case FIXED:
        return new GenericData.Fixed(schema, new byte[schema.getFixedSize()]);
      case STRING:
        return "sample";
      case BYTES:
        return ByteBuffer.wrap(new byte[] {1, 2, 3});
      case INT:
        return 20_500; // a date in 2026 where the int is a date
      case LONG:
        return 1_772_359_200_000L; // 2026-03-01T10:00:00Z where the long is a timestamp
      case FLOAT:
        return 1.5f;
      case DOUBLE:
        return 1.5d;
      case BOOLEAN:
        return true;
      case NULL:
        return null;
      default:
        throw new IllegalArgumentException("no sample for " + schema);
    }
  }
}
