import { describe, expect, it } from 'vitest';
import { quantityBytes } from './volumes.js';

describe('quantityBytes', () => {
  it('reads binary and decimal suffixes and exponents as Kubernetes does', () => {
    expect(quantityBytes('10Gi')).toBe(10 * 2 ** 30);
    expect(quantityBytes('1.5Ti')).toBe(1.5 * 2 ** 40);
    expect(quantityBytes('500M')).toBe(500e6);
    expect(quantityBytes('1k')).toBe(1000);
    expect(quantityBytes('1e9')).toBe(1e9);
    expect(quantityBytes('4096')).toBe(4096);
    expect(quantityBytes('2Gi')).toBeGreaterThan(quantityBytes('2G'));
  });

  it('refuses what is not a storage quantity', () => {
    for (const bad of ['', 'Gi', '10 GB', '10gi', '-1Gi']) expect(() => quantityBytes(bad), bad).toThrow();
  });
});
