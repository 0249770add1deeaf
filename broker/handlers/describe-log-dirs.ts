// DescribeLogDirs (kafka-log-dirs.sh): the broker's one data directory, the size of each
// partition log in it and its offset lag (Kafka's: how far the log end is behind the high
// watermark, 0 for a current log), and the file system's total and usable bytes (v4).
import { statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BrokerContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../protocol/messages/index.js';
import type { DescribeLogDirsTopic } from '../protocol/messages/describe-log-dirs-response.js';

export function handleDescribeLogDirs(broker: BrokerContext, req: DescribeLogDirsRequest): DescribeLogDirsResponse {
  const logDir = resolve(broker.logs.dataDir);
  let totalBytes = -1;
  let usableBytes = -1;
  try {
    const fs = statfsSync(logDir);
    totalBytes = fs.blocks * fs.bsize;
    usableBytes = fs.bavail * fs.bsize;
  } catch (err) {
    broker.logger.warn({ err, logDir }, 'cannot stat the log directory file system');
  }
  if (broker.logs.offline !== null) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, logDir, topics: [], totalBytes, usableBytes }] };
  }
  const wanted = req.topics === null ? null : new Map(req.topics.map((t) => [t.topic, new Set(t.partitions)]));
  const topics: DescribeLogDirsTopic[] = [];
  for (const [name, logs] of broker.logs.all()) {
    const asked = wanted?.get(name);
    if (wanted && !asked) continue;
    const partitions: DescribeLogDirsTopic['partitions'] = [];
    logs.forEach((log, partitionIndex) => {
      if (!log || (asked && !asked.has(partitionIndex))) return;
      partitions.push({ partitionIndex, partitionSize: log.size, offsetLag: Math.max(log.highWatermark - log.logEndOffset, 0), isFutureKey: false });
    });
    if (partitions.length > 0) topics.push({ name, partitions });
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, results: [{ errorCode: ErrorCode.NONE, logDir, topics, totalBytes, usableBytes }] };
}
