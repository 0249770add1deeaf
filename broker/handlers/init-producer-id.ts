// InitProducerId: for idempotent producers a fresh producer id at epoch 0, as Kafka gives one
// to every producer without a transactional id; transactional ones go to their coordinator.
import type { BrokerContext, RequestContext } from '../context.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/messages/index.js';
import { handleTransactionalInitProducerId } from './transactions.js';

export async function handleInitProducerId(broker: BrokerContext, req: InitProducerIdRequest, ctx: RequestContext): Promise<InitProducerIdResponse> {
  if (req.transactionalId !== null) return handleTransactionalInitProducerId(broker, { ...req, transactionalId: req.transactionalId }, ctx);
  try {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: await broker.producerIds.allocate(), producerEpoch: 0 };
  } catch (err) {
    // Reserving a block of ids writes the metadata store; on a full disk that fails cleanly.
    if (!(err instanceof KafkaError)) throw err;
    broker.logger.error({ err }, 'cannot reserve producer ids');
    return { throttleTimeMs: 0, errorCode: err.code, producerId: -1, producerEpoch: -1 };
  }
}
