// What a consumer-group rebalance costs: two kafkajs members own six partitions, a third joins,
// and we time until all three hold two partitions each (client view), and the broker's own
// PreparingRebalance -> Stable interval from its logs. Several rounds; prints a table.
//   npm run bench:rebalance -- [--rounds R]
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { BrokerProcess } from '../broker/test/broker-process.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, heartbeat: { type: 'string', default: '100' } } });
const ROUNDS = Number(values.rounds);
const HEARTBEAT_MS = Number(values.heartbeat);
const { Kafka, logLevel } = kafkajs;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Broker-side durations of completed rebalances, from its JSON log lines. */
function brokerRebalances(output: string, group: string): number[] {
  const lines = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; time: number; group?: string });
  const out: number[] = [];
  let started: number | null = null;
  for (const l of lines) {
    if (l.group !== group) continue;
    if (l.msg === 'preparing rebalance' && started === null) started = l.time;
    if (l.msg === 'group stable' && started !== null) {
      out.push(l.time - started);
      started = null;
    }
  }
  return out;
}

async function main(): Promise<void> {
  const broker = await BrokerProcess.start({ 'group.initial.rebalance.delay.ms': '0' });
  const kafka = new Kafka({ clientId: 'rebalance-bench', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const clientMs: number[] = [];
  const brokerMs: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const topic = `rebalance-${round}`;
      const group = `rebalance-group-${round}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: 6 }] });
      const owned = new Map<string, number>();
      const members: kafkajs.Consumer[] = [];
      const start = async (name: string) => {
        const consumer = kafka.consumer({ groupId: group, heartbeatInterval: HEARTBEAT_MS, sessionTimeout: 10_000, rebalanceTimeout: 10_000, maxWaitTimeInMs: 100 });
        consumer.on(consumer.events.GROUP_JOIN, (e) => owned.set(name, e.payload.memberAssignment[topic]?.length ?? 0));
        await consumer.connect();
        await consumer.subscribe({ topic });
        await consumer.run({ eachMessage: async () => {} });
        members.push(consumer);
      };
      await start('a');
      await start('b');
      await waitFor(() => owned.get('a') === 3 && owned.get('b') === 3);
      const before = brokerRebalances(broker.output, group).length;
      const t0 = performance.now();
      await start('c');
      await waitFor(() => owned.get('a') === 2 && owned.get('b') === 2 && owned.get('c') === 2);
      clientMs.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 100));
      const rebalances = brokerRebalances(broker.output, group);
      if (rebalances.length > before) brokerMs.push(rebalances[rebalances.length - 1]!);
      await Promise.all(members.map((m) => m.disconnect()));
    }
  } finally {
    await admin.disconnect();
    await broker.stop();
    await broker.destroy();
  }
  const row = (name: string, xs: number[]) => `| ${name.padEnd(58)} | ${median(xs).toFixed(0).padStart(9)} | ${`${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`.padStart(9)} |`;
  console.log(`Rebalance of a 3-member kafkajs group on 6 partitions (third member joins), ${ROUNDS} rounds, heartbeat ${HEARTBEAT_MS} ms`);
  console.log(`| ${'measure'.padEnd(58)} | median ms |   min–max |`);
  console.log(`|${'-'.repeat(60)}|-----------|-----------|`);
  console.log(row('client: third member starts -> all hold 2 partitions', clientMs));
  console.log(row('broker: PreparingRebalance -> Stable', brokerMs));
}

await main();
