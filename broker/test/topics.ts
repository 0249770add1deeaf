// Topic creation over the raw protocol (CreateTopics v7), as tests that speak the protocol need it.
import type { KafkaConnection } from '../protocol/client.js';
import { createTopicsApi } from '../protocol/messages/index.js';
import type { CreatableTopicResult } from '../protocol/messages/create-topics-response.js';

/** Creates one topic with replication factor 1; the broker's answer for it, error or not. */
export async function createTopic(c: KafkaConnection, name: string, options: { partitions?: number; configs?: Record<string, string> } = {}): Promise<CreatableTopicResult> {
  const configs = Object.entries(options.configs ?? {}).map(([k, v]) => ({ name: k, value: v }));
  const res = await c.send(createTopicsApi, 7, { topics: [{ name, numPartitions: options.partitions ?? 1, replicationFactor: 1, assignments: [], configs }], timeoutMs: 5000, validateOnly: false });
  return res.topics[0]!;
}

/** createTopic that must succeed: any error code fails the test with the broker's message. */
export async function mustCreateTopic(c: KafkaConnection, name: string, options: { partitions?: number; configs?: Record<string, string> } = {}): Promise<void> {
  const result = await createTopic(c, name, options);
  if (result.errorCode !== 0) throw new Error(`creating topic ${name}: error ${result.errorCode} ${result.errorMessage ?? ''}`);
}
