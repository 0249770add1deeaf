// Dynamic broker settings of spec.config (those the broker changes live, such as
// log.retention.ms) go to the brokers as the cluster-wide default through the admin protocol,
// not into server.properties, so changing them restarts nothing. The brokers share the default
// through the cluster metadata; every reconcile still compares each ready broker's view with the
// spec (DescribeConfigs), so a broker that missed a change is told again, and defaults no longer
// in the spec are deleted.
import type { Logger } from 'pino';
import { brokerConfigDef, validateValue } from '../../broker/config.js';
import type { KafkaConnection } from '../../broker/protocol/client.js';
import { type BrokerAddress, openBrokerConnection } from '../broker-connection.js';
import { ErrorCode } from '../../broker/protocol/errors.js';
import { describeConfigsApi, incrementalAlterConfigsApi } from '../../broker/protocol/messages/index.js';
import type { KafkaCluster } from '../crds/types.js';
import type { Kube, KubernetesObject } from '../kube.js';
import { withTimeout } from '../deadline.js';

const BROKER_RESOURCE = 4;
/** The BROKER resource named "" is the cluster-wide default. */
const CLUSTER_DEFAULT = '';
const SET = 0;
const DELETE = 1;
/** Each broker's exchange: a stopped one accepts connections but never answers. */
const BROKER_TIMEOUT_MS = 10_000;

/** Whether a broker setting is applied live rather than through server.properties. */
export const isDynamic = (name: string): boolean => brokerConfigDef(name)?.dynamic !== undefined;

/** The dynamic settings of the spec, normalised as the broker reports them. */
export function desiredDynamicConfig(kc: KafkaCluster): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of Object.entries(kc.spec.config ?? {})) if (isDynamic(name)) out.set(name, validateValue(brokerConfigDef(name)!, value));
  return out;
}

/** A broker by id and where the operator reaches it. */
export type IdentifiedBroker = BrokerAddress & { id: number };

/** What one pass changed and what it could not. */
export interface DynamicConfigResult {
  /** Broker id → the settings set or deleted there. */
  changed: Map<number, string[]>;
  /** Broker id → why it could not be brought in line. */
  failed: Map<number, string>;
}

/** Brings the cluster-wide default of every given broker in line with the spec. */
export async function applyDynamicConfig(kc: KafkaCluster, brokers: IdentifiedBroker[], logger: Logger): Promise<DynamicConfigResult> {
  const desired = desiredDynamicConfig(kc);
  const result: DynamicConfigResult = { changed: new Map(), failed: new Map() };
  for (const broker of brokers) {
    let conn: KafkaConnection | undefined;
    try {
      // The whole exchange with one broker has one deadline (withTimeout).
      const applied = await withTimeout(
        (async () => {
          conn = await openBrokerConnection(broker, 'samsa-operator');
          const described = await conn.send(describeConfigsApi, 4, {
            resources: [{ resourceType: BROKER_RESOURCE, resourceName: CLUSTER_DEFAULT, configurationKeys: null }],
            includeSynonyms: false,
            includeDocumentation: false,
          });
          const d = described.results[0]!;
          if (d.errorCode !== ErrorCode.NONE) throw new Error(d.errorMessage ?? `DescribeConfigs error ${d.errorCode}`);
          const current = new Map(d.configs.map((c) => [c.name, c.value]));
          const changes = [
            ...[...desired].filter(([name, value]) => current.get(name) !== value).map(([name, value]) => ({ name, configOperation: SET, value })),
            ...[...current.keys()].filter((name) => !desired.has(name)).map((name) => ({ name, configOperation: DELETE, value: null })),
          ];
          if (changes.length === 0) return [];
          const res = await conn.send(incrementalAlterConfigsApi, 1, { resources: [{ resourceType: BROKER_RESOURCE, resourceName: CLUSTER_DEFAULT, configs: changes }], validateOnly: false });
          const r = res.responses[0]!;
          if (r.errorCode !== ErrorCode.NONE) throw new Error(r.errorMessage ?? `IncrementalAlterConfigs error ${r.errorCode}`);
          return changes.map((c) => (c.value === null ? `-${c.name}` : `${c.name}=${c.value}`));
        })(),
        BROKER_TIMEOUT_MS,
        `broker ${broker.id}`,
      );
      if (applied.length === 0) continue;
      result.changed.set(broker.id, applied);
      logger.info({ cluster: `${kc.metadata.namespace}/${kc.metadata.name}`, broker: broker.id, configs: applied }, 'applied dynamic broker config');
    } catch (err) {
      result.failed.set(broker.id, (err as Error).message);
    } finally {
      // Not awaited: a stopped broker never acknowledges the close.
      void conn?.close();
    }
  }
  return result;
}

/** Announces settings changed live (ConfigApplied); brokers that could not be reached are retried. */
export async function reportDynamicConfig(kube: Kube, kc: KafkaCluster & KubernetesObject, result: DynamicConfigResult, logger: Logger): Promise<void> {
  if (result.changed.size > 0) {
    const settings = [...new Set([...result.changed.values()].flat())].sort();
    await kube.event(kc, 'Normal', 'ConfigApplied', `applied ${settings.join(', ')} live to broker(s) ${[...result.changed.keys()].join(', ')} without a restart`);
  }
  for (const [broker, reason] of result.failed) logger.warn({ cluster: `${kc.metadata.namespace}/${kc.metadata.name}`, broker, reason }, 'could not apply dynamic broker config; will retry');
}
