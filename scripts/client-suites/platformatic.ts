// Runs @platformatic/kafka's own integration tests (node:test files under its test/) against one
// plaintext broker, Samsa or Apache Kafka, and records each test's outcome. The library's suite
// is written for its docker-compose.yml: a three-broker cluster on localhost:9011-9013 and a single
// broker on localhost:9001. Here one broker serves both addresses (two PLAINTEXT listeners, each
// advertised as the suite expects), a fresh one for each test file, with broker-single's group settings and the cluster's
// authorizer (StandardAuthorizer, User:ANONYMOUS a super user), so that both brokers get the
// same selection: every file under test/clients and test/issues that needs no SASL, SSL or schema
// registry. Tests that need three brokers fail on both.
//   node scripts/client-suites/platformatic.ts --dir <checkout> --broker samsa|kafka --out <file.jsonl>
//   node scripts/client-suites/platformatic.ts --compare <kafka.jsonl> <samsa.jsonl>
// scripts/client-suites/platformatic.sh fetches the checkout and runs both; see docs/compatibility.md.
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { BrokerProcess, freePort } from '../../broker/test/broker-process.ts';
import { KafkaProcess } from '../../broker/test/kafka-process.ts';

const CLUSTER_PORT = 9011;
const SINGLE_PORT = 9001;
/** The docker image's version the suite's isKafka() compares with: Confluent 8.0 is Apache Kafka 4.0. */
const CONFLUENT_VERSION = '8.0.0';
/** A file that has not finished by then is stopped; its unfinished tests count as failed. */
const FILE_TIMEOUT_MS = 20 * 60_000;
/** broker-cluster-N's ACL settings in the suite's docker-compose.yml. */
const AUTHORIZER = { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'super.users': 'User:ANONYMOUS' };
const REPORTER = resolve(import.meta.dirname, 'node-test-reporter.mjs');

interface Outcome {
  file: string;
  name: string;
  nesting: number;
  status: 'pass' | 'fail' | 'skip' | 'todo';
  ms: number;
  error?: string;
}

/** The selection: integration files that need one plaintext broker only. */
export function selectFiles(dir: string): string[] {
  const files: string[] = [];
  for (const sub of ['test/clients', 'test/issues']) {
    for (const entry of readdirSync(join(dir, sub), { recursive: true }) as string[]) {
      if (!entry.endsWith('.test.ts')) continue;
      // SASL (PLAIN, SCRAM, OAUTHBEARER, GSSAPI) needs the suite's broker-sasl and a KDC.
      if (/(^|\/)sasl[^/]*\.test\.ts$/.test(entry)) continue;
      files.push(join(sub, entry));
    }
  }
  return files.sort();
}

interface Broker {
  stop(): Promise<unknown>;
}

/**
 * The broker once `launch` has resolved and its group coordinator answers; stopped (not left
 * behind) when either fails. The suite's brokers run for long: a file's first group must not
 * meet the creation of the offsets topic, which Kafka answers with COORDINATOR_NOT_AVAILABLE
 * for longer than the suite's clients retry.
 */
async function launched(launch: Promise<void>, broker: Broker): Promise<Broker> {
  try {
    await launch;
    const admin = new kafkajs.Kafka({ brokers: [`localhost:${CLUSTER_PORT}`], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.describeGroups(['client-suite-warm-up']);
    } finally {
      await admin.disconnect();
    }
    return broker;
  } catch (error) {
    await broker.stop();
    throw error;
  }
}

async function startKafka(): Promise<Broker> {
  const controllerPort = await freePort();
  const kafka = await KafkaProcess.create(
    {
      listeners: `PLAINTEXT://:${CLUSTER_PORT},SINGLE://:${SINGLE_PORT},CONTROLLER://127.0.0.1:${controllerPort}`,
      'advertised.listeners': `PLAINTEXT://localhost:${CLUSTER_PORT},SINGLE://localhost:${SINGLE_PORT}`,
      'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SINGLE:PLAINTEXT',
      // broker-single's settings in the suite's docker-compose.yml
      'group.coordinator.rebalance.protocols': 'classic,consumer',
      'group.consumer.heartbeat.interval.ms': '200',
      'group.consumer.min.heartbeat.interval.ms': '100',
      'transaction.partition.verification.enable': 'false',
      ...AUTHORIZER,
    },
    undefined,
    { port: CLUSTER_PORT, controllerPort },
  );
  // SIGKILL, as BrokerProcess.destroy: nothing of a test's broker is kept.
  const stop = async () => {
    await kafka.kill();
    rmSync(kafka.dir, { recursive: true, force: true });
  };
  return launched(kafka.launch(), { stop });
}

async function startSamsa(): Promise<Broker> {
  const broker = await BrokerProcess.create({
    listeners: `PLAINTEXT://:${CLUSTER_PORT},SINGLE://:${SINGLE_PORT}`,
    'advertised.listeners': `PLAINTEXT://localhost:${CLUSTER_PORT},SINGLE://localhost:${SINGLE_PORT}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SINGLE:PLAINTEXT',
    'group.initial.rebalance.delay.ms': '0',
    'group.consumer.heartbeat.interval.ms': '200',
    'group.consumer.min.heartbeat.interval.ms': '100',
    ...AUTHORIZER,
  });
  return launched(broker.launch(), { stop: () => broker.destroy() });
}

/** Runs one test file in its own node process; resolves with its outcomes. */
function runFile(dir: string, file: string, namePattern: string | undefined): Promise<Outcome[]> {
  return new Promise((resolveRun) => {
    const only = namePattern === undefined ? [] : [`--test-name-pattern=${namePattern}`];
    const child = spawn(process.execPath, ['--test', ...only, `--test-reporter=${REPORTER}`, '--test-reporter-destination=stdout', file], {
      cwd: dir,
      env: { ...process.env, KAFKA_VERSION: CONFLUENT_VERSION },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    // The whole process group: the runner's own child runs the file.
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), FILE_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const outcomes = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Outcome);
      for (const o of outcomes) o.file = relative(dir, o.file ?? join(dir, file)) || file;
      if (signal !== null) outcomes.push({ file, name: `(file stopped by ${signal} after ${FILE_TIMEOUT_MS / 60_000} min)`, nesting: 0, status: 'fail', ms: FILE_TIMEOUT_MS });
      else if (outcomes.length === 0 && code !== 0) outcomes.push({ file, name: '(file did not run)', nesting: 0, status: 'fail', ms: 0, error: err });
      resolveRun(outcomes);
    });
  });
}

function counts(outcomes: Outcome[]): { pass: number; fail: number; skip: number } {
  return {
    pass: outcomes.filter((o) => o.status === 'pass').length,
    fail: outcomes.filter((o) => o.status === 'fail').length,
    skip: outcomes.filter((o) => o.status === 'skip' || o.status === 'todo').length,
  };
}

function readOutcomes(path: string): Outcome[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Outcome);
}

const key = (o: Outcome) => `${o.file} > ${o.name}`;

/** Per-file counts of both runs, and every test that passes on the first and fails on the second. */
function compare(referencePath: string, subjectPath: string): void {
  const reference = readOutcomes(referencePath);
  const subject = readOutcomes(subjectPath);
  const files = [...new Set([...reference, ...subject].map((o) => o.file))].sort();
  const rows = files.map((f) => {
    const r = counts(reference.filter((o) => o.file === f));
    const s = counts(subject.filter((o) => o.file === f));
    return { file: f, 'reference pass': r.pass, 'reference fail': r.fail, 'subject pass': s.pass, 'subject fail': s.fail, skipped: Math.max(r.skip, s.skip) };
  });
  console.log(`reference: ${referencePath}\nsubject:   ${subjectPath}`);
  console.table(rows);
  const r = counts(reference);
  const s = counts(subject);
  console.log(`reference: ${r.pass} of ${r.pass + r.fail} pass (${r.skip} skipped); subject: ${s.pass} of ${s.pass + s.fail} pass (${s.skip} skipped)`);
  const subjectByKey = new Map(subject.map((o) => [key(o), o]));
  const regressions = reference.filter((o) => o.status === 'pass' && subjectByKey.get(key(o))?.status !== 'pass');
  console.log(`\n${regressions.length} pass on the reference and not on the subject:`);
  for (const o of regressions) {
    const got = subjectByKey.get(key(o));
    console.log(`- ${key(o)}: ${got ? got.status : 'did not run'}${got?.error ? `\n    ${got.error.replace(/\n/g, '\n    ')}` : ''}`);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string' }, broker: { type: 'string' }, out: { type: 'string' }, compare: { type: 'boolean' }, file: { type: 'string', multiple: true }, grep: { type: 'string' } },
  });
  if (values.compare) {
    if (positionals.length !== 2) throw new Error('--compare <reference.jsonl> <subject.jsonl>');
    compare(positionals[0]!, positionals[1]!);
    return;
  }
  if (!values.dir || !values.out || (values.broker !== 'samsa' && values.broker !== 'kafka')) throw new Error('usage: --dir <checkout> --broker samsa|kafka --out <file.jsonl> [--file test/...]... [--grep <test name pattern>]');
  const dir = resolve(values.dir);
  const files = values.file ?? selectFiles(dir);
  writeFileSync(values.out, '');
  const start = values.broker === 'kafka' ? startKafka : startSamsa;
  const all: Outcome[] = [];
  for (const file of files) {
    const started = Date.now();
    // A fresh broker for each file: what one file leaves behind (e.g. a default client quota of
    // 1000 bytes/s that admin.test.ts never removes) would otherwise decide another's outcome.
    const broker = await start();
    let outcomes: Outcome[];
    try {
      outcomes = await runFile(dir, file, values.grep);
    } finally {
      await broker.stop();
    }
    all.push(...outcomes);
    appendFileSync(values.out, outcomes.map((o) => JSON.stringify(o) + '\n').join(''));
    const c = counts(outcomes);
    console.log(`${values.broker} ${file}: ${c.pass} pass, ${c.fail} fail, ${c.skip} skipped (${Math.round((Date.now() - started) / 1000)} s)`);
  }
  const c = counts(all);
  console.log(`${values.broker}: ${c.pass} of ${c.pass + c.fail} pass (${c.skip} skipped)`);
}

await main();
