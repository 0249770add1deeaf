// The single broker a client-compatibility test runs against: Samsa (a real broker process) by
// default, or Apache Kafka 4.0 (KafkaProcess) with SAMSA_TEST_BROKER=kafka, so that a test is
// proven on the reference before it is held against Samsa:
//   SAMSA_TEST_BROKER=kafka npx vitest run broker/test/java-transactions.test.ts
import { BrokerProcess } from './broker-process.js';
import { KafkaProcess } from './kafka-process.js';

export const againstKafka = process.env.SAMSA_TEST_BROKER === 'kafka';

/** What the tests use of BrokerProcess and KafkaProcess alike. */
export interface BrokerUnderTest {
  readonly bootstrap: string;
  readonly port: number;
  readonly output: string;
  /** SIGKILL: no shutdown code runs; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it answers. */
  launch(): Promise<void>;
  destroy(): Promise<void>;
}

/** Starts Samsa, or Apache Kafka under SAMSA_TEST_BROKER=kafka (single node, internal topics with one replica). */
export async function startBrokerUnderTest(samsaConfig: Record<string, string> = {}, kafkaConfig: Record<string, string> = {}): Promise<BrokerUnderTest> {
  if (againstKafka) return KafkaProcess.start(kafkaConfig);
  return BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0', ...samsaConfig });
}
