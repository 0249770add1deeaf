// Reads a topic from the beginning with a kafkajs consumer in a group of its own until at least
// `expected` records arrived; the values, in the order they came.
import { expect } from 'vitest';
import type kafkajs from 'kafkajs';
import { eventuallyPasses } from './eventually.js';

export async function consumeValues(kafka: kafkajs.Kafka, topic: string, expected: number, timeoutMs = 60_000): Promise<string[]> {
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}` });
  const values: string[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
  await eventuallyPasses(`the consumer to read ${expected} records of ${topic}`, () => expect(values.length).toBeGreaterThanOrEqual(expected), timeoutMs);
  await consumer.disconnect();
  return values;
}
