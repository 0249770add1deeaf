// Drives the Java client against a broker with its defaults (idempotent producer, acks=all,
// classic consumer group): produces COUNT records with the given compression, consumes them in
// a group, commits, and prints one JSON line of what happened. An optional sixth argument names a
// properties file of further client settings for both (e.g. security.protocol=SSL and the stores).
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ClientCheck {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String group = args[2];
    int count = Integer.parseInt(args[3]);
    String compression = args[4];
    Properties extra = new Properties();
    if (args.length > 5) {
      try (var in = new java.io.FileInputStream(args[5])) {
        extra.load(in);
      }
    }

    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
    p.putAll(extra);
    long lastOffset = -1;
    boolean idempotent;
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
      for (int i = 0; i < count; i++) sent.add(producer.send(new ProducerRecord<>(topic, "key-" + i, "java-" + i)));
      for (var f : sent) lastOffset = Math.max(lastOffset, f.get().offset());
      idempotent = producer.metrics().keySet().stream().anyMatch(m -> m.name().equals("produce-throttle-time-avg"));
    }

    Properties c = new Properties();
    c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    c.putAll(extra);
    int received = 0;
    boolean inOrder = true;
    long committed = -1;
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
      consumer.subscribe(List.of(topic));
      long deadline = System.currentTimeMillis() + 30_000;
      while (received < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          if (!r.value().equals("java-" + received) || !r.key().equals("key-" + received)) inOrder = false;
          received++;
        }
      }
      consumer.commitSync();
      OffsetAndMetadata om = consumer.committed(java.util.Set.of(new TopicPartition(topic, 0))).get(new TopicPartition(topic, 0));
      committed = om == null ? -1 : om.offset();
    }
    System.out.println("{\"lastOffset\":" + lastOffset + ",\"received\":" + received + ",\"inOrder\":" + inOrder + ",\"committed\":" + committed + "}");
  }
}
