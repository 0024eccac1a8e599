package aliberber.cases.contract;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaParser;

/**
 * The schemas of a directory like schemas/avro: the current ones (one named type per file,
 * referring to each other by name) and the released versions under history/ (one file per
 * version of a message type, self-contained: every named type it uses is defined inside).
 */
final class SchemaDir {
  private static final Pattern VERSION = Pattern.compile("(.+)\\.v(\\d+)\\.avsc");

  /** A released version of a message type, read from history/NAME.vN.avsc. */
  record Released(String fullName, int version, Path file, Schema schema) {}

  final Map<String, Schema> current = new TreeMap<>();
  final List<Released> history = new ArrayList<>();

  static SchemaDir load(Path dir) throws IOException {
    SchemaDir out = new SchemaDir();
    // One parser for every current file: a name may be used before the file that defines
    // it is read; resolve() ties each reference to its definition once all are parsed.
    SchemaParser parser = new SchemaParser();
    List<SchemaParser.ParseResult> parsed = new ArrayList<>();
    for (Path file : avscFiles(dir)) {
      parsed.add(parser.parse(file));
    }
    for (SchemaParser.ParseResult result : parsed) {
      Schema schema = parser.resolve(result);
      out.current.put(schema.getFullName(), schema);
    }
    Path historyDir = dir.resolve("history");
    if (Files.isDirectory(historyDir)) {
      for (Path file : avscFiles(historyDir)) {
        Matcher m = VERSION.matcher(file.getFileName().toString());
        if (!m.matches()) {
          throw new IllegalArgumentException(file + ": a released version is named NAME.vN.avsc");
        }
        SchemaParser alone = new SchemaParser(); // versions define the same names: one each
        Schema schema = alone.resolve(alone.parse(file));
        if (!schema.getFullName().equals(m.group(1))) {
          throw new IllegalArgumentException(file + " defines " + schema.getFullName());
        }
        out.history.add(new Released(m.group(1), Integer.parseInt(m.group(2)), file, schema));
      }
      out.history.sort((a, b) -> a.fullName().equals(b.fullName())
          ? Integer.compare(a.version(), b.version()) : a.fullName().compareTo(b.fullName()));
    }
    return out;
  }

  /**
   * A message type is a record sent on a topic on its own: its second field is `type`, an
   * enum whose one symbol is the record's own name (the pattern of every such schema here).
   * The other named types (Money, Address, the enums) only live inside them.
   */
  static boolean isMessageType(Schema schema) {
    if (schema.getType() != Schema.Type.RECORD || schema.getFields().size() < 2) {
      return false;
    }
    Schema type = schema.getFields().get(1).schema();
    return schema.getFields().get(1).name().equals("type") && type.getType() == Schema.Type.ENUM
        && type.getEnumSymbols().equals(List.of(schema.getName()));
  }

  List<Schema> messageTypes() {
    return current.values().stream().filter(SchemaDir::isMessageType).toList();
  }

  List<Released> versionsOf(String fullName) {
    return history.stream().filter(r -> r.fullName().equals(fullName)).toList();
  }

  private static List<Path> avscFiles(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".avsc") && Files.isRegularFile(p))
          .sorted().toList();
    }
  }
}
