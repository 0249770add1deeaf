// Reads every record of __consumer_offsets and decodes it with Apache Kafka's own group
// coordinator serde, for broker/test/consumer-group-heartbeat.test.ts: proof that the broker
// writes Kafka's record layouts. Prints one line per record: the key's and the value's message
// as Kafka prints them ("null" for a tombstone), or "UNREADABLE <reason>".
//   OffsetsTopicRecords BOOTSTRAP
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.coordinator.common.runtime.CoordinatorRecord;
import org.apache.kafka.coordinator.group.GroupCoordinatorRecordSerde;

public class OffsetsTopicRecords {
  public static void main(String[] args) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    GroupCoordinatorRecordSerde serde = new GroupCoordinatorRecordSerde();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor("__consumer_offsets")) partitions.add(new TopicPartition(info.topic(), info.partition()));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
      while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          try {
            CoordinatorRecord record = serde.deserialize(ByteBuffer.wrap(r.key()), r.value() == null ? null : ByteBuffer.wrap(r.value()));
            System.out.println(record.key().message() + " " + (record.value() == null ? "null" : record.value().message()));
          } catch (RuntimeException e) {
            System.out.println("UNREADABLE " + e);
          }
        }
      }
    }
  }
}
