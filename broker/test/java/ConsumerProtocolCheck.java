// The Java client's consumer with group.protocol=consumer (KIP-848), for
// broker/test/consumer-group-protocol.test.ts. Modes:
//   create-topic BOOTSTRAP TOPIC PARTITIONS
//   produce BOOTSTRAP TOPIC PREFIX COUNT       COUNT records with values PREFIX-0.., keys spread over the partitions
//   consume BOOTSTRAP TOPIC GROUP NAME [INSTANCE_ID] [ASSIGNOR] [PROTOCOL]   (TOPIC "regex:PATTERN" subscribes to a
//       SubscriptionPattern, matched by the broker; PROTOCOL "classic" joins with the classic protocol, an
//       empty INSTANCE_ID or ASSIGNOR is none) polls until it reads "stop" on stdin, then closes
//       (leaving the group); prints "ASSIGNMENT NAME [p,..]" whenever its assignment changes,
//       "RECORD NAME value" for each record and "COMMITTED NAME n" after each synchronous commit
//   describe BOOTSTRAP GROUP                     one JSON line: type, state, members with their partitions and whether
//       they use the consumer protocol ("upgraded", null when the broker does not say), and committed offsets
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.SubscriptionPattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ConsumerProtocolCheck {
  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "create-topic" -> createTopic(args[1], args[2], Integer.parseInt(args[3]));
      case "produce" -> produce(args[1], args[2], args[3], Integer.parseInt(args[4]));
      case "consume" -> consume(args[1], args[2], args[3], args[4], args.length > 5 && !args[5].isEmpty() ? args[5] : null, args.length > 6 && !args[6].isEmpty() ? args[6] : null, args.length > 7 ? args[7] : "consumer");
      case "describe" -> describe(args[1], args[2]);
      default -> throw new IllegalArgumentException("unknown mode " + args[0]);
    }
  }

  static void createTopic(String bootstrap, String topic, int partitions) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
    } catch (ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) throw e;
    }
  }

  static void produce(String bootstrap, String topic, String prefix, int count) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < count; i++) producer.send(new ProducerRecord<>(topic, prefix + "-" + i, prefix + "-" + i));
      producer.flush();
    }
  }

  static void consume(String bootstrap, String topic, String group, String name, String instanceId, String assignor, String protocol) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
    if (instanceId != null) p.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, instanceId);
    if (assignor != null) p.put(ConsumerConfig.GROUP_REMOTE_ASSIGNOR_CONFIG, assignor);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    AtomicBoolean stop = new AtomicBoolean();
    Thread stdin = new Thread(() -> {
      try {
        new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
      } catch (java.io.IOException ignored) {
        // Closed stdin stops the consumer as a line does.
      }
      stop.set(true);
    });
    stdin.setDaemon(true);
    stdin.start();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      if (topic.startsWith("regex:")) consumer.subscribe(new SubscriptionPattern(topic.substring(6)));
      else consumer.subscribe(List.of(topic));
      Set<Integer> last = null;
      while (!stop.get()) {
        var records = consumer.poll(Duration.ofMillis(200));
        Set<Integer> now = new TreeSet<>();
        for (TopicPartition tp : consumer.assignment()) now.add(tp.partition());
        if (!now.equals(last)) {
          System.out.println("ASSIGNMENT " + name + " " + now.toString().replace(" ", ""));
          last = now;
        }
        for (ConsumerRecord<String, String> r : records) System.out.println("RECORD " + name + " " + r.value());
        if (!records.isEmpty()) {
          consumer.commitSync();
          System.out.println("COMMITTED " + name + " " + records.count());
        }
        System.out.flush();
      }
    }
    System.out.println("CLOSED " + name);
  }

  static void describe(String bootstrap, String group) throws Exception {
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
      ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
      Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
      List<String> members = new ArrayList<>();
      for (MemberDescription m : d.members()) {
        Set<Integer> partitions = new TreeSet<>();
        for (TopicPartition tp : m.assignment().topicPartitions()) partitions.add(tp.partition());
        members.add("{\"memberId\":\"" + m.consumerId() + "\",\"clientId\":\"" + m.clientId() + "\",\"epoch\":" + m.memberEpoch().orElse(-1) + ",\"upgraded\":" + m.upgraded().map(String::valueOf).orElse("null") + ",\"partitions\":" + partitions.toString().replace(" ", "") + "}");
      }
      long committed = 0;
      for (OffsetAndMetadata o : offsets.values()) committed += o.offset();
      System.out.println("{\"type\":\"" + d.type() + "\",\"state\":\"" + d.groupState() + "\",\"assignor\":\"" + d.partitionAssignor() + "\",\"committed\":" + committed + ",\"members\":[" + String.join(",", members) + "]}");
    }
  }
}
