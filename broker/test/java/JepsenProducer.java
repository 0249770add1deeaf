// The Java client's idempotent producer (acks=all, up to five requests in flight, retries until
// delivery.timeout.ms) writing records NAME-0, NAME-1, ... round-robin over PARTITIONS partitions
// until stdin closes, for the Jepsen-style cluster test. Prints one line per record as its
// outcome is known: "ACK <id> <partition> <offset>" or "FAIL <id> <error>", then "DONE".
import java.io.PrintStream;
import java.util.Properties;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

public class JepsenProducer {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    String topic = args[1];
    String name = args[2];
    int partitions = Integer.parseInt(args[3]);

    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");

    // The test closes stdin to stop the producer.
    AtomicBoolean stopping = new AtomicBoolean(false);
    Thread stdin = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {}
      } catch (Exception ignored) {
      }
      stopping.set(true);
    });
    stdin.setDaemon(true);
    stdin.start();

    PrintStream out = new PrintStream(System.out, false, "UTF-8");
    // Bounds the records awaiting an outcome, so a long failover does not buffer without end.
    Semaphore outstanding = new Semaphore(500);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (long seq = 0; !stopping.get(); seq++) {
        String id = name + "-" + seq;
        int partition = (int) (seq % partitions);
        outstanding.acquire();
        producer.send(new ProducerRecord<>(topic, partition, null, id), (metadata, error) -> {
          synchronized (out) {
            if (error == null) out.println("ACK " + id + " " + metadata.partition() + " " + metadata.offset());
            else out.println("FAIL " + id + " " + error.getClass().getSimpleName());
            out.flush();
          }
          outstanding.release();
        });
      }
      producer.flush();
    }
    synchronized (out) {
      out.println("DONE");
      out.flush();
    }
  }
}
