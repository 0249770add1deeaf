// The broker's version: the package's, from the package.json above this module (the repository
// root from the sources and from dist/ alike, /app in the image).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function packageVersion(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${import.meta.dirname}`);
  }
}

export const BROKER_VERSION = packageVersion();
