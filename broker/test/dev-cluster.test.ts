// `npm run cluster` (scripts/cluster.ts) as a user runs it: bad flags are refused with exit code 2.
// The script is run with node directly: npm run's build step is the same one every test here
// relies on.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/cluster.ts');
const NODE_ARGS = ['--experimental-strip-types', '--no-warnings', SCRIPT];

describe('npm run cluster', () => {
  it('refuses bad flags with a clear error and exit code 2', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--brokers', '0'], /^cluster: --brokers must be an integer from 1 to 100, got "0"/],
      [['--brokers', 'three'], /^cluster: --brokers must be an integer from 1 to 100, got "three"/],
      [['--bogus'], /^cluster: Unknown option '--bogus'/],
      [['--racks', 'a,,b'], /^cluster: --racks takes comma-separated rack names, got "a,,b"/],
      [['--base-port', '9644'], /^cluster: port 9644 would be used twice/],
      [['--config', 'novalue'], /^cluster: --config takes NAME=VALUE, got "novalue"/],
    ];
    for (const [args, message] of cases) {
      const run = spawnSync(process.execPath, [...NODE_ARGS, ...args], { encoding: 'utf8', timeout: 30_000 });
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe('');
    }
  });
});
