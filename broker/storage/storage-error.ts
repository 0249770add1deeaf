// A failed read or write of the log directory, as clients see it: KAFKA_STORAGE_ERROR.
import { ErrorCode, KafkaError } from '../protocol/errors.js';

export class KafkaStorageError extends KafkaError {
  override name = 'KafkaStorageError';
  constructor(message: string, cause?: unknown) {
    super(ErrorCode.KAFKA_STORAGE_ERROR, message);
    if (cause !== undefined) this.cause = cause;
  }
}

/** "ENOSPC: no space left on device, write" for a Node fs error, the message otherwise. */
export function describeIoError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
