// A consumer's Fetch v12 request for one partition, as tests that speak the protocol send it.
import type { FetchRequest } from '../protocol/messages/index.js';

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

export interface ConsumerFetchOptions {
  partition?: number;
  fetchOffset?: number;
  maxWaitMs?: number;
  minBytes?: number;
  /** Both the response and the partition limit. */
  maxBytes?: number;
  /** 0 read_uncommitted (the default), 1 read_committed. */
  isolationLevel?: number;
}

export function consumerFetch(topic: string, options: ConsumerFetchOptions = {}): FetchRequest {
  const maxBytes = options.maxBytes ?? 1 << 20;
  return {
    clusterId: null,
    replicaId: -1,
    replicaState: { replicaId: -1, replicaEpoch: -1 },
    maxWaitMs: options.maxWaitMs ?? 0,
    minBytes: options.minBytes ?? 0,
    maxBytes,
    isolationLevel: options.isolationLevel ?? 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        topicId: ZERO_UUID,
        partitions: [
          { partition: options.partition ?? 0, currentLeaderEpoch: -1, fetchOffset: options.fetchOffset ?? 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: maxBytes, replicaDirectoryId: ZERO_UUID },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}
