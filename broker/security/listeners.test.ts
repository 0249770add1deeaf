import { describe, expect, it } from 'vitest';
import { BrokerConfig } from '../config.js';
import { planListeners } from './listeners.js';
import { interBrokerSaslCredentials } from './sasl/sasl-config.js';

const legacy = { host: '127.0.0.1', port: 9092 };
const plan = (settings: Record<string, string>) => planListeners(new BrokerConfig(settings), legacy);

describe('listeners', () => {
  it('without listeners, the command line makes one PLAINTEXT listener', () => {
    expect(planListeners(new BrokerConfig(), { host: '0.0.0.0', port: 9092, advertisedHost: 'broker-0', advertisedPort: 19092 })).toEqual({
      listeners: [{ name: 'PLAINTEXT', protocol: 'PLAINTEXT', host: '0.0.0.0', port: 9092, advertisedHost: 'broker-0', advertisedPort: 19092 }],
      interBroker: 'PLAINTEXT',
    });
  });

  it('binds each listener with its protocol and advertises it as bound unless advertised.listeners says otherwise', () => {
    const p = plan({
      listeners: 'PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:0,internal://[::1]:9095',
      'advertised.listeners': 'SSL://kafka.example.com:443',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,INTERNAL:SSL',
      'inter.broker.listener.name': 'INTERNAL',
    });
    expect(p.interBroker).toBe('INTERNAL');
    expect(p.listeners).toEqual([
      { name: 'PLAINTEXT', protocol: 'PLAINTEXT', host: '127.0.0.1', port: 9092, advertisedHost: '127.0.0.1', advertisedPort: 0 },
      { name: 'SSL', protocol: 'SSL', host: '127.0.0.1', port: 0, advertisedHost: 'kafka.example.com', advertisedPort: 443 },
      { name: 'INTERNAL', protocol: 'SSL', host: '::1', port: 9095, advertisedHost: '::1', advertisedPort: 0 },
    ]);
  });

  it('the inter-broker listener is the first one by default', () => {
    expect(plan({ listeners: 'SSL://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092' }).interBroker).toBe('SSL');
  });

  it('refuses settings that do not fit together, naming the problem', () => {
    expect(() => plan({ listeners: 'PLAINTEXT://127.0.0.1:9092,PLAINTEXT://127.0.0.1:9093' })).toThrow('listeners: listener name PLAINTEXT appears twice');
    expect(() => plan({ listeners: 'PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9092' })).toThrow('listeners: PLAINTEXT and SSL both bind port 9092');
    expect(() => plan({ listeners: 'CLIENT://127.0.0.1:9092' })).toThrow('listeners: CLIENT has no security protocol');
    expect(() => new BrokerConfig({ 'listener.security.protocol.map': 'CLIENT:TLS' })).toThrow('unknown security protocol "TLS" for CLIENT');
    expect(() => new BrokerConfig({ listeners: 'PLAINTEXT:9092' })).toThrow('listeners: "PLAINTEXT:9092" is not NAME://host:port');
    expect(() => plan({ listeners: 'PLAINTEXT://127.0.0.1:9092', 'advertised.listeners': 'SSL://a:9093' })).toThrow('advertised.listeners: SSL is not in listeners');
    expect(() => plan({ listeners: 'PLAINTEXT://:9092', 'advertised.listeners': 'PLAINTEXT://0.0.0.0:9092' })).toThrow('must name a host clients can connect to');
    expect(() => plan({ listeners: 'PLAINTEXT://127.0.0.1:9092', 'inter.broker.listener.name': 'INTERNAL' })).toThrow('inter.broker.listener.name INTERNAL is not in listeners (PLAINTEXT)');
    expect(() => plan({ 'advertised.listeners': 'PLAINTEXT://a:9092' })).toThrow('advertised.listeners needs listeners');
  });

  it('a SASL inter-broker listener takes the broker\'s login from its JAAS line, per listener and mechanism first', () => {
    const settings = { listeners: 'SASL_SSL://127.0.0.1:9094', 'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-256' };
    expect(plan(settings).interBroker).toBe('SASL_SSL');
    expect(() => interBrokerSaslCredentials(new BrokerConfig(settings), 'SASL_SSL')).toThrow('give the broker\'s login in listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config');
    const jaas = (user: string) => `org.apache.kafka.common.security.scram.ScramLoginModule required username="${user}" password="${user}-secret";`;
    expect(interBrokerSaslCredentials(new BrokerConfig({ ...settings, 'sasl.jaas.config': jaas('plain') }), 'SASL_SSL')).toEqual({ mechanism: 'SCRAM-SHA-256', username: 'plain', password: 'plain-secret' });
    const scoped = new BrokerConfig({ ...settings, 'sasl.jaas.config': jaas('plain'), 'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': jaas('scoped') });
    expect(interBrokerSaslCredentials(scoped, 'SASL_SSL')).toEqual({ mechanism: 'SCRAM-SHA-256', username: 'scoped', password: 'scoped-secret' });
    expect(() => interBrokerSaslCredentials(new BrokerConfig({ ...settings, 'sasl.jaas.config': 'ScramLoginModule required username="x";' }), 'SASL_SSL')).toThrow('needs username="..." and password="..."');
  });
});

describe('per-listener settings', () => {
  it('listener.name.<listener>.<ssl setting> overrides the plain setting for that listener only', () => {
    const config = new BrokerConfig({ 'ssl.client.auth': 'requested', 'listener.name.internal.ssl.client.auth': 'required' });
    expect(config.listenerValue('INTERNAL', 'ssl.client.auth')).toBe('required');
    expect(config.listenerValue('SSL', 'ssl.client.auth')).toBe('requested');
    expect(config.listenerValue('SSL', 'ssl.keystore.location')).toBe('');
  });

  it('checks the value as the plain setting, and the listener name in lower case', () => {
    expect(() => new BrokerConfig({ 'listener.name.internal.ssl.client.auth': 'always' })).toThrow('listener.name.internal.ssl.client.auth does not support "always"');
    expect(() => new BrokerConfig({ 'listener.name.INTERNAL.ssl.client.auth': 'required' })).toThrow('written in lower case');
    expect(() => new BrokerConfig({ 'listener.name.internal.num.partitions': '3' })).toThrow('unknown broker config');
  });
});
