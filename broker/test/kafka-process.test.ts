// The Apache Kafka reference harness formats its storage with any cluster id the tool accepts,
// including the one in 64 random ids that begins with '-' (once parsed as an option).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KafkaProcess, randomClusterId } from './kafka-process.ts';

describe('Kafka reference harness', () => {
  it('formats storage with a cluster id that begins with a dash', async () => {
    // Base64url of a first byte 0xf8..0xfb starts with '-'.
    const bytes = Buffer.from(randomClusterId(), 'base64url');
    bytes[0] = 0xf8 | (bytes[0]! & 3);
    const clusterId = bytes.toString('base64url');
    expect(clusterId.startsWith('-')).toBe(true);
    const kafka = await KafkaProcess.create({}, clusterId);
    try {
      const meta = readFileSync(join(kafka.logDir, 'meta.properties'), 'utf8');
      expect(meta).toContain(`cluster.id=${clusterId}\n`);
    } finally {
      await kafka.destroy();
    }
  }, 180_000);
});
