// The Java client (kafka-clients from Maven Central) over mTLS with PEM stores, as a Kafka user
// configures it: security.protocol=SSL, ssl.keystore.type=PEM (key and chain in one file),
// ssl.truststore.type=PEM, host name verification on. It produces and consumes in a group; the
// broker derives the principal from its certificate. Needs a JDK and Maven (scripts/maven-deps.sh).
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validForDays } from '../../operator/tls/certificate-authority.js';
import { BrokerProcess } from './broker-process.js';
import { TlsTestFiles, keystorePem } from './tls-files.js';

const ROOT = resolve(import.meta.dirname, '../..');
const LIB = join(ROOT, '.cache/java/lib');
const CLASSES = join(ROOT, '.cache/java/classes');

const files = new TlsTestFiles();
let broker: BrokerProcess;

beforeAll(async () => {
  execFileSync('sh', [join(ROOT, 'scripts/maven-deps.sh'), 'scripts/java/pom.xml', '.cache/java/lib'], { stdio: 'inherit' });
  mkdirSync(CLASSES, { recursive: true });
  execFileSync('javac', ['-d', CLASSES, '-cp', `${LIB}/*`, join(ROOT, 'broker/test/java/ClientCheck.java')], { stdio: 'inherit' });
  broker = await BrokerProcess.start(
    {
      listeners: 'SSL://127.0.0.1:0',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': files.write('broker.pem', keystorePem(files.broker(), 'broker-secret')),
      'ssl.key.password': 'broker-secret',
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': files.write('ca.pem', files.ca.cert),
      'ssl.client.auth': 'required',
      'ssl.principal.mapping.rules': 'RULE:^CN=([^,]+),O=(.*)$/$2:$1/L,DEFAULT',
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.replication.factor': '1',
    },
    ['--log-level', 'debug'],
  );
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
  files.remove();
});

describe('Java client over mTLS', () => {
  it('produces and consumes in a group with a PEM key store, and is known by its certificate', async () => {
    const client = files.client('Carol', validForDays(1), files.ca, 'Payments');
    const properties = files.write(
      'client.properties',
      [
        'security.protocol=SSL',
        'ssl.keystore.type=PEM',
        // Unencrypted: the JDK here has no PBES2, which Node's encrypted PKCS#8 keys use.
        `ssl.keystore.location=${files.write('carol.pem', keystorePem(client))}`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${files.dir}/ca.pem`,
      ].join('\n'),
    );
    const { stdout } = await promisify(execFile)('java', ['-cp', `${CLASSES}:${LIB}/*`, 'ClientCheck', broker.bootstrap, 'java-mtls', 'java-mtls-group', '200', 'none', properties], { timeout: 90_000 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ lastOffset: 199, received: 200, inOrder: true, committed: 200 });
    const principals = new Set(broker.output.split('\n').filter((l) => l.includes('TLS connection authenticated')).map((l) => (JSON.parse(l) as { principal: string }).principal));
    expect([...principals]).toEqual(['User:payments:carol']);
  }, 120_000);
});
