// Subscription by regular expression (KIP-848): a consumer-protocol member may subscribe to the
// topics whose whole name matches a pattern in RE2/J syntax. JavaScript's engine runs it; the
// constructs RE2 does not have (lookaround, backreferences) are refused as Kafka refuses them.
import { TRANSACTION_STATE_TOPIC } from '../transactions/transaction-log-records.js';

const NOT_IN_RE2 = [/\(\?<?[=!]/, /\\[1-9]/, /\\k</];
// Kafka's internal topics (the offsets topic named here, not imported: coordinator.ts imports this module's users).
const INTERNAL_TOPICS = new Set(['__consumer_offsets', TRANSACTION_STATE_TOPIC]);

/**
 * The pattern compiled to match whole topic names; throws an Error saying why it is not valid.
 * The empty pattern is valid (as in RE2/J) and matches no topic: a member may join subscribed to nothing.
 */
export function compileTopicRegex(source: string): RegExp {
  for (const construct of NOT_IN_RE2) if (construct.test(source)) throw new Error(`${source} uses a construct RE2/J does not support (lookaround or backreference)`);
  // RE2's named groups (?P<name>...) are JavaScript's (?<name>...).
  return new RegExp(`^(?:${source.replaceAll('(?P<', '(?<')})$`, 'u');
}

/** The topics (internal ones left out) whose whole name the pattern matches. */
export function matchingTopics(regex: RegExp, names: Iterable<string>): string[] {
  return [...names].filter((name) => !INTERNAL_TOPICS.has(name) && regex.test(name));
}
