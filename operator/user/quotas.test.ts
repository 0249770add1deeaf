import { describe, expect, it } from 'vitest';
import { desiredQuotas, quotaOps } from './quotas.js';

describe('quotas', () => {
  it("maps Strimzi's names to Kafka's keys", () => {
    expect(desiredQuotas({ producerByteRate: 1048576, consumerByteRate: 2097152, requestPercentage: 55 })).toEqual(
      new Map([
        ['producer_byte_rate', 1048576],
        ['consumer_byte_rate', 2097152],
        ['request_percentage', 55],
      ]),
    );
    expect(desiredQuotas(undefined)).toEqual(new Map());
    expect(desiredQuotas({ consumerByteRate: 0 })).toEqual(new Map([['consumer_byte_rate', 0]]));
  });

  it('sets changed and new values, removes managed keys no longer in the spec, leaves others alone', () => {
    const current = new Map([
      ['producer_byte_rate', 1000],
      ['consumer_byte_rate', 2000],
      ['request_percentage', 10],
      ['controller_mutation_rate', 5],
    ]);
    const desired = new Map([
      ['producer_byte_rate', 1000],
      ['consumer_byte_rate', 4000],
    ]);
    expect(quotaOps(current, desired)).toEqual([
      { key: 'consumer_byte_rate', value: 4000, remove: false },
      { key: 'request_percentage', value: 0, remove: true },
    ]);
    expect(quotaOps(desired, desired)).toEqual([]);
    expect(quotaOps(new Map(), desired)).toEqual([
      { key: 'producer_byte_rate', value: 1000, remove: false },
      { key: 'consumer_byte_rate', value: 4000, remove: false },
    ]);
  });
});
