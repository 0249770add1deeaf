// Samsa's ApiVersions against the reference Apache Kafka's, both real processes asked over a
// socket: every API Samsa serves must reach Kafka's latest version, unless it is held below it
// on purpose (HELD_BELOW_KAFKA, each with the semantics we do not implement). The test lists
// every gap, so a new Kafka release or a lowered range shows up here and cannot grow silently.
// APIs Kafka serves and Samsa does not are printed, not failed: they are other issues' work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaConnection } from '../protocol/client.js';
import { ApiKey, apiVersionsApi } from '../protocol/messages/index.js';
import { BrokerProcess } from './broker-process.js';
import { KafkaProcess } from './kafka-process.js';

/**
 * APIs Samsa serves below Kafka's latest version because the newer versions mean something
 * Samsa does not do. Advertising them would tell clients it does.
 */
const HELD_BELOW_KAFKA: Record<number, { max: number; why: string }> = {
  [ApiKey.AddPartitionsToTxn]: { max: 3, why: 'v4+ is KIP-890 part 1 broker-to-broker verification batches (v5 verify_only); clients still use v3' },
  [ApiKey.EndTxn]: { max: 4, why: 'v5 is KIP-890 part 2 transactions v2: the epoch bumped on every commit or abort, answered in the response' },
  [ApiKey.TxnOffsetCommit]: { max: 4, why: 'v5 also adds the group to the transaction (KIP-890 part 2, transactions v2); without transaction.version 2 a client may not send it' },
};

/** APIs served at Kafka's version with part of that version's meaning refused, and what. */
const SERVED_IN_PART: Record<number, string> = {
  [ApiKey.Produce]: 'v12 within a transaction (its implicit AddPartitionsToTxn, KIP-890 part 2) answers UNSUPPORTED_VERSION: Samsa finalizes no transaction.version, so transactional producers use v11',
};

interface Range {
  min: number;
  max: number;
}

const NAMES = new Map<number, string>(Object.entries(ApiKey).map(([name, key]) => [key, name]));
const nameOf = (key: number) => NAMES.get(key) ?? `api ${key}`;

async function advertised(port: number): Promise<Map<number, Range>> {
  const c = await KafkaConnection.open('127.0.0.1', port, 'api-versions-parity');
  try {
    const res = await c.send(apiVersionsApi, 3, { clientSoftwareName: 'samsa-parity', clientSoftwareVersion: '1' });
    expect(res.errorCode).toBe(0);
    return new Map(res.apiKeys.map((k) => [k.apiKey, { min: k.minVersion, max: k.maxVersion }]));
  } finally {
    await c.close();
  }
}

let samsa: BrokerProcess;
let kafka: KafkaProcess;

beforeAll(async () => {
  [samsa, kafka] = await Promise.all([BrokerProcess.start(), KafkaProcess.start()]);
}, 180_000);

afterAll(async () => {
  await Promise.all([samsa?.destroy(), kafka?.destroy()]);
});

describe('ApiVersions parity with Apache Kafka', () => {
  it('serves every API it implements up to the version Kafka serves, save the ones held back on purpose', async () => {
    const [ours, theirs] = await Promise.all([advertised(samsa.port), advertised(kafka.port)]);

    const behind: string[] = [];
    const held: string[] = [];
    const staleHolds: string[] = [];
    for (const [key, range] of [...ours].sort(([a], [b]) => a - b)) {
      const reference = theirs.get(key);
      if (!reference) continue;
      const hold = HELD_BELOW_KAFKA[key];
      if (range.max >= reference.max) {
        if (hold) staleHolds.push(`${nameOf(key)} (${key}): held at ${hold.max} but serves ${range.max}, Kafka ${reference.max}`);
        continue;
      }
      const line = `${nameOf(key)} (${key}): Samsa ${range.min}-${range.max}, Kafka ${reference.min}-${reference.max}`;
      if (hold && hold.max === range.max) held.push(`${line}: ${hold.why}`);
      else behind.push(line);
    }
    const missing = [...theirs]
      .filter(([key]) => !ours.has(key))
      .sort(([a], [b]) => a - b)
      .map(([key, r]) => `${nameOf(key)} (${key}) ${r.min}-${r.max}`);

    console.log(
      [
        `Samsa serves ${ours.size} APIs, Kafka ${theirs.size}.`,
        `Behind Kafka: ${behind.length === 0 ? 'none' : `\n  ${behind.join('\n  ')}`}`,
        `Held below Kafka on purpose:\n  ${held.join('\n  ') || 'none'}`,
        `Served at Kafka's version, part of it refused:\n  ${Object.entries(SERVED_IN_PART).map(([key, what]) => `${nameOf(Number(key))} (${key}): ${what}`).join('\n  ')}`,
        `Served by Kafka, not by Samsa (other issues):\n  ${missing.join('\n  ')}`,
      ].join('\n'),
    );

    expect(behind, 'APIs Samsa serves below the version Kafka serves').toEqual([]);
    expect(staleHolds, 'holds that no longer hold: remove them from HELD_BELOW_KAFKA').toEqual([]);
    // Every hold is an API both serve; one that names nothing would hide nothing and mislead.
    for (const key of Object.keys(HELD_BELOW_KAFKA).map(Number)) expect(ours.has(key) && theirs.has(key), nameOf(key)).toBe(true);
  }, 60_000);
});
