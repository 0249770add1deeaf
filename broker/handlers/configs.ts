// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (their overrides) and
// brokers: the BROKER resource named by this broker's id holds its own dynamic settings, the one
// named "" the cluster-wide default (KIP-226); both are kept in the MetadataStore, and a broker's
// may be altered through any broker.
import type { BrokerContext } from '../context.js';
import type { ConfigOwner } from '../metadata/dynamic-configs.js';
import { ErrorCode, type ErrorCodeValue, KafkaError } from '../protocol/errors.js';
import type {
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  AlterConfigsRequest,
  AlterConfigsResponse,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from '../protocol/messages/index.js';
import type { DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym } from '../protocol/messages/describe-configs-response.js';
import {
  type ConfigDef,
  type ConfigType,
  type DynamicLayer,
  ConfigError,
  brokerConfigDef,
  brokerConfigDefs,
  synonymsOf,
  topicConfigDef,
  topicConfigDefs,
  validateTopicConfigs,
  validateValue,
} from '../config.js';

const ResourceType = { topic: 2, broker: 4 } as const;
/** Kafka's ConfigSource codes for where a value comes from. */
export const ConfigSource = { topic: 1, 'dynamic-broker': 2, 'dynamic-default': 3, static: 4, default: 5 } as const;
const ConfigTypeCode: Record<ConfigType, number> = { boolean: 1, string: 2, int: 3, short: 4, long: 5, double: 6, list: 7 };
/** Kafka's PASSWORD config type: what a secret is described as. */
const PASSWORD_TYPE = 9;
const AlterOp = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

/** The value a layer gives a broker setting by name, or undefined. */
type Layer = readonly [(name: string) => string | undefined, number];

/**
 * A broker setting's synonyms as Kafka lists them: each layer that sets it, highest precedence
 * first (this broker's dynamic settings, the dynamic default, the static ones, the defaults), and
 * in each every name of its synonym group, from the first entry of its own name on. So a coarser
 * synonym set alone (log.retention.hours for log.retention.ms) is not listed, as in Kafka, and
 * the default resource (`from` "default") shows only the layers under this broker's own.
 */
function brokerSynonyms(broker: BrokerContext, name: string, sensitive: boolean, from: DynamicLayer = 'broker'): DescribeConfigsSynonym[] {
  const layers: Layer[] = [
    ...(from === 'broker' ? [[(n: string) => broker.config.dynamic('broker').get(n), ConfigSource['dynamic-broker']] as const] : []),
    [(n) => broker.config.dynamic('default').get(n), ConfigSource['dynamic-default']],
    [(n) => broker.config.explicit.get(n), ConfigSource.static],
    [(n) => describedDefault(brokerConfigDef(n)), ConfigSource.default],
  ];
  const list: DescribeConfigsSynonym[] = [];
  for (const [valueOf, source] of layers) {
    for (const synonym of synonymsOf(name)) {
      const value = valueOf(synonym);
      if (value !== undefined) list.push({ name: synonym, value: sensitive ? null : value, source });
    }
  }
  const own = list.findIndex((s) => s.name === name);
  return own < 0 ? [] : list.slice(own);
}

/** A setting's default as DescribeConfigs shows it: none where Kafka has none. */
function describedDefault(def: ConfigDef | undefined): string | undefined {
  return def && !def.unsetByDefault ? def.default : undefined;
}

/** No keys (null, or an empty list as Kafka reads it) asks for every setting. */
function wantedBy(keys: string[] | null): (def: ConfigDef) => boolean {
  return (def) => keys === null || keys.length === 0 || keys.includes(def.name);
}

/**
 * Every topic setting: its value in force, and as synonyms the topic's override, then the broker
 * setting that gives its default (e.g. log.retention.ms for retention.ms) in each layer; the
 * first synonym is its source.
 */
function describeTopicConfigs(broker: BrokerContext, name: string, keys: string[] | null, synonyms: boolean, docs: boolean): DescribeConfigsResourceResult[] {
  const record = broker.registry.get(name);
  if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
  return topicConfigDefs.filter(wantedBy(keys)).map((def) => {
    const brokerDef = broker.config.brokerSourceOf(def.name);
    const list: DescribeConfigsSynonym[] = brokerDef
      ? brokerSynonyms(broker, brokerDef.name, def.sensitive ?? false)
      : def.brokerName
        ? [{ name: def.brokerName, value: def.default, source: ConfigSource.default }]
        : [];
    const override = record.configs[def.name];
    if (override !== undefined) list.unshift({ name: def.name, value: override, source: ConfigSource.topic });
    const { value } = broker.config.topicValue(def.name, record.configs);
    return entry(def, value, list[0]?.source ?? ConfigSource.default, false, synonyms ? list : [], docs);
  });
}

/** The dynamic layer a BROKER resource names: "" the cluster-wide default, this broker's id its own. */
function brokerLayer(broker: BrokerContext, resourceName: string): DynamicLayer {
  if (resourceName === '') return 'default';
  if (resourceName === String(broker.nodeId)) return 'broker';
  throw new KafkaError(ErrorCode.INVALID_REQUEST, `this is broker ${broker.nodeId}, not "${resourceName}"`);
}

/**
 * This broker's settings (its id's resource) or the cluster-wide default's (""). As Kafka, a
 * setting's value is its own (the first synonym's), not one derived from a coarser synonym.
 */
function describeBrokerConfigs(broker: BrokerContext, name: string, keys: string[] | null, synonyms: boolean, docs: boolean): DescribeConfigsResourceResult[] {
  const wanted = wantedBy(keys);
  // The default resource holds only what was set as the cluster-wide default, as in Kafka.
  if (brokerLayer(broker, name) === 'default') {
    const defaults = broker.config.dynamic('default');
    return brokerConfigDefs
      .filter((def) => defaults.has(def.name) && wanted(def))
      .map((def) => entry(def, defaults.get(def.name)!, ConfigSource['dynamic-default'], false, synonyms ? brokerSynonyms(broker, def.name, def.sensitive ?? false, 'default') : [], docs));
  }
  return brokerConfigDefs.filter(wanted).map((def) => {
    const list = brokerSynonyms(broker, def.name, def.sensitive ?? false);
    return entry(def, list[0]?.value ?? null, list[0]?.source ?? ConfigSource.default, !def.dynamic, synonyms ? list : [], docs);
  });
}

function entry(def: ConfigDef, value: string | null, source: number, readOnly: boolean, synonyms: DescribeConfigsSynonym[], docs: boolean): DescribeConfigsResourceResult {
  return {
    name: def.name,
    // As Kafka: a secret's value is never sent.
    value: def.sensitive ? null : value,
    readOnly,
    isDefault: source === ConfigSource.default,
    configSource: source,
    isSensitive: def.sensitive ?? false,
    synonyms,
    configType: def.sensitive ? PASSWORD_TYPE : ConfigTypeCode[def.type],
    documentation: docs ? def.doc : null,
  };
}

export function handleDescribeConfigs(broker: BrokerContext, req: DescribeConfigsRequest): DescribeConfigsResponse {
  const results = req.resources.map((res): DescribeConfigsResult => {
    const base = { resourceType: res.resourceType, resourceName: res.resourceName };
    try {
      let configs: DescribeConfigsResourceResult[];
      if (res.resourceType === ResourceType.topic) configs = describeTopicConfigs(broker, res.resourceName, res.configurationKeys, req.includeSynonyms, req.includeDocumentation);
      else if (res.resourceType === ResourceType.broker) configs = describeBrokerConfigs(broker, res.resourceName, res.configurationKeys, req.includeSynonyms, req.includeDocumentation);
      else throw new KafkaError(ErrorCode.INVALID_REQUEST, `resource type ${res.resourceType} is not supported`);
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err;
      return { ...base, errorCode: err.code, errorMessage: err.message, configs: [] };
    }
  });
  return { throttleTimeMs: 0, results };
}

function topicRecord(broker: BrokerContext, resourceType: number, resourceName: string) {
  if (resourceType !== ResourceType.topic) throw new KafkaError(ErrorCode.INVALID_REQUEST, `resource type ${resourceType} is not supported`);
  const record = broker.registry.get(resourceName);
  if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${resourceName}" does not exist`);
  return record;
}

/**
 * Checks a dynamic layer's new settings as Kafka does, refusing the whole resource with
 * INVALID_REQUEST: unknown names, read-only settings (they need a restart) and bad values.
 */
function validateBrokerLayer(settings: ReadonlyMap<string, string>): Map<string, string> {
  const names = [...settings.keys()];
  const unknown = names.filter((n) => !brokerConfigDef(n));
  if (unknown.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown broker config(s): ${unknown.join(', ')}`);
  const readOnly = names.filter((n) => !brokerConfigDef(n)!.dynamic);
  if (readOnly.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Cannot update these configs dynamically: [${readOnly.join(', ')}]; they are read-only and need a restart`);
  const valid = new Map<string, string>();
  for (const [name, value] of settings) {
    try {
      valid.set(name, validateValue(brokerConfigDef(name)!, value));
    } catch (err) {
      if (err instanceof ConfigError) throw new KafkaError(ErrorCode.INVALID_REQUEST, `invalid value for broker config: ${err.message}`);
      throw err;
    }
  }
  return valid;
}

/**
 * Whose dynamic settings an alteration of a BROKER resource changes: "" the cluster-wide default,
 * a node id that broker's (any broker may write them; the one named follows them through the store).
 */
function configOwner(broker: BrokerContext, resourceName: string): ConfigOwner {
  if (resourceName === '') return 'default';
  const id = /^\d+$/.test(resourceName) ? Number(resourceName) : -1;
  if (id === broker.nodeId || broker.view.brokers.has(id)) return id;
  throw new KafkaError(ErrorCode.INVALID_REQUEST, `broker "${resourceName}" is not registered in the cluster (this is broker ${broker.nodeId})`);
}

async function applyBrokerLayer(broker: BrokerContext, owner: ConfigOwner, settings: ReadonlyMap<string, string>, validateOnly: boolean): Promise<void> {
  const valid = validateBrokerLayer(settings);
  if (validateOnly) return;
  await broker.dynamicConfigs.set(owner, valid);
  // Topics without an override take the new defaults from now on.
  if (owner === 'default' || owner === broker.nodeId) broker.topics.refreshLogConfigs();
  broker.logger.info({ broker: owner, configs: Object.fromEntries(valid) }, 'dynamic broker configs changed');
}

async function applyTopicConfigs(broker: BrokerContext, name: string, configs: Record<string, string>, validateOnly: boolean): Promise<void> {
  let valid: Record<string, string>;
  try {
    valid = validateTopicConfigs(configs);
  } catch (err) {
    if (err instanceof ConfigError) throw new KafkaError(ErrorCode.INVALID_CONFIG, err.message);
    throw err;
  }
  if (validateOnly) return;
  await broker.topics.setConfigs(name, valid);
  broker.logger.info({ topic: name, configs: valid }, 'topic configs changed');
}

type AlterResult = AlterConfigsResponse['responses'][number];

async function eachResource<R extends { resourceType: number; resourceName: string }>(resources: R[], apply: (r: R) => Promise<void>): Promise<AlterResult[]> {
  const out: AlterResult[] = [];
  for (const r of resources) {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    try {
      await apply(r);
      out.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err;
      out.push({ ...base, errorCode: err.code, errorMessage: err.message });
    }
  }
  return out;
}

/** Legacy AlterConfigs: the given set replaces all of the resource's settings. */
export async function handleAlterConfigs(broker: BrokerContext, req: AlterConfigsRequest): Promise<AlterConfigsResponse> {
  const responses = await eachResource(req.resources, async (res) => {
    const configs = new Map<string, string>();
    for (const c of res.configs) if (c.value !== null) configs.set(c.name, c.value);
    if (res.resourceType === ResourceType.broker) return applyBrokerLayer(broker, configOwner(broker, res.resourceName), configs, req.validateOnly);
    topicRecord(broker, res.resourceType, res.resourceName);
    await applyTopicConfigs(broker, res.resourceName, Object.fromEntries(configs), req.validateOnly);
  });
  return { throttleTimeMs: 0, responses };
}

type AlterableConfig = IncrementalAlterConfigsRequest['resources'][number]['configs'][number];

/** Applies SET, DELETE, APPEND and SUBTRACT to `configs`; `current` gives a list's value in force. */
function applyOps(configs: Map<string, string>, ops: AlterableConfig[], defOf: (name: string) => ConfigDef | undefined, current: (name: string) => string, unknown: { code: ErrorCodeValue; kind: 'topic' | 'broker' }): void {
  const names = ops.map((c) => c.name);
  if (new Set(names).size !== names.length) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'a config appears more than once for one resource');
  for (const c of ops) {
    const def = defOf(c.name);
    // Deleting a setting that cannot be set changes nothing (kafka-reassign-partitions --verify
    // clears replica.alter.log.dirs.io.max.bytes.per.second, which one log directory has no use for).
    if (!def && c.configOperation === AlterOp.delete && !configs.has(c.name)) continue;
    if (!def) throw new KafkaError(unknown.code, `unknown ${unknown.kind} config "${c.name}"`);
    switch (c.configOperation) {
      case AlterOp.set:
        if (c.value === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, `SET of ${c.name} needs a value`);
        configs.set(c.name, c.value);
        break;
      case AlterOp.delete:
        configs.delete(c.name);
        break;
      case AlterOp.append:
      case AlterOp.subtract: {
        if (def.type !== 'list') throw new KafkaError(ErrorCode.INVALID_CONFIG, `${c.name} is not a list; APPEND and SUBTRACT apply to lists only`);
        const was = (configs.get(c.name) ?? current(c.name)).split(',').filter(Boolean);
        const items = (c.value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        const next = c.configOperation === AlterOp.append ? [...was, ...items.filter((i) => !was.includes(i))] : was.filter((i) => !items.includes(i));
        configs.set(c.name, next.join(','));
        break;
      }
      default:
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown config operation ${c.configOperation}`);
    }
  }
}

export async function handleIncrementalAlterConfigs(broker: BrokerContext, req: IncrementalAlterConfigsRequest): Promise<IncrementalAlterConfigsResponse> {
  const responses = await eachResource(req.resources, async (res) => {
    if (res.resourceType === ResourceType.broker) {
      const owner = configOwner(broker, res.resourceName);
      const settings = broker.dynamicConfigs.settings(owner);
      applyOps(settings, res.configs, brokerConfigDef, (name) => broker.config.get(name), { code: ErrorCode.INVALID_REQUEST, kind: 'broker' });
      return applyBrokerLayer(broker, owner, settings, req.validateOnly);
    }
    const record = topicRecord(broker, res.resourceType, res.resourceName);
    const configs = new Map(Object.entries(record.configs));
    applyOps(configs, res.configs, topicConfigDef, (name) => broker.config.topicValue(name, record.configs).value, { code: ErrorCode.INVALID_CONFIG, kind: 'topic' });
    await applyTopicConfigs(broker, res.resourceName, Object.fromEntries(configs), req.validateOnly);
  });
  return { throttleTimeMs: 0, responses };
}
