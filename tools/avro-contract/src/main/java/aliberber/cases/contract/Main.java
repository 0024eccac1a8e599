package aliberber.cases.contract;

import java.nio.file.Path;

/** The contract checks of the repository's Avro schemas, with Apache Avro's Java library. */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 2 && args[0].equals("check")) {
      System.exit(Check.run(Path.of(args[1])));
    } else if (args.length == 4 && args[0].equals("vectors")) {
      Vectors.run(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]));
    } else {
      System.err.println("usage: check SCHEMA_DIR | vectors SCHEMA_DIR SAMPLES_JSON OUT_JSON");
      System.exit(2);
    }
  }
}
