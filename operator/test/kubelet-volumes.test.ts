// The test kubelet writes ConfigMap and Secret volumes as Kubernetes' atomic writer does, so a
// broker reading a file sees the old contents or the new, and a renewal reaches a running broker.
import { lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeAtomically } from './kubelet.js';

const root = mkdtempSync(join(tmpdir(), 'samsa-volume-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeAtomically', () => {
  it('swaps a ..data symlink to a new version, keeps file symlinks through it, drops removed files, and writes nothing when nothing changed', () => {
    const dir = join(root, 'certs');
    writeAtomically(dir, { 'a.pem': Buffer.from('one'), 'b.pem': Buffer.from('two') });
    expect(lstatSync(join(dir, 'a.pem')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'a.pem'))).toBe('..data/a.pem');
    expect(readFileSync(join(dir, 'a.pem'), 'utf8')).toBe('one');
    const first = readlinkSync(join(dir, '..data'));

    writeAtomically(dir, { 'a.pem': Buffer.from('one'), 'b.pem': Buffer.from('two') });
    expect(readlinkSync(join(dir, '..data'))).toBe(first);

    writeAtomically(dir, { 'a.pem': Buffer.from('renewed') });
    const second = readlinkSync(join(dir, '..data'));
    expect(second).not.toBe(first);
    expect(readFileSync(join(dir, 'a.pem'), 'utf8')).toBe('renewed');
    // The old version and the removed file are gone; only the new version, ..data and a.pem remain.
    expect(readdirSync(dir).sort()).toEqual(['..data', second, 'a.pem'].sort());
  });
});
