// A kafkajs producer sending numbered records (r0, r1, ...) with acks=all, one at a time, until
// stopped: what the brokers acknowledged and what failed (after the client's own retries). Tests
// run it through restarts, rolls and partition moves and expect no failure and every
// acknowledged record read back.
import type kafkajs from 'kafkajs';

export interface AcksAllLoad {
  acked: string[];
  failed: string[];
  stop(): Promise<void>;
}

export function produceThroughout(kafka: kafkajs.Kafka, topic: string, pauseMs = 20): AcksAllLoad {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const acked: string[] = [];
  const failed: string[] = [];
  let running = true;
  const done = (async () => {
    await producer.connect();
    for (let i = 0; running; i++) {
      const value = `r${i}`;
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: String(i % 7), value }] });
        acked.push(value);
      } catch (err) {
        failed.push(`${value}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
    await producer.disconnect();
  })();
  return {
    acked,
    failed,
    stop: async () => {
      running = false;
      await done;
    },
  };
}
