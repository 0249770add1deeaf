// Checks the generated codecs against Apache Kafka's message specifications:
// - regenerating from the specs gives exactly the committed files (no stale codecs);
// - for every message and every valid version, a reference encoder that interprets the JSON
//   spec directly (written independently of the generator) produces the same bytes as the
//   generated writer, and the generated reader decodes them back to the same value.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SPEC_DIR = resolve(ROOT, '../shared/kafka-message-specs');
/** Kafka 4.0's specifications of the messages served past SPEC_DIR's versions; they replace SPEC_DIR's. */
const NEWER_SPEC_DIR = join(ROOT, 'scripts/kafka-4.0-message-specs');
const GENERATED_DIR = join(ROOT, 'broker/protocol/messages');

interface FieldSpec {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number | string;
  flexibleVersions?: string;
  default?: string | number | boolean;
  fields?: FieldSpec[];
}

interface MessageSpec {
  name: string;
  type: string;
  validVersions: string;
  flexibleVersions: string;
  fields: FieldSpec[];
  commonStructs?: Array<{ name: string; fields: FieldSpec[] }>;
}

function loadSpecs(): MessageSpec[] {
  if (!existsSync(SPEC_DIR)) throw new Error(`Kafka message specs not found at ${SPEC_DIR}; CI keeps shared/ beside the repository`);
  const newer = new Set(readdirSync(NEWER_SPEC_DIR));
  return readdirSync(SPEC_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      const text = readFileSync(join(newer.has(f) ? NEWER_SPEC_DIR : SPEC_DIR, f), 'utf8')
        .split('\n')
        .map((line) => (line.trim().startsWith('//') ? '' : line.replace(/\s\/\/[^"]*$/, '')))
        .join('\n');
      return JSON.parse(text) as MessageSpec;
    });
}

/** Whether `version` is in a range like "3+", "0-2", "5" or "none". */
function inRange(range: string | undefined, version: number): boolean {
  if (range === undefined || range === 'none') return false;
  if (range.endsWith('+')) return version >= Number(range.slice(0, -1));
  const [lo, hi] = range.split('-').map(Number);
  return hi === undefined ? version === lo : version >= lo! && version <= hi;
}

function versionList(range: string): number[] {
  const [lo, hi] = range.split('-').map(Number);
  const out: number[] = [];
  for (let v = lo!; v <= (hi ?? lo!); v++) out.push(v);
  return out;
}

const camel = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

// ---- deterministic random values -----------------------------------------------------------

let seed = 1;
function rand(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

class Schema {
  readonly structs = new Map<string, FieldSpec[]>();
  constructor(readonly spec: MessageSpec) {
    for (const c of spec.commonStructs ?? []) this.add(c.name, c.fields);
    this.add(spec.name, spec.fields);
  }
  private add(name: string, fields: FieldSpec[]): void {
    this.structs.set(name, fields);
    for (const f of fields) if (f.fields) this.add(f.type.replace('[]', ''), f.fields);
  }
  flexible(version: number): boolean {
    return inRange(this.spec.flexibleVersions, version);
  }
}

function elementType(f: FieldSpec): string {
  return f.type.startsWith('[]') ? f.type.slice(2) : f.type;
}

function isNullableSomewhere(f: FieldSpec): boolean {
  return f.nullableVersions !== undefined && f.nullableVersions !== 'none';
}

function defaultOf(schema: Schema, f: FieldSpec): unknown {
  const t = elementType(f);
  const nullDefault = f.default === 'null' && isNullableSomewhere(f);
  if (f.type.startsWith('[]')) return nullDefault ? null : [];
  if (schema.structs.has(t)) return nullDefault ? null : defaultStruct(schema, t);
  if (nullDefault) return null;
  switch (t) {
    case 'bool':
      return f.default === true || f.default === 'true';
    case 'string':
      return f.default === undefined ? '' : String(f.default);
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA';
    case 'bytes':
    case 'records':
      return isNullableSomewhere(f) ? null : Buffer.alloc(0);
    default:
      return f.default === undefined ? 0 : Number(f.default);
  }
}

function defaultStruct(schema: Schema, name: string): Record<string, unknown> {
  return Object.fromEntries(schema.structs.get(name)!.map((f) => [camel(f.name), defaultOf(schema, f)]));
}

function randomPrimitive(t: string): unknown {
  switch (t) {
    case 'bool':
      return rand() < 0.5;
    case 'int8':
      return randInt(-128, 127);
    case 'int16':
      return randInt(-32768, 32767);
    case 'uint16':
      return randInt(0, 65535);
    case 'int32':
      return randInt(-2147483648, 2147483647);
    case 'uint32':
      return randInt(0, 4294967295);
    case 'int64':
      return randInt(-(2 ** 52), 2 ** 52);
    case 'float64':
      return (rand() - 0.5) * 1e6;
    case 'string':
      return ['', 'topic-a', 'ünïcødé', 'x'.repeat(randInt(0, 40))][randInt(0, 3)]!;
    case 'uuid':
      return Buffer.from(Array.from({ length: 16 }, () => randInt(0, 255))).toString('base64url');
    default:
      return Buffer.from(Array.from({ length: randInt(0, 24) }, () => randInt(0, 255)));
  }
}

function randomValue(schema: Schema, f: FieldSpec, version: number, depth: number): unknown {
  if (!inRange(f.versions, version)) return defaultOf(schema, f);
  if (inRange(f.nullableVersions, version) && rand() < 0.25) return null;
  const t = elementType(f);
  const one = () => (schema.structs.has(t) ? randomStruct(schema, t, version, depth + 1) : randomPrimitive(t));
  if (f.type.startsWith('[]')) return depth > 3 ? [] : Array.from({ length: randInt(0, 3) }, one);
  return one();
}

function randomStruct(schema: Schema, name: string, version: number, depth: number): Record<string, unknown> {
  return Object.fromEntries(schema.structs.get(name)!.map((f) => [camel(f.name), randomValue(schema, f, version, depth)]));
}

// ---- the reference encoder ------------------------------------------------------------------

class Bytes {
  readonly out: number[] = [];
  push(...b: number[]) {
    this.out.push(...b);
  }
  buf(b: Buffer) {
    for (const x of b) this.out.push(x);
  }
  fixed(v: number | bigint, size: number, write: (b: Buffer) => void) {
    const b = Buffer.alloc(size);
    write(b);
    this.buf(b);
    void v;
  }
  uvarint(v: number) {
    while (v >= 0x80) {
      this.out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.out.push(v);
  }
}

function writePrimitive(o: Bytes, t: string, v: unknown, compact: boolean): void {
  switch (t) {
    case 'bool':
      return o.push(v ? 1 : 0);
    case 'int8':
      return o.fixed(0, 1, (b) => b.writeInt8(v as number));
    case 'int16':
      return o.fixed(0, 2, (b) => b.writeInt16BE(v as number));
    case 'uint16':
      return o.fixed(0, 2, (b) => b.writeUInt16BE(v as number));
    case 'int32':
      return o.fixed(0, 4, (b) => b.writeInt32BE(v as number));
    case 'uint32':
      return o.fixed(0, 4, (b) => b.writeUInt32BE(v as number));
    case 'int64':
      return o.fixed(0, 8, (b) => b.writeBigInt64BE(BigInt(v as number)));
    case 'float64':
      return o.fixed(0, 8, (b) => b.writeDoubleBE(v as number));
    case 'uuid':
      return o.buf(Buffer.from(v as string, 'base64url'));
    case 'string': {
      if (v === null) return compact ? o.uvarint(0) : o.fixed(0, 2, (b) => b.writeInt16BE(-1));
      const bytes = Buffer.from(v as string, 'utf8');
      if (compact) o.uvarint(bytes.length + 1);
      else o.fixed(0, 2, (b) => b.writeInt16BE(bytes.length));
      return o.buf(bytes);
    }
    default: {
      if (v === null) return compact ? o.uvarint(0) : o.fixed(0, 4, (b) => b.writeInt32BE(-1));
      const bytes = v as Buffer;
      if (compact) o.uvarint(bytes.length + 1);
      else o.fixed(0, 4, (b) => b.writeInt32BE(bytes.length));
      return o.buf(bytes);
    }
  }
}

function writeField(o: Bytes, schema: Schema, f: FieldSpec, v: unknown, version: number): void {
  const t = elementType(f);
  const compact = f.flexibleVersions !== undefined ? inRange(f.flexibleVersions, version) : schema.flexible(version);
  const isStruct = schema.structs.has(t);
  if (f.type.startsWith('[]')) {
    if (v === null) return compact ? o.uvarint(0) : o.fixed(0, 4, (b) => b.writeInt32BE(-1));
    const items = v as unknown[];
    if (compact) o.uvarint(items.length + 1);
    else o.fixed(0, 4, (b) => b.writeInt32BE(items.length));
    for (const item of items) isStruct ? writeStruct(o, schema, t, item as Record<string, unknown>, version) : writePrimitive(o, t, item, compact);
    return;
  }
  if (isStruct) {
    if (isNullableSomewhere(f)) {
      if (v === null) return o.push(0xff);
      o.push(1);
    }
    return writeStruct(o, schema, t, v as Record<string, unknown>, version);
  }
  writePrimitive(o, t, v, compact);
}

function writeStruct(o: Bytes, schema: Schema, name: string, value: Record<string, unknown>, version: number): void {
  const fields = schema.structs.get(name)!;
  const tagged: Array<[number, number[]]> = [];
  for (const f of fields) {
    if (!inRange(f.versions, version)) continue;
    const v = value[camel(f.name)];
    if (f.taggedVersions !== undefined) {
      if (!schema.flexible(version) || !inRange(f.taggedVersions, version)) continue;
      if (JSON.stringify(v) === JSON.stringify(defaultOf(schema, f))) continue;
      const sub = new Bytes();
      writeField(sub, schema, f, v, version);
      tagged.push([Number(f.tag), sub.out]);
      continue;
    }
    writeField(o, schema, f, v, version);
  }
  if (schema.flexible(version)) {
    tagged.sort((a, b) => a[0] - b[0]);
    o.uvarint(tagged.length);
    for (const [tag, bytes] of tagged) {
      o.uvarint(tag);
      o.uvarint(bytes.length);
      o.push(...bytes);
    }
  }
}

// ---- the tests ---------------------------------------------------------------------------------

const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();

describe('generated protocol codecs', () => {
  const specs = loadSpecs();

  it('are up to date with the specifications', () => {
    const out = mkdtempSync(join(tmpdir(), 'samsa-gen-'));
    try {
      execFileSync(process.execPath, [join(ROOT, 'scripts/generate-protocol.mjs'), SPEC_DIR, out], { stdio: 'pipe' });
      const generated = readdirSync(out).sort();
      expect(generated).toEqual(readdirSync(GENERATED_DIR).sort());
      for (const file of generated) {
        expect(readFileSync(join(GENERATED_DIR, file), 'utf8'), `${file} is stale: run npm run generate:protocol`).toBe(readFileSync(join(out, file), 'utf8'));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('cover every message in the specifications', () => {
    expect(specs.length).toBeGreaterThan(150);
    for (const spec of specs) expect(existsSync(join(GENERATED_DIR, `${kebab(spec.name)}.ts`)), spec.name).toBe(true);
  });

  it.each(specs.map((s) => [s.name, s] as const))('%s: every version encodes like the spec says and decodes back', async (name, spec) => {
    const mod = (await import(/* @vite-ignore */ pathToFileURL(join(GENERATED_DIR, `${kebab(name)}.ts`)).href)) as Record<string, unknown>;
    const write = mod[`write${name}`] as (w: Writer, v: unknown, version: number) => void;
    const read = mod[`read${name}`] as (r: Reader, version: number) => unknown;
    const schema = new Schema(spec);
    for (const version of versionList(spec.validVersions)) {
      for (let sample = 0; sample < 4; sample++) {
        seed = version * 7919 + sample * 104729 + name.length;
        const value = sample === 0 ? defaultStruct(schema, name) : randomStruct(schema, name, version, 0);
        const expected = new Bytes();
        writeStruct(expected, schema, name, value, version);
        const w = new Writer(16);
        write(w, value, version);
        const bytes = w.toBuffer();
        expect([...bytes], `${name} v${version} sample ${sample} bytes`).toEqual(expected.out);
        const r = new Reader(bytes);
        expect(read(r, version), `${name} v${version} sample ${sample} decoded`).toEqual(value);
        expect(r.remaining, `${name} v${version} leaves no bytes`).toBe(0);
      }
    }
  });
});
