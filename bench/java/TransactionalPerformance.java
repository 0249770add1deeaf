// Transactional produce throughput with the Java client, for bench/compare.ts: RECORDS records of
// SIZE bytes in transactions of PER_TRANSACTION records each (begin, send, commit), the producer's
// other settings at their defaults. Prints one JSON line: records/s, MB/s and transactions/s.
//   TransactionalPerformance BOOTSTRAP TOPIC RECORDS PER_TRANSACTION SIZE TRANSACTIONAL_ID
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class TransactionalPerformance {
  public static void main(String[] args) {
    int records = Integer.parseInt(args[2]);
    int perTransaction = Integer.parseInt(args[3]);
    byte[] value = new byte[Integer.parseInt(args[4])];
    java.util.Arrays.fill(value, (byte) 'v');
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, args[5]);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      producer.initTransactions();
      long start = System.nanoTime();
      int transactions = 0;
      for (int sent = 0; sent < records; transactions++) {
        producer.beginTransaction();
        for (int i = 0; i < perTransaction && sent < records; i++, sent++) producer.send(new ProducerRecord<>(args[1], value));
        producer.commitTransaction();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf("{\"recordsPerSec\":%.1f,\"mbPerSec\":%.3f,\"transactionsPerSec\":%.1f}%n", records / seconds, records * (double) value.length / seconds / (1024 * 1024), transactions / seconds);
    }
  }
}
