// The samsa.dev/v1alpha1 custom resources, written once: these TypeBox schemas give the
// TypeScript types the operator uses and, through generate.ts, the CRDs in crds/.
import { type Static, Type } from '@sinclair/typebox';
import { brokerConfigDefs } from '../../broker/config.js';

export const GROUP = 'samsa.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

const immutable = (what: string) => ({ 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: `${what} cannot be changed after creation` }] });
const quantity = (description: string, defaultValue?: string) =>
  Type.String({ description, pattern: '^[0-9]+(\\.[0-9]+)?([KMGTPE]i?|[mkMGTPE]|e[0-9]+)?$', ...(defaultValue ? { default: defaultValue } : {}) });
const stringMap = (description: string) => Type.Record(Type.String(), Type.String(), { description });

/** A container image reference: [registry[:port]/]path[:tag][@digest], as the distribution spec shapes it. */
export const IMAGE_REFERENCE = '^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*(/[a-z0-9]+(([._]|__|-+)[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+([+._-][a-z0-9]+)*:[a-fA-F0-9]{32,})?$';

/**
 * Settings the operator writes from spec.listeners, spec.tls and spec.authorization (the
 * listeners, their certificates and the authorizer): spec.config cannot hold them.
 */
export const OPERATOR_MANAGED_CONFIGS = ['listeners', 'advertised.listeners', 'listener.security.protocol.map', 'inter.broker.listener.name', 'authorizer.class.name', 'super.users', 'sasl.enabled.mechanisms'];
const OPERATOR_MANAGED_PREFIXES = ['ssl.', 'listener.name.'];
export const operatorManaged = (name: string) => OPERATOR_MANAGED_CONFIGS.includes(name) || OPERATOR_MANAGED_PREFIXES.some((p) => name.startsWith(p));

/** Broker settings spec.config may hold: the broker's own, less node.id, which each pod's ordinal gives, and those the operator manages. */
const settableBrokerConfigs = brokerConfigDefs.map((d) => d.name).filter((n) => n !== 'node.id' && !operatorManaged(n));
const knownKeys = `[${settableBrokerConfigs.map((n) => `'${n}'`).join(', ')}]`;
const managedKeys = `[${OPERATOR_MANAGED_CONFIGS.map((n) => `'${n}'`).join(', ')}]`;
const brokerConfigRules = [
  { rule: "!('node.id' in self)", message: 'node.id cannot be set: each broker gets its id from its pod ordinal' },
  {
    rule: `self.all(k, !(k in ${managedKeys}) && ${OPERATOR_MANAGED_PREFIXES.map((p) => `!k.startsWith('${p}')`).join(' && ')})`,
    messageExpression: `'broker config ' + self.filter(k, k in ${managedKeys} || ${OPERATOR_MANAGED_PREFIXES.map((p) => `k.startsWith('${p}')`).join(' || ')})[0] + ' is set by the operator from spec.listeners, spec.tls and spec.authorization'`,
  },
  {
    rule: `self.all(k, k in ${knownKeys})`,
    messageExpression: `'unknown broker config: ' + self.filter(k, !(k in ${knownKeys}))[0]`,
  },
];

export const Condition = Type.Object({
  type: Type.String({ description: 'Ready, Reconciling or Degraded.' }),
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')], { description: 'True, False or Unknown.' }),
  reason: Type.String({ description: 'One CamelCase word saying why.' }),
  message: Type.String({ description: 'What happened, for a person.' }),
  lastTransitionTime: Type.String({ format: 'date-time', description: 'When the status last changed.' }),
  observedGeneration: Type.Optional(Type.Integer({ description: 'The generation of the spec this condition describes.' })),
});
export type Condition = Static<typeof Condition>;

/** Status fields every samsa.dev resource has. */
const statusCommon = {
  observedGeneration: Type.Optional(Type.Integer({ description: 'The generation of the spec the status describes.' })),
  conditions: Type.Optional(Type.Array(Condition, { description: 'Ready, Reconciling and Degraded.' })),
};

const Resources = Type.Object(
  {
    requests: Type.Optional(Type.Record(Type.String(), quantity('A quantity such as 500m or 2Gi.'), { description: 'Minimum resources, by name (cpu, memory).' })),
    limits: Type.Optional(Type.Record(Type.String(), quantity('A quantity such as 1 or 4Gi.'), { description: 'Maximum resources, by name (cpu, memory).' })),
  },
  { description: 'CPU and memory of each broker container, as in a Pod spec.' },
);

/** The internal listener every broker has: replication between brokers and the operator's own connections, over mutual TLS. */
export const REPLICATION_LISTENER = 'replication';
export const REPLICATION_PORT = 9091;
/** Listener names that are taken: the internal listener and the HTTP port's name on the Services. */
const RESERVED_LISTENER_NAMES = [REPLICATION_LISTENER, 'http'];

export const Listener = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z][a-z0-9]{0,10}$',
      maxLength: 11,
      description: "Lower-case name (at most 11 letters or digits), e.g. plain, tls, external; the Kafka listener is its upper-case form (PLAIN) and the Services' port is named after it.",
    }),
    port: Type.Integer({ minimum: 1, maximum: 65535, description: `Port of the listener; ${REPLICATION_PORT} and the HTTP port are taken.` }),
    tls: Type.Boolean({ default: false, description: 'Encrypt the listener with TLS, with the broker certificates of the cluster CA.' }),
    authentication: Type.Union([Type.Literal('none'), Type.Literal('scram-sha-512'), Type.Literal('tls')], {
      default: 'none',
      description: "How clients authenticate: 'none'; 'scram-sha-512' (SASL, KafkaUser passwords); 'tls' (client certificates of the clients CA, needs tls: true).",
    }),
  },
  {
    description: 'A Kafka listener.',
    'x-kubernetes-validations': [
      { rule: `!(self.name in [${RESERVED_LISTENER_NAMES.map((n) => `'${n}'`).join(', ')}])`, message: `listener names ${RESERVED_LISTENER_NAMES.join(' and ')} are reserved` },
      { rule: `self.port != ${REPLICATION_PORT}`, message: `port ${REPLICATION_PORT} is reserved for the internal replication listener` },
      { rule: "!has(self.authentication) || self.authentication != 'tls' || (has(self.tls) && self.tls)", message: 'authentication tls (client certificates) needs tls: true' },
    ],
  },
);
export type Listener = Static<typeof Listener>;

export const KafkaClusterSpec = Type.Object(
  {
    replicas: Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'Number of brokers.' }),
    image: Type.String({ minLength: 1, maxLength: 512, pattern: IMAGE_REFERENCE, default: 'samsa:0.1.0', description: 'Container image of the brokers: [registry[:port]/]name[:tag][@digest].' }),
    version: Type.Optional(Type.String({ description: 'Samsa version the image holds, for people and tools; status.version shows the version the brokers report. Changing the image rolls the brokers one at a time.' })),
    storage: Type.Object(
      {
        size: Type.String({
          ...quantity('Size of each broker volume. It can grow (the claims are expanded where their StorageClass allows it) but never shrink.', '10Gi'),
          'x-kubernetes-validations': [{ rule: 'quantity(self).compareTo(quantity(oldSelf)) >= 0', message: 'storage.size cannot shrink: a volume can only be expanded' }],
        }),
        storageClassName: Type.Optional(Type.String({ description: 'StorageClass of the broker volumes; the cluster default when empty.', ...immutable('storage.storageClassName') })),
        deleteClaimsOnClusterDelete: Type.Boolean({ default: false, description: 'Delete the broker volumes when the KafkaCluster is deleted (they are kept by default).' }),
        deleteClaimsOnScaleDown: Type.Boolean({ default: false, description: 'Delete the volume of a broker removed by scaling down (kept by default).' }),
      },
      { default: {}, description: 'Persistent volumes of the brokers, one per broker.' },
    ),
    resources: Type.Optional(Resources),
    config: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Broker settings by their Kafka names, e.g. log.retention.ms: "86400000". Dynamic ones (log.retention.*, log.segment.bytes, message.max.bytes, ...) are applied to the running brokers; changing a read-only one rolls the brokers.',
        maxProperties: 100,
        'x-kubernetes-validations': brokerConfigRules,
      }),
    ),
    listeners: Type.Array(Listener, {
      default: [{ name: 'plain', port: 9092, tls: false, authentication: 'none' }],
      minItems: 1,
      maxItems: 10,
      description: `Kafka listeners the brokers serve clients on. Every broker also has the internal ${REPLICATION_LISTENER} listener on port ${REPLICATION_PORT} (TLS, client certificates of the cluster CA), which the brokers replicate over and the operator uses.`,
      'x-kubernetes-validations': [
        { rule: 'self.all(l, self.exists_one(m, m.name == l.name))', message: 'listener names must be unique' },
        { rule: 'self.all(l, self.exists_one(m, m.port == l.port))', message: 'listener ports must be unique' },
      ],
    }),
    http: Type.Object(
      { port: Type.Integer({ minimum: 1, maximum: 65535, default: 9644, description: 'Port of /healthz, /readyz, /metrics and the operator endpoints (/v1/...).' }) },
      { default: {}, description: 'The brokers\' HTTP endpoints.' },
    ),
    authorization: Type.Optional(
      Type.Object(
        {
          type: Type.Literal('simple', { description: "'simple': Kafka's ACL authorizer (StandardAuthorizer); ACLs are managed with KafkaUser resources or kafka-acls." }),
          superUsers: Type.Array(Type.String({ minLength: 1 }), {
            default: [],
            maxItems: 100,
            description: 'Principals allowed everything, e.g. User:CN=admin,O=team (a client certificate) or User:alice (SCRAM). The brokers and the operator always are.',
          }),
        },
        { description: 'Authorization of Kafka requests by ACLs. Without it every client may do everything.' },
      ),
    ),
    tls: Type.Object(
      {
        certificateValidityDays: Type.Integer({ minimum: 1, maximum: 3650, default: 365, description: 'Validity of the certificates the operator issues (brokers, operator, KafkaUsers); the CAs get five times as long, and are replaced renewalDays before they expire (the old one stays trusted until it expires).' }),
        renewalDays: Type.Integer({ minimum: 0, default: 30, description: 'A certificate is renewed this many days before it expires; the brokers load the new one without a restart.' }),
      },
      {
        default: {},
        description: 'The cluster and clients CAs and the certificates the operator issues from them.',
        'x-kubernetes-validations': [
          { rule: '!has(self.renewalDays) || !has(self.certificateValidityDays) || self.renewalDays < self.certificateValidityDays', message: 'tls.renewalDays must be less than tls.certificateValidityDays' },
        ],
      },
    ),
    rack: Type.Optional(
      Type.Object(
        { topologyKey: Type.String({ default: 'topology.kubernetes.io/zone', description: 'Node label whose values are racks; brokers spread evenly across them.' }) },
        { description: 'Spread brokers across racks (zones).' },
      ),
    ),
    rollingUpdate: Type.Optional(
      Type.Object(
        {
          parallelism: Type.Union([Type.Literal('none'), Type.Literal('disjoint'), Type.Literal('rack')], {
            default: 'none',
            description:
              "Which brokers restart together in a roll: 'none' one at a time; 'disjoint' brokers that share no partition; 'rack' the brokers of one rack (broker.rack) that share no partition. Each must still be safe to stop; the controller always goes last, alone.",
          }),
          maxParallel: Type.Optional(
            Type.Integer({ minimum: 1, description: "Most brokers restarted together when parallelism is not 'none' (3 when unset); the brokers' PodDisruptionBudget then allows as many down at once." }),
          ),
        },
        { description: 'How rolling restarts go. A roll restarts a broker only while stopping it takes no partition below min.insync.replicas, and the next only once the restarted one is caught up.' },
      ),
    ),
    rebalance: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal('off'), Type.Literal('on-demand'), Type.Literal('automatic')], {
            default: 'on-demand',
            description:
              "When partitions are moved to balance the brokers (replicas, preferred leaders, disk bytes): 'off' never (a scale-down still moves partitions off the brokers it removes); 'on-demand' onto new brokers after a scale-up and when the samsa.dev/rebalance annotation gets a new value; 'automatic' also whenever the imbalance passes the threshold.",
          }),
          threshold: Type.Optional(
            Type.Object(
              {
                replicas: Type.Optional(Type.Integer({ minimum: 0, description: 'Replicas a broker may hold above or below the mean (1 when unset).' })),
                leaders: Type.Optional(Type.Integer({ minimum: 0, description: 'Preferred leaderships a broker may hold above or below the mean (1 when unset).' })),
                bytes: Type.Optional(Type.Number({ minimum: 0, description: 'Fraction of the mean disk bytes a broker may hold above or below it (0.1 when unset).' })),
              },
              { description: 'How far from balanced the brokers may be: the planner stops there, and automatic mode starts past it.' },
            ),
          ),
          throttleBytesPerSecond: Type.Optional(Type.Integer({ minimum: 1, description: 'Replication throttle (KIP-73) of the replicas being moved, per broker and direction; none when unset. In-sync replication is never throttled.' })),
          maxPartitionMovesInFlight: Type.Integer({ minimum: 1, default: 5, description: 'Partitions being moved at once.' }),
        },
        { description: 'How the operator moves partitions between brokers (scale-up, scale-down, rebalancing).' },
      ),
    ),
    metadata: Type.Optional(
      Type.Object(
        {
          etcd: Type.Object(
            {
              endpoints: Type.Array(Type.String({ pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}$', description: 'host:port of an etcd member.' }), { minItems: 1, description: 'The etcd members.' }),
              prefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$', description: 'Key prefix of this cluster; samsa/<namespace>/<name> when empty.' })),
            },
            { description: 'An external etcd holds the cluster metadata instead of the Kubernetes API.' },
          ),
        },
        { description: 'Where the brokers keep the cluster metadata: the Kubernetes API (Leases and ConfigMaps of this namespace) unless an etcd is named.', ...immutable('metadata') },
      ),
    ),
    podTemplate: Type.Optional(
      Type.Object(
        {
          labels: Type.Optional(stringMap('Extra labels of the broker pods.')),
          annotations: Type.Optional(stringMap('Extra annotations of the broker pods.')),
          nodeSelector: Type.Optional(stringMap('Node labels the broker pods must run on.')),
          priorityClassName: Type.Optional(Type.String({ description: 'PriorityClass of the broker pods.' })),
          tolerations: Type.Optional(Type.Array(Type.Object({}, { 'x-kubernetes-preserve-unknown-fields': true }), { description: 'Tolerations of the broker pods, as in a Pod spec.' })),
          affinity: Type.Optional(Type.Object({}, { 'x-kubernetes-preserve-unknown-fields': true, description: 'Affinity of the broker pods, as in a Pod spec.' })),
          terminationGracePeriodSeconds: Type.Integer({ minimum: 1, default: 60, description: 'Time a broker gets to shut down cleanly.' }),
        },
        { description: 'Overrides of the broker pod template.' },
      ),
    ),
  },
  {
    description: 'Desired state of a Samsa cluster.',
    'x-kubernetes-validations': [
      {
        rule: '!has(self.listeners) || !has(self.http) || !has(self.http.port) || self.listeners.all(l, l.port != self.http.port)',
        message: 'a listener cannot use the HTTP port (http.port)',
      },
      { rule: `!has(self.http) || !has(self.http.port) || self.http.port != ${REPLICATION_PORT}`, message: `http.port cannot be ${REPLICATION_PORT}: the internal replication listener uses it` },
    ],
  },
);
export type KafkaClusterSpec = Static<typeof KafkaClusterSpec>;

export const KafkaClusterStatus = Type.Object(
  {
    ...statusCommon,
    replicas: Type.Optional(Type.Integer({ description: 'Brokers that exist.' })),
    readyReplicas: Type.Optional(Type.Integer({ description: 'Brokers that are ready.' })),
    brokers: Type.Optional(
      Type.Array(
        Type.Object({
          id: Type.Integer({ description: 'Broker (node) id.' }),
          pod: Type.String({ description: 'Pod running the broker.' }),
          ready: Type.Boolean({ description: 'Whether the broker answers /readyz.' }),
          version: Type.Optional(Type.String({ description: 'Samsa version the broker reports on its /v1/broker endpoint.' })),
          reason: Type.Optional(Type.String({ description: 'Why the broker is failing, e.g. ImagePullFailed or CrashLoopBackOff.' })),
          message: Type.Optional(Type.String({ description: "What Kubernetes says of the failure: the container's waiting message, its exit code and last log line." })),
        }),
        { description: 'Each broker and its readiness.' },
      ),
    ),
    roll: Type.Optional(
      Type.Object(
        {
          done: Type.Array(Type.Integer(), { description: 'Brokers running the newest pod template.' }),
          left: Type.Array(Type.Integer(), { description: 'Brokers still to restart.' }),
          waiting: Type.Optional(Type.String({ description: 'Why no broker restarts now, e.g. broker 2 would take orders-0 below min.insync.replicas (2).' })),
        },
        { description: 'The rolling restart under way, while brokers run an old pod template.' },
      ),
    ),
    operation: Type.Optional(
      Type.Object(
        {
          type: Type.String({ description: 'RollingRestart, ScaleUp, ScaleDown or Rebalance.' }),
          reason: Type.String({ description: 'Why it runs.' }),
          startedAt: Type.Optional(Type.String({ description: 'When it started (partition moves).' })),
          progress: Type.String({ description: 'What is done and left, e.g. "12/40 partitions, 1.2 GiB moved, 3.1 GiB left, ETA 95s" or "1/3 brokers".' }),
          partitionsDone: Type.Optional(Type.Integer()),
          partitionsInFlight: Type.Optional(Type.Integer()),
          partitionsLeft: Type.Optional(Type.Integer()),
          bytesMoved: Type.Optional(Type.Integer()),
          bytesLeft: Type.Optional(Type.Integer()),
          etaSeconds: Type.Optional(Type.Integer({ description: 'Seconds left at the rate measured so far.' })),
        },
        { description: 'The operation in flight: a rolling restart, or partitions being moved.' },
      ),
    ),
    rebalance: Type.Optional(
      Type.Object(
        {
          lastRequest: Type.Optional(Type.String({ description: 'The last samsa.dev/rebalance annotation value acted on.' })),
          imbalance: Type.Optional(
            Type.Object(
              { replicas: Type.Number(), leaders: Type.Number(), bytes: Type.Number() },
              { description: 'Largest deviation from the mean per broker: replicas, preferred leaders, and disk bytes (a fraction of the mean).' },
            ),
          ),
        },
        { description: 'What the operator last measured and did about the balance of the brokers.' },
      ),
    ),
    bootstrap: Type.Optional(Type.String({ description: 'Bootstrap address of the first listener, for Kafka clients in the cluster.' })),
    listeners: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String({ description: 'The listener of spec.listeners.' }),
          bootstrap: Type.String({ description: 'Bootstrap address: the bootstrap Service and the listener\'s port.' }),
          tls: Type.Boolean({ description: 'Whether clients connect with TLS (trusting the <cluster>-cluster-ca-cert Secret).' }),
          authentication: Type.String({ description: 'none, scram-sha-512 or tls.' }),
        }),
        { description: 'Each listener and where clients bootstrap from.' },
      ),
    ),
    certificates: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String({ description: 'cluster-ca, clients-ca, operator, or the broker pod.' }),
          secret: Type.String({ description: 'The Secret holding the certificate.' }),
          subject: Type.String({ description: 'Subject of the certificate (RFC 2253), e.g. CN=my-cluster-broker,O=samsa.' }),
          notAfter: Type.String({ description: 'When it expires.' }),
          renewAt: Type.Optional(Type.String({ description: 'When the operator renews it.' })),
        }),
        { description: 'The certificates the operator issued for the cluster: CAs, brokers, the operator itself.' },
      ),
    ),
    version: Type.Optional(Type.String({ description: 'Samsa version the brokers report; several, comma-separated, while a roll changes it.' })),
  },
  { description: 'Observed state of the cluster.' },
);
export type KafkaClusterStatus = Static<typeof KafkaClusterStatus>;

export const KafkaTopicSpec = Type.Object(
  {
    clusterRef: Type.Object(
      { name: Type.String({ minLength: 1, description: 'Name of the KafkaCluster in this namespace.' }) },
      { description: 'The cluster the topic lives on.', ...immutable('clusterRef') },
    ),
    topicName: Type.Optional(
      Type.String({ minLength: 1, maxLength: 249, pattern: '^[a-zA-Z0-9._-]+$', description: 'Topic name in Kafka; the resource name when empty.', ...immutable('topicName') }),
    ),
    partitions: Type.Integer({ minimum: 1, default: 1, description: 'Number of partitions; it can grow but never shrink.' }),
    replicationFactor: Type.Integer({ minimum: 1, default: 1, description: 'Replicas of each partition. A change is carried out by moving partitions (reassignment).' }),
    config: Type.Optional(stringMap('Topic settings by their Kafka names, e.g. retention.ms: "3600000".')),
  },
  {
    description: 'Desired state of a topic.',
    'x-kubernetes-validations': [{ rule: 'self.partitions >= oldSelf.partitions', message: 'partitions cannot be lowered: Kafka topics can only gain partitions' }],
  },
);
export type KafkaTopicSpec = Static<typeof KafkaTopicSpec>;

export const KafkaTopicStatus = Type.Object(
  {
    ...statusCommon,
    topicId: Type.Optional(Type.String({ description: 'Kafka topic id.' })),
    partitions: Type.Optional(Type.Integer({ description: 'Partitions the topic has in Kafka.' })),
    replicationFactor: Type.Optional(Type.Integer({ description: 'Replicas of each partition in Kafka now (the smallest over its partitions while a change is carried out).' })),
    reassignment: Type.Optional(
      Type.Object(
        {
          replicationFactor: Type.Integer({ description: 'The replication factor being carried out.' }),
          startedAt: Type.String(),
          progress: Type.String({ description: 'Partitions done of those that move.' }),
          moves: Type.Array(
            Type.Object({
              topic: Type.String(),
              partition: Type.Integer(),
              from: Type.Array(Type.Integer()),
              to: Type.Array(Type.Integer()),
              bytes: Type.Integer(),
            }),
            { description: 'The plan: each partition\'s replicas before and after.' },
          ),
        },
        { description: 'A replication-factor change under way: kept here so that a restarted operator carries it on.' },
      ),
    ),
  },
  { description: 'Observed state of the topic.' },
);
export type KafkaTopicStatus = Static<typeof KafkaTopicStatus>;

/** ACL operations by Strimzi's (and Kafka's AclOperation) names. */
export const ACL_OPERATIONS = ['Read', 'Write', 'Create', 'Delete', 'Alter', 'Describe', 'ClusterAction', 'AlterConfigs', 'DescribeConfigs', 'IdempotentWrite', 'All'] as const;
export const ACL_RESOURCE_TYPES = ['topic', 'group', 'cluster', 'transactionalId'] as const;

const AclRule = Type.Object(
  {
    resource: Type.Object(
      {
        type: Type.Union(ACL_RESOURCE_TYPES.map((t) => Type.Literal(t)), { description: 'topic, group, cluster or transactionalId.' }),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Name of the topic, group or transactional id (or its prefix); none for cluster.' })),
        patternType: Type.Union([Type.Literal('literal'), Type.Literal('prefix')], { default: 'literal', description: 'literal: the name exactly, or * for every one; prefix: every name that begins with it.' }),
      },
      {
        description: 'What the rule is about.',
        'x-kubernetes-validations': [
          { rule: "self.type != 'cluster' || !has(self.name)", message: 'a cluster resource has no name' },
          { rule: "self.type == 'cluster' || has(self.name)", message: 'resource.name is required for topic, group and transactionalId' },
          { rule: "self.type != 'cluster' || !has(self.patternType) || self.patternType == 'literal'", message: 'a cluster resource has patternType literal' },
        ],
      },
    ),
    operations: Type.Array(Type.Union(ACL_OPERATIONS.map((o) => Type.Literal(o))), {
      minItems: 1,
      maxItems: ACL_OPERATIONS.length,
      description: `What the principal may (or may not) do: ${ACL_OPERATIONS.join(', ')}.`,
      'x-kubernetes-validations': [{ rule: 'self.all(o, self.exists_one(p, p == o))', message: 'operations must not repeat' }],
    }),
    host: Type.String({ minLength: 1, maxLength: 255, default: '*', description: 'Client address the rule applies to; * for any.' }),
    type: Type.Union([Type.Literal('allow'), Type.Literal('deny')], { default: 'allow', description: 'allow or deny; a deny rule wins over allow rules.' }),
  },
  { description: 'One ACL rule of the user.' },
);
export type AclRule = Static<typeof AclRule>;

export const KafkaUserSpec = Type.Object(
  {
    clusterRef: Type.Object(
      { name: Type.String({ minLength: 1, description: 'Name of the KafkaCluster in this namespace.' }) },
      { description: 'The cluster the user lives on.', ...immutable('clusterRef') },
    ),
    authentication: Type.Object(
      {
        type: Type.Union([Type.Literal('scram-sha-512'), Type.Literal('tls')], {
          description: 'scram-sha-512: a password (principal User:<name>); tls: a client certificate from the clients CA (principal User:CN=<name>).',
          ...immutable('authentication.type'),
        }),
        password: Type.Optional(
          Type.Object(
            {
              valueFrom: Type.Object(
                {
                  secretKeyRef: Type.Object(
                    {
                      name: Type.String({ minLength: 1, description: 'Secret in this namespace.' }),
                      key: Type.String({ minLength: 1, description: 'Key of the password in it.' }),
                    },
                    { description: 'The Secret key that holds the password.' },
                  ),
                },
                { description: 'Where the password comes from.' },
              ),
            },
            { description: 'A password of your own (scram-sha-512 only); a random 32-character one is generated when absent.' },
          ),
        ),
      },
      {
        description: 'How the user authenticates.',
        'x-kubernetes-validations': [{ rule: "self.type == 'scram-sha-512' || !has(self.password)", message: 'authentication.password is only for type scram-sha-512' }],
      },
    ),
    authorization: Type.Optional(
      Type.Object(
        { acls: Type.Array(AclRule, { maxItems: 500, description: "The user's ACLs; the operator keeps the broker's ACLs of this principal equal to this list." }) },
        { description: 'What the user may do (with the cluster\'s authorizer on).' },
      ),
    ),
    quotas: Type.Optional(
      Type.Object(
        {
          producerByteRate: Type.Optional(Type.Integer({ minimum: 0, description: 'Bytes per second the user may produce, per broker (producer_byte_rate).' })),
          consumerByteRate: Type.Optional(Type.Integer({ minimum: 0, description: 'Bytes per second the user may fetch, per broker (consumer_byte_rate).' })),
          requestPercentage: Type.Optional(Type.Integer({ minimum: 0, description: "Percentage of a broker's request handler and network threads' time the user may take (request_percentage)." })),
        },
        { description: 'Client quotas of the user; those not given are removed.' },
      ),
    ),
  },
  { description: 'Desired state of a Kafka user.' },
);
export type KafkaUserSpec = Static<typeof KafkaUserSpec>;

export const KafkaUserStatus = Type.Object(
  {
    ...statusCommon,
    username: Type.Optional(Type.String({ description: 'The Kafka principal name: the resource name (scram-sha-512) or CN=<name> (tls).' })),
    secret: Type.Optional(Type.String({ description: 'The Secret with what a client needs to connect as this user.' })),
  },
  { description: 'Observed state of the user.' },
);
export type KafkaUserStatus = Static<typeof KafkaUserStatus>;

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface KafkaCluster {
  apiVersion: typeof API_VERSION;
  kind: 'KafkaCluster';
  metadata: ObjectMeta;
  spec: KafkaClusterSpec;
  status?: KafkaClusterStatus;
}

export interface KafkaTopic {
  apiVersion: typeof API_VERSION;
  kind: 'KafkaTopic';
  metadata: ObjectMeta;
  spec: KafkaTopicSpec;
  status?: KafkaTopicStatus;
}

export interface KafkaUser {
  apiVersion: typeof API_VERSION;
  kind: 'KafkaUser';
  metadata: ObjectMeta;
  spec: KafkaUserSpec;
  status?: KafkaUserStatus;
}

interface CrdDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: ReturnType<typeof Type.Object>;
  status: ReturnType<typeof Type.Object>;
  printerColumns: Array<{ name: string; type: string; jsonPath: string; description: string; priority?: number }>;
}

export const crdDefinitions: CrdDefinition[] = [
  {
    kind: 'KafkaCluster',
    plural: 'kafkaclusters',
    singular: 'kafkacluster',
    shortNames: ['kc', 'samsa'],
    description: 'A cluster of Samsa brokers: a StatefulSet on persistent volumes that Kafka clients use.',
    spec: KafkaClusterSpec,
    status: KafkaClusterStatus,
    printerColumns: [
      { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas', description: 'Desired brokers.' },
      { name: 'Ready', type: 'integer', jsonPath: '.status.readyReplicas', description: 'Ready brokers.' },
      { name: 'Status', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].reason", description: 'Why the cluster is or is not ready.' },
      { name: 'Operation', type: 'string', jsonPath: '.status.operation.type', description: 'The operation in flight (rolling restart, partition moves).' },
      { name: 'Progress', type: 'string', jsonPath: '.status.operation.progress', description: 'What the operation has done and has left.' },
      { name: 'Version', type: 'string', jsonPath: '.status.version', description: 'Samsa version the brokers report.' },
      { name: 'Bootstrap', type: 'string', jsonPath: '.status.bootstrap', description: 'Bootstrap address.' },
    ],
  },
  {
    kind: 'KafkaTopic',
    plural: 'kafkatopics',
    singular: 'kafkatopic',
    shortNames: ['kt'],
    description: 'A topic on a KafkaCluster.',
    spec: KafkaTopicSpec,
    status: KafkaTopicStatus,
    printerColumns: [
      { name: 'Cluster', type: 'string', jsonPath: '.spec.clusterRef.name', description: 'The KafkaCluster.' },
      { name: 'Partitions', type: 'integer', jsonPath: '.spec.partitions', description: 'Partitions.' },
      { name: 'Replication', type: 'integer', jsonPath: '.spec.replicationFactor', description: 'Replication factor.' },
      { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status", description: 'Whether the topic is in Kafka as specified.' },
    ],
  },
  {
    kind: 'KafkaUser',
    plural: 'kafkausers',
    singular: 'kafkauser',
    shortNames: ['ku'],
    description: 'A user of a KafkaCluster: credentials (SCRAM-SHA-512 password or client certificate) in a Secret, ACLs and quotas.',
    spec: KafkaUserSpec,
    status: KafkaUserStatus,
    printerColumns: [
      { name: 'Cluster', type: 'string', jsonPath: '.spec.clusterRef.name', description: 'The KafkaCluster.' },
      { name: 'Authentication', type: 'string', jsonPath: '.spec.authentication.type', description: 'scram-sha-512 or tls.' },
      { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status", description: 'Whether credentials, ACLs and quotas are in Kafka as specified.' },
      { name: 'Reason', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].reason", description: 'Why the user is or is not ready.', priority: 1 },
      { name: 'Secret', type: 'string', jsonPath: '.status.secret', description: 'The Secret a client connects with.', priority: 1 },
    ],
  },
];
