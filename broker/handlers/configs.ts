// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics (changeable at runtime)
// and brokers (described; set with --config at start).
import type { BrokerContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  DescribeConfigsRequest,
  DescribeConfigsResponse,
  AlterConfigsRequest,
  AlterConfigsResponse,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from '../protocol/messages/index.js';
import type { DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym } from '../protocol/messages/describe-configs-response.js';
import { type ConfigDef, type ConfigType, ConfigError, brokerConfigDefs, topicConfigDef, topicConfigDefs, validateTopicConfigs } from '../config.js';

const ResourceType = { topic: 2, broker: 4 } as const;
/** Kafka's ConfigSource codes for where a value comes from. */
export const ConfigSource = { topic: 1, broker: 4, default: 5 } as const;
const ConfigTypeCode: Record<ConfigType, number> = { boolean: 1, string: 2, int: 3, long: 5, double: 6, list: 7 };
const AlterOp = { set: 0, delete: 1, append: 2, subtract: 3 } as const;

function describeTopicConfigs(broker: BrokerContext, name: string, keys: string[] | null, synonyms: boolean, docs: boolean): DescribeConfigsResourceResult[] {
  const record = broker.registry.get(name);
  if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`);
  return topicConfigDefs
    .filter((def) => keys === null || keys.includes(def.name))
    .map((def) => {
      const { value, source } = broker.config.topicValue(def.name, record.configs);
      const list: DescribeConfigsSynonym[] = [];
      if (synonyms) {
        if (record.configs[def.name] !== undefined) list.push({ name: def.name, value: record.configs[def.name]!, source: ConfigSource.topic });
        const brokerDef = broker.config.brokerSourceOf(def.name);
        if (brokerDef && broker.config.explicit.has(brokerDef.name)) list.push({ name: brokerDef.name, value: broker.config.get(brokerDef.name), source: ConfigSource.broker });
        list.push({ name: brokerDef?.name ?? def.name, value: def.default, source: ConfigSource.default });
      }
      return entry(def, value, ConfigSource[source], false, list, docs);
    });
}

function describeBrokerConfigs(broker: BrokerContext, name: string, keys: string[] | null, docs: boolean): DescribeConfigsResourceResult[] {
  if (name !== '' && name !== String(broker.nodeId)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `this is broker ${broker.nodeId}, not "${name}"`);
  return brokerConfigDefs
    .filter((def) => keys === null || keys.includes(def.name))
    .map((def) => entry(def, broker.config.get(def.name), broker.config.explicit.has(def.name) ? ConfigSource.broker : ConfigSource.default, true, [], docs));
}

function entry(def: ConfigDef, value: string, source: number, readOnly: boolean, synonyms: DescribeConfigsSynonym[], docs: boolean): DescribeConfigsResourceResult {
  return {
    name: def.name,
    value,
    readOnly,
    isDefault: source === ConfigSource.default,
    configSource: source,
    isSensitive: false,
    synonyms,
    configType: ConfigTypeCode[def.type],
    documentation: docs ? def.doc : null,
  };
}

export function handleDescribeConfigs(broker: BrokerContext, req: DescribeConfigsRequest): DescribeConfigsResponse {
  const results = req.resources.map((res): DescribeConfigsResult => {
    const base = { resourceType: res.resourceType, resourceName: res.resourceName };
    try {
      let configs: DescribeConfigsResourceResult[];
      if (res.resourceType === ResourceType.topic) configs = describeTopicConfigs(broker, res.resourceName, res.configurationKeys, req.includeSynonyms, req.includeDocumentation);
      else if (res.resourceType === ResourceType.broker) configs = describeBrokerConfigs(broker, res.resourceName, res.configurationKeys, req.includeDocumentation);
      else throw new KafkaError(ErrorCode.INVALID_REQUEST, `resource type ${res.resourceType} is not supported`);
      return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err;
      return { ...base, errorCode: err.code, errorMessage: err.message, configs: [] };
    }
  });
  return { throttleTimeMs: 0, results };
}

/** Resolves a topic resource of an alter request, refusing broker resources with a clear reason. */
function alterTarget(broker: BrokerContext, resourceType: number, resourceName: string) {
  if (resourceType === ResourceType.broker) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, 'broker configs cannot be changed at runtime; start the broker with --config name=value');
  }
  if (resourceType !== ResourceType.topic) throw new KafkaError(ErrorCode.INVALID_REQUEST, `resource type ${resourceType} is not supported`);
  const record = broker.registry.get(resourceName);
  if (!record) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic "${resourceName}" does not exist`);
  return record;
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

/** Legacy AlterConfigs: the given set replaces all of the topic's overrides. */
export async function handleAlterConfigs(broker: BrokerContext, req: AlterConfigsRequest): Promise<AlterConfigsResponse> {
  const responses = await eachResource(req.resources, async (res) => {
    alterTarget(broker, res.resourceType, res.resourceName);
    const configs: Record<string, string> = {};
    for (const c of res.configs) if (c.value !== null) configs[c.name] = c.value;
    await applyTopicConfigs(broker, res.resourceName, configs, req.validateOnly);
  });
  return { throttleTimeMs: 0, responses };
}

export async function handleIncrementalAlterConfigs(broker: BrokerContext, req: IncrementalAlterConfigsRequest): Promise<IncrementalAlterConfigsResponse> {
  const responses = await eachResource(req.resources, async (res) => {
    const record = alterTarget(broker, res.resourceType, res.resourceName);
    const names = res.configs.map((c) => c.name);
    if (new Set(names).size !== names.length) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'a config appears more than once for one resource');
    const configs = { ...record.configs };
    for (const c of res.configs) {
      const def = topicConfigDef(c.name);
      if (!def) throw new KafkaError(ErrorCode.INVALID_CONFIG, `unknown topic config "${c.name}"`);
      switch (c.configOperation) {
        case AlterOp.set:
          if (c.value === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, `SET of ${c.name} needs a value`);
          configs[c.name] = c.value;
          break;
        case AlterOp.delete:
          delete configs[c.name];
          break;
        case AlterOp.append:
        case AlterOp.subtract: {
          if (def.type !== 'list') throw new KafkaError(ErrorCode.INVALID_CONFIG, `${c.name} is not a list; APPEND and SUBTRACT apply to lists only`);
          const current = broker.config.topicValue(c.name, configs).value.split(',').filter(Boolean);
          const items = (c.value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
          const next = c.configOperation === AlterOp.append ? [...current, ...items.filter((i) => !current.includes(i))] : current.filter((i) => !items.includes(i));
          configs[c.name] = next.join(',');
          break;
        }
        default:
          throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown config operation ${c.configOperation}`);
      }
    }
    await applyTopicConfigs(broker, res.resourceName, configs, req.validateOnly);
  });
  return { throttleTimeMs: 0, responses };
}
