// A Kafka Streams word count with processing.guarantee=exactly_once_v2, for
// broker/test/kafka-streams.test.ts: counts the words of INPUT's lines into OUTPUT (word -> count
// as text), with the record cache off so that every word read emits its new count. Each line
// takes a few milliseconds, so a broker killed while it runs finds transactions open.
//   WordCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR
// Prints "processed N" every 50 lines read; ends (closing cleanly) when stdin closes.
import java.time.Duration;
import java.util.Arrays;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Produced;

public class WordCount {
  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
    p.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
    p.put(StreamsConfig.consumerPrefix("max.poll.records"), 20);
    // A killed instance leaves the group within seconds (the broker's least), not Kafka's 45 s.
    p.put(StreamsConfig.consumerPrefix("session.timeout.ms"), 6000);
    p.put(StreamsConfig.consumerPrefix("heartbeat.interval.ms"), 1500);

    AtomicLong lines = new AtomicLong();
    StreamsBuilder builder = new StreamsBuilder();
    builder.stream(args[2], Consumed.with(Serdes.String(), Serdes.String()))
        .peek((k, line) -> {
          sleep(5);
          long n = lines.incrementAndGet();
          if (n % 50 == 0) System.out.println("processed " + n);
        })
        .flatMapValues(line -> Arrays.asList(line.split(" ")))
        .groupBy((k, word) -> word, Grouped.with(Serdes.String(), Serdes.String()))
        .count()
        .toStream()
        .mapValues(count -> Long.toString(count))
        .to(args[3], Produced.with(Serdes.String(), Serdes.String()));

    KafkaStreams streams = new KafkaStreams(builder.build(), p);
    // A stream thread that dies of a broker outage is replaced; the exactly-once guarantee holds across it.
    streams.setUncaughtExceptionHandler(e -> {
      System.out.println("thread failed: " + e);
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
    });
    streams.setStateListener((to, from) -> System.out.println("state " + to));
    streams.start();
    while (System.in.read() != -1) {
      // runs until stdin closes
    }
    streams.close(Duration.ofSeconds(30));
    System.out.println("closed");
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
