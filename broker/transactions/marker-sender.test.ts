// The marker sender's routing and retries, with the cluster view and the local write faked; the
// WriteTxnMarkers path between real brokers is in broker/test/transactions.test.ts.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ClusterView } from '../metadata/cluster-view.js';
import type { TopicRecord, TopicRegistry } from '../metadata/topic-registry.js';
import { ErrorCode } from '../protocol/errors.js';
import { type MarkerWrite, TxnMarkerSender } from './marker-sender.js';

const topics = new Map<string, TopicRecord>([['orders', { name: 'orders', id: 'x', partitions: [{ replicas: [0] }, { replicas: [0] }], configs: {} } as unknown as TopicRecord]]);
const leaders = new Map<string, number>([['orders/0', 0], ['orders/1', -1]]);
const registry = { get: (name: string) => topics.get(name) } as unknown as TopicRegistry;
const view = { partition: (t: TopicRecord, p: number) => ({ state: { leader: leaders.get(`${t.name}/${p}`) ?? -1 }, version: 0 }) } as unknown as ClusterView;

describe('TxnMarkerSender', () => {
  it('writes here what this broker leads, retries partitions without a leader or refused, and drops deleted topics', async () => {
    const writes: Array<[string, number, number]> = [];
    const answers = [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NONE, ErrorCode.NONE];
    const written: number[] = [];
    const sender = new TxnMarkerSender(
      0,
      view,
      registry,
      () => undefined,
      async (marker: MarkerWrite, topic, partition) => {
        writes.push([topic, partition, marker.coordinatorEpoch]);
        // Partition 1 gets its leader (this broker) once partition 0 has been tried once.
        leaders.set('orders/1', 0);
        return answers.shift() ?? ErrorCode.NONE;
      },
      pino({ level: 'silent' }),
      (count) => written.push(count),
    );
    await sender.send(
      {
        transactionalId: 't',
        producerId: 1,
        producerEpoch: 0,
        commit: true,
        coordinatorEpoch: 3,
        partitions: [
          { topic: 'orders', partition: 0 },
          { topic: 'orders', partition: 1 },
          { topic: 'deleted', partition: 0 },
        ],
      },
      () => true,
    );
    // Partition 0 twice (refused once), partition 1 once it has a leader, the deleted topic never.
    expect(writes.sort()).toEqual([
      ['orders', 0, 3],
      ['orders', 0, 3],
      ['orders', 1, 3],
    ]);
    expect(written.reduce((a, b) => a + b, 0)).toBe(2);
    sender.close();
  });

  it('stops when its coordinator is replaced', async () => {
    let tries = 0;
    let current = true;
    const sender = new TxnMarkerSender(0, view, registry, () => undefined, async () => {
      if (++tries === 3) current = false;
      return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    }, pino({ level: 'silent' }));
    await sender.send({ transactionalId: 't', producerId: 1, producerEpoch: 0, commit: false, coordinatorEpoch: 1, partitions: [{ topic: 'orders', partition: 0 }] }, () => current);
    expect(tries).toBe(3);
    sender.close();
  });
});
