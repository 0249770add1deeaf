// Checks a KafkaCluster's broker settings against the broker's own definitions before anything
// is applied, so that a bad value is reported on the resource instead of crash-looping brokers.
// The CRD refuses unknown keys, node.id, conflicting listeners and malformed images at admission; this
// catches what a schema cannot (ill-typed or out-of-range values) and CRDs older than the operator.
import { ConfigError, brokerConfigDef, validateValue } from '../../broker/config.js';
import type { KafkaCluster } from '../crds/types.js';
import type { OperatorSettings } from './resources.js';
import { IMAGE_REFERENCE, operatorManaged } from '../crds/types.js';
import { listenerProblems } from './listeners.js';

/** What is wrong with the spec, one line per problem; empty when it can be applied. */
export function validateCluster(kc: KafkaCluster, settings: OperatorSettings = {}): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(kc.spec.config ?? {})) {
    const def = brokerConfigDef(name);
    if (operatorManaged(name)) problems.push(`broker config ${name} is set by the operator from spec.listeners, spec.tls and spec.authorization`);
    else if (!def) problems.push(`unknown broker config "${name}"`);
    else if (name === 'node.id') problems.push('node.id cannot be set: each broker gets its id from its pod ordinal');
    else {
      try {
        validateValue(def, value);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        problems.push(err.message);
      }
    }
  }
  const grace = shutdownGraceProblem(kc);
  if (grace) problems.push(grace);
  if (kc.spec.rack && !settings.brokerClusterRole) problems.push('spec.rack needs the operator started with --broker-cluster-role (the chart sets it), so that brokers may read their node\'s labels');
  if (kc.spec.rack && kc.spec.config?.['broker.rack'] !== undefined) problems.push('broker.rack cannot be set with spec.rack: each broker takes its rack from its node');
  problems.push(...listenerProblems(kc));
  if (!new RegExp(IMAGE_REFERENCE).test(kc.spec.image)) problems.push(`image "${kc.spec.image}" is not a valid image reference`);
  return problems;
}

/** Beyond the wait for leaderships to move: closing the listeners and flushing the logs. */
export const SHUTDOWN_MARGIN_MS = 10_000;

/**
 * A pod is killed terminationGracePeriodSeconds after its SIGTERM (an eviction or deletion in a
 * roll gives it exactly that). A broker in controlled shutdown may wait controlled.shutdown.timeout.ms
 * for its leaderships to move, then closes its logs: killed before, it leaves partitions it still
 * led without a leader until the controller notices its session is gone.
 */
export function shutdownGraceProblem(kc: KafkaCluster): string | null {
  const value = (name: string) => validateValue(brokerConfigDef(name)!, kc.spec.config?.[name] ?? brokerConfigDef(name)!.default);
  let enabled: boolean;
  let timeoutMs: number;
  try {
    enabled = value('controlled.shutdown.enable') === 'true';
    timeoutMs = Number(value('controlled.shutdown.timeout.ms'));
  } catch (err) {
    if (err instanceof ConfigError) return null; // reported with the other settings
    throw err;
  }
  const graceSeconds = kc.spec.podTemplate?.terminationGracePeriodSeconds ?? 60;
  if (!enabled || graceSeconds * 1000 >= timeoutMs + SHUTDOWN_MARGIN_MS) return null;
  return (
    `podTemplate.terminationGracePeriodSeconds (${graceSeconds}) is too short for controlled.shutdown.timeout.ms (${timeoutMs}): ` +
    `a broker needs up to ${Math.ceil((timeoutMs + SHUTDOWN_MARGIN_MS) / 1000)}s to move its leaderships away and close its logs before it is killed`
  );
}
