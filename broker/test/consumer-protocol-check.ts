// The Java client 4.0 as group members and admin (broker/test/java/ConsumerProtocolCheck.java),
// for the tests of the consumer group protocol and of groups mixing both protocols: members that
// print their assignment and records, and the short modes (create-topic, produce, describe).
import { expect } from 'vitest';
import { type BrokerUnderTest, startBrokerUnderTest } from './broker-under-test.js';
import { compileJava, JavaProcess, lastJsonLine, runJava } from './java-programs.js';

export class ConsumerProtocolCheck {
  private readonly running: JavaProcess[] = [];

  private constructor(
    private readonly classpath: string,
    readonly broker: BrokerUnderTest,
  ) {}

  /** Compiles the program and starts the broker under test (Samsa, or Kafka 4.0 with SAMSA_TEST_BROKER=kafka). */
  static async start(): Promise<ConsumerProtocolCheck> {
    const classpath = compileJava('scripts/java/pom.xml', '.cache/java/lib', ['broker/test/java/ConsumerProtocolCheck.java']);
    // Members heartbeat every half second, so that a rebalance takes a few of them; both brokers hold
    // the interval to group.consumer.min.heartbeat.interval.ms (5 s by default).
    const broker = await startBrokerUnderTest(
      { 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.min.heartbeat.interval.ms': '500' },
      { 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.min.heartbeat.interval.ms': '500' },
    );
    return new ConsumerProtocolCheck(classpath, broker);
  }

  /** Runs a short mode (create-topic, produce, describe) to its end; resolves with what it printed. */
  run(mode: string, ...args: string[]): Promise<string> {
    return runJava(this.classpath, 'ConsumerProtocolCheck', [mode, this.broker.bootstrap, ...args]);
  }

  /** The group as the admin client describes it (the program's JSON line). */
  async describe<Described>(group: string): Promise<Described> {
    return lastJsonLine<Described>(await this.run('describe', group));
  }

  /** A member consuming `topic` (or `regex:<pattern>`) until stopped; the consumer protocol unless told otherwise. */
  member(topic: string, group: string, name: string, options: { instanceId?: string; protocol?: 'classic' | 'consumer' } = {}): JavaProcess {
    const p = new JavaProcess(this.classpath, 'ConsumerProtocolCheck', ['consume', this.broker.bootstrap, topic, group, name, options.instanceId ?? '', '', options.protocol ?? 'consumer']);
    this.running.push(p);
    return p;
  }

  /** Kills the members still running and stops the broker. */
  async destroy(): Promise<void> {
    for (const p of this.running) p.kill();
    await this.broker.destroy();
  }
}

/** The member's partitions as it last printed them. */
export function assignment(p: JavaProcess): number[] | undefined {
  const last = [...p.output.matchAll(/^ASSIGNMENT \S+ \[([\d,]*)\]$/gm)].at(-1)?.[1];
  return last === undefined ? undefined : last === '' ? [] : last.split(',').map(Number);
}

/** Every record value the members printed, across all of them. */
export function consumed(...members: JavaProcess[]): string[] {
  return members.flatMap((p) => [...p.output.matchAll(/^RECORD \S+ (\S+)$/gm)].map((m) => m[1]!));
}

/** Asks the member to close (leaving its group) and waits for a clean exit. */
export async function stop(p: JavaProcess): Promise<void> {
  p.child.stdin!.end('stop\n');
  expect(await p.exited()).toBe(0);
}

/** The values `produce <topic> <prefix> <count>` sends. */
export const sent = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
