// Where the leaders a client was sent away to are (KIP-951): Produce and Fetch v10+/v16+ carry
// their endpoints, so a client redirected by NOT_LEADER_OR_FOLLOWER needs no Metadata round trip.
import type { BrokerContext, BrokerNode } from '../context.js';

/** The live brokers among `leaderIds`, as clients of `listener` (the request's) reach them. */
export function leaderEndpoints(broker: BrokerContext, leaderIds: Iterable<number>, listener: string): BrokerNode[] {
  const out: BrokerNode[] = [];
  for (const id of leaderIds) {
    const b = broker.broker(id, listener);
    if (b) out.push(b);
  }
  return out;
}
