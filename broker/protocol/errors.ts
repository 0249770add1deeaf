// Kafka's error codes that the broker returns (the numbers are the wire protocol's).
export const ErrorCode = {
  NONE: 0,
  UNKNOWN_SERVER_ERROR: -1,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  UNKNOWN_TOPIC_OR_PARTITION: 3,
  INVALID_FETCH_SIZE: 4,
  LEADER_NOT_AVAILABLE: 5,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  INVALID_TOPIC_EXCEPTION: 17,
  RECORD_LIST_TOO_LARGE: 18,
  NOT_ENOUGH_REPLICAS: 19,
  INVALID_REQUIRED_ACKS: 21,
  TOPIC_AUTHORIZATION_FAILED: 29,
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_VERSION: 35,
  TOPIC_ALREADY_EXISTS: 36,
  INVALID_PARTITIONS: 37,
  INVALID_REPLICATION_FACTOR: 38,
  INVALID_REPLICA_ASSIGNMENT: 39,
  INVALID_CONFIG: 40,
  INVALID_REQUEST: 42,
  POLICY_VIOLATION: 44,
  UNKNOWN_TOPIC_ID: 100,
  INVALID_RECORD: 87,
  UNKNOWN_LEADER_EPOCH: 75,
  FENCED_LEADER_EPOCH: 74,
  INCONSISTENT_TOPIC_ID: 103,
  OFFSET_NOT_AVAILABLE: 78,
  KAFKA_STORAGE_ERROR: 56,
  RESOURCE_NOT_FOUND: 91,
  TOPIC_DELETION_DISABLED: 73,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error a handler reports to the client with a Kafka error code and message. */
export class KafkaError extends Error {
  override name = 'KafkaError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
