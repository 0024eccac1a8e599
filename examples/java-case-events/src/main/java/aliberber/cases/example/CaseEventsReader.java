package aliberber.cases.example;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads case-events (or the topic given) from the beginning to the end every partition had
 * when it started, decodes every record with Avro's single-object decoding and prints each
 * as one JSON line: {"partition", "offset", "key", "headers", "event"}.
 *
 * <pre>
 * KAFKA_BOOTSTRAP_SERVERS=host:port java -cp CLASSPATH aliberber.cases.example.CaseEventsReader \
 *     [TOPIC] [--schemas DIR] [--config CLIENT_PROPERTIES]
 * </pre>
 *
 * --schemas is the directory of the .avsc files (default schemas/avro); --config a Java
 * properties file of Kafka client settings (security.protocol, sasl.mechanism,
 * sasl.jaas.config, ...). It joins no consumer group and commits nothing. Exit status 1 when
 * a record could not be decoded (reported on stderr), 2 for a usage error.
 */
public final class CaseEventsReader {
  /** The case-event types this reader knows; a record of another type is reported. */
  static final List<String> CASE_EVENT_TYPES = List.of(
      "CaseOpened", "ProblemReported", "TrackingAdded", "RefundRecorded", "EscalationAvailable",
      "CaseEscalated", "CaseClosed", "CaseReopened", "LateDelivery", "SupportRefundRequested",
      "SellerSuspended", "SellerReinstatementEligible", "SellerReinstated", "ActionRejected",
      "DecisionSuperseded");

  private CaseEventsReader() {}

  public static void main(String[] args) throws IOException {
    String topic = "case-events";
    Path schemas = Path.of("schemas", "avro");
    Properties props = new Properties();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--schemas") && i + 1 < args.length) {
        schemas = Path.of(args[++i]);
      } else if (args[i].equals("--config") && i + 1 < args.length) {
        try (InputStream in = Files.newInputStream(Path.of(args[++i]))) {
          props.load(in);
        }
      } else if (!args[i].startsWith("-")) {
        topic = args[i];
      } else {
        usage("unknown argument " + args[i]);
      }
    }
    String bootstrap = System.getenv("KAFKA_BOOTSTRAP_SERVERS");
    if (bootstrap == null || bootstrap.isBlank()) {
      usage("KAFKA_BOOTSTRAP_SERVERS is not set");
    }
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
        ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.putIfAbsent(ConsumerConfig.CLIENT_ID_CONFIG, "case-events-reader");

    CaseEventDecoder decoder = CaseEventDecoder.load(schemas, CASE_EVENT_TYPES);
    System.exit(read(topic, props, decoder, new PrintStream(System.out, false,
        StandardCharsets.UTF_8)));
  }

  static int read(String topic, Properties props, CaseEventDecoder decoder, PrintStream out) {
    ObjectMapper json = new ObjectMapper();
    int failed = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
      if (infos == null || infos.isEmpty()) {
        System.err.println("case-events-reader: no topic " + topic);
        return 1;
      }
      List<TopicPartition> partitions =
          infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions); // no group: nothing committed, nobody else's offsets moved
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      Set<TopicPartition> pending = new HashSet<>(partitions);
      pending.removeIf(tp -> consumer.position(tp) >= end.get(tp));
      while (!pending.isEmpty()) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
          TopicPartition tp = new TopicPartition(record.topic(), record.partition());
          if (record.offset() >= end.get(tp)) {
            continue; // arrived after the start: beyond the end this run reads to
          }
          ObjectNode line = json.createObjectNode();
          line.put("partition", record.partition());
          line.put("offset", record.offset());
          line.put("key", record.key() == null ? null
              : new String(record.key(), StandardCharsets.UTF_8));
          ObjectNode headers = line.putObject("headers");
          for (Header header : record.headers()) {
            headers.put(header.key(), header.value() == null ? null
                : new String(header.value(), StandardCharsets.UTF_8));
          }
          try {
            GenericRecord event = decoder.decode(record.value());
            line.set("event", JsonForm.of(event));
            out.println(json.writeValueAsString(line));
          } catch (Exception e) { // foreign bytes may fail in any way
            failed++;
            System.err.printf("case-events-reader: %s-%d@%d not decoded: %s%n",
                record.topic(), record.partition(), record.offset(), e);
          }
        }
        pending.removeIf(tp -> consumer.position(tp) >= end.get(tp));
      }
    }
    out.flush();
    return failed == 0 ? 0 : 1;
  }

  private static void usage(String problem) {
    System.err.println("case-events-reader: " + problem + "\nusage: CaseEventsReader [TOPIC] "
        + "[--schemas DIR] [--config CLIENT_PROPERTIES]  (KAFKA_BOOTSTRAP_SERVERS set)");
    System.exit(2);
  }
}
