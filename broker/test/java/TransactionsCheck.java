// The Java client's transactions against a broker, for broker/test/java-transactions.test.ts.
// Each mode prints one JSON line at the end; records are read per partition, in offset order.
//   commit-abort BOOTSTRAP TOPIC TXN_ID   transactions committed and aborted over three
//       partitions, then one left open while a read_committed consumer reads, then committed
//   open BOOTSTRAP TOPIC TXN_ID           sends a transaction's records, flushes them, prints
//       PENDING and waits for a line on stdin (the test kills and restarts the broker meanwhile);
//       then tries to commit, and with a new producer of the same transactional id
//       (initTransactions) commits one more transaction
//   consume BOOTSTRAP TOPIC ISOLATION MIN_RECORDS TIMEOUT_MS   reads from the beginning up to
//       the end offsets of that isolation level (and at least MIN_RECORDS)
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TransactionsCheck {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    String bootstrap = args[1];
    String topic = args[2];
    switch (mode) {
      case "commit-abort" -> commitAbort(bootstrap, topic, args[3]);
      case "open" -> openAcrossRestart(bootstrap, topic, args[3]);
      case "consume" -> System.out.println(json(consume(bootstrap, topic, args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]))));
      default -> throw new IllegalArgumentException("unknown mode " + mode);
    }
  }

  static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) throw e;
    }
  }

  static KafkaProducer<String, String> producer(String bootstrap, String txnId) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
    // Longer than any test holds a transaction open (the CLI test's lasts about a minute).
    p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 300_000);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    return new KafkaProducer<>(p);
  }

  static void send(KafkaProducer<String, String> producer, String topic, String prefix, int count) {
    for (int i = 0; i < count; i++) producer.send(new ProducerRecord<>(topic, "key-" + i, prefix + "-" + i));
  }

  static void commitAbort(String bootstrap, String topic, String txnId) throws Exception {
    createTopic(bootstrap, topic, 3);
    Map<String, List<String>> whileOpen;
    try (KafkaProducer<String, String> producer = producer(bootstrap, txnId)) {
      producer.initTransactions();
      for (int t = 0; t < 6; t++) {
        producer.beginTransaction();
        send(producer, topic, "t" + t, 20);
        // Written before the end of the transaction: abortTransaction drops records still unsent.
        producer.flush();
        if (t % 2 == 0) producer.commitTransaction();
        else producer.abortTransaction();
      }
      producer.beginTransaction();
      send(producer, topic, "open", 10);
      producer.flush();
      whileOpen = consume(bootstrap, topic, "read_committed", 0, 30_000);
      producer.commitTransaction();
    }
    var committed = consume(bootstrap, topic, "read_committed", 0, 30_000);
    var all = consume(bootstrap, topic, "read_uncommitted", 0, 30_000);
    System.out.println("{\"whileOpen\":" + json(whileOpen) + ",\"committed\":" + json(committed) + ",\"all\":" + json(all) + "}");
  }

  static void openAcrossRestart(String bootstrap, String topic, String txnId) throws Exception {
    createTopic(bootstrap, topic, 2);
    String outcome;
    KafkaProducer<String, String> producer = producer(bootstrap, txnId);
    producer.initTransactions();
    producer.beginTransaction();
    send(producer, topic, "before", 50);
    producer.flush();
    System.out.println("PENDING");
    System.out.flush();
    new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
    try {
      producer.commitTransaction();
      outcome = "committed";
    } catch (Exception e) {
      outcome = e.getClass().getSimpleName();
    }
    producer.close(Duration.ofSeconds(5));
    // The producer goes on under the same transactional id, as an application restarting would.
    try (KafkaProducer<String, String> next = producer(bootstrap, txnId)) {
      next.initTransactions();
      next.beginTransaction();
      send(next, topic, "after", 50);
      next.commitTransaction();
    }
    System.out.println("{\"firstCommit\":\"" + outcome + "\"}");
  }

  static Map<String, List<String>> consume(String bootstrap, String topic, String isolation, int minRecords, long timeoutMs) {
    Properties c = new Properties();
    c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    Map<String, List<String>> byPartition = new TreeMap<>();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
      List<TopicPartition> partitions = consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      for (TopicPartition tp : partitions) byPartition.put(String.valueOf(tp.partition()), new ArrayList<>());
      long deadline = System.currentTimeMillis() + timeoutMs;
      int received = 0;
      while (System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
          byPartition.get(String.valueOf(r.partition())).add(r.key() + "=" + r.value());
          received++;
        }
        if (received < minRecords) continue;
        // Under read_committed the end offsets are the last stable offsets.
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
        if (partitions.stream().allMatch(tp -> consumer.position(tp) >= end.get(tp))) break;
      }
    }
    return byPartition;
  }

  static String json(Map<String, List<String>> byPartition) {
    StringBuilder s = new StringBuilder("{");
    for (var e : byPartition.entrySet()) {
      if (s.length() > 1) s.append(',');
      s.append('"').append(e.getKey()).append("\":[");
      for (int i = 0; i < e.getValue().size(); i++) s.append(i == 0 ? "" : ",").append('"').append(e.getValue().get(i)).append('"');
      s.append(']');
    }
    return s.append('}').toString();
  }
}
