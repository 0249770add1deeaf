// crds/ and the chart's copy are generated from operator/crds/types.ts and must stay in step.
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdYaml, toStructural } from './generate.js';

const ROOT = resolve(import.meta.dirname, '../..');

describe('CRDs', () => {
  it.each(['crds', 'charts/samsa-operator/crds'])('%s is up to date with operator/crds/types.ts', (dir) => {
    const generated = crdYaml();
    expect(readdirSync(join(ROOT, dir)).sort()).toEqual([...generated.keys()].sort());
    for (const [file, text] of generated) expect(readFileSync(join(ROOT, dir, file), 'utf8'), `${dir}/${file} is stale: npm run generate:crds`).toBe(text);
  });

  it('are structural: every object and field has a type, maps use additionalProperties', () => {
    const visit = (schema: Record<string, unknown>, path: string): void => {
      expect(schema.type ?? schema['x-kubernetes-int-or-string'], `${path} has a type`).toBeDefined();
      expect(schema.patternProperties, `${path} has no patternProperties`).toBeUndefined();
      for (const [k, v] of Object.entries((schema.properties as Record<string, Record<string, unknown>>) ?? {})) visit(v, `${path}.${k}`);
      if (schema.additionalProperties) visit(schema.additionalProperties as Record<string, unknown>, `${path}[*]`);
      if (schema.items) visit(schema.items as Record<string, unknown>, `${path}[]`);
    };
    for (const text of crdYaml().values()) {
      const crd = parse(text) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Record<string, unknown> } }> } };
      visit(crd.spec.versions[0]!.schema.openAPIV3Schema, 'root');
    }
  });

  it('turns unions of literals into enums and keeps validation rules', () => {
    expect(toStructural({ anyOf: [{ const: 'True' }, { const: 'False' }], description: 'd' })).toEqual({ type: 'string', enum: ['True', 'False'], description: 'd' });
    // An enum's default and rules stay (an immutable enum, a defaulted one).
    expect(toStructural({ anyOf: [{ const: 'a' }, { const: 'b' }], default: 'a', 'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'm' }] })).toEqual({
      type: 'string',
      enum: ['a', 'b'],
      default: 'a',
      'x-kubernetes-validations': [{ rule: 'self == oldSelf', message: 'm' }],
    });
    const rule = [{ rule: 'self == oldSelf', message: 'immutable' }];
    expect(toStructural({ type: 'string', 'x-kubernetes-validations': rule })).toEqual({ type: 'string', 'x-kubernetes-validations': rule });
  });
});
