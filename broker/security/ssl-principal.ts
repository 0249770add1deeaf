// The principal of a client that presented a verified certificate on an SSL listener: the
// certificate's subject as an RFC 2253 distinguished name ("CN=alice,O=team-a", last RDN first),
// turned into a user name by `ssl.principal.mapping.rules` (KIP-371): a list of
// RULE:pattern/replacement/[LU] items, tried in order, the first whose pattern matches the whole
// name giving the replacement (L: lower case, U: upper case), and DEFAULT giving the name as it is.
import type { X509Certificate } from 'node:crypto';
import { ConfigError } from '../config-error.js';

type Rule = { kind: 'default' } | { kind: 'rule'; pattern: RegExp; replacement: string; caseChange: '' | 'L' | 'U' };

/** One rule per match: DEFAULT, or RULE:pattern/replacement/flags with `\` escaping `/` and `\`. */
const RULE = /\s*(?:(DEFAULT)|RULE:((?:[^/\\]|\\.)*)\/((?:[^/\\]|\\.)*)\/([LU]?))\s*(?:,|$)/y;

export function parsePrincipalMappingRules(value: string): Rule[] {
  const rules: Rule[] = [];
  const text = value.trim();
  RULE.lastIndex = 0;
  while (RULE.lastIndex < text.length) {
    const at = RULE.lastIndex;
    const m = RULE.exec(text);
    if (!m) throw new ConfigError(`ssl.principal.mapping.rules: cannot read a rule at "${text.slice(at)}" (rules are DEFAULT or RULE:pattern/replacement/[LU], separated by commas)`);
    if (m[1]) {
      rules.push({ kind: 'default' });
      continue;
    }
    let pattern: RegExp;
    try {
      pattern = new RegExp(m[2]!);
    } catch (err) {
      throw new ConfigError(`ssl.principal.mapping.rules: bad pattern "${m[2]}": ${(err as Error).message}`);
    }
    // Java's replacement syntax: $1 for a group, \ escaping the next character.
    rules.push({ kind: 'rule', pattern, replacement: m[3]!.replace(/\\(.)/g, '$1'), caseChange: m[4] as '' | 'L' | 'U' });
  }
  if (rules.length === 0) throw new ConfigError('ssl.principal.mapping.rules names no rule (DEFAULT keeps the distinguished name)');
  return rules;
}

export class PrincipalMappingError extends Error {
  override name = 'PrincipalMappingError';
}

export class SslPrincipalMapper {
  private readonly rules: Rule[];

  constructor(rules: string) {
    this.rules = parsePrincipalMappingRules(rules);
  }

  /** The user name for a distinguished name; PrincipalMappingError when no rule applies. */
  name(dn: string): string {
    for (const rule of this.rules) {
      if (rule.kind === 'default') return dn;
      const whole = new RegExp(`^(?:${rule.pattern.source})$`);
      if (!whole.test(dn)) continue;
      const name = dn.replace(new RegExp(rule.pattern.source, 'g'), rule.replacement);
      return rule.caseChange === 'L' ? name.toLowerCase() : rule.caseChange === 'U' ? name.toUpperCase() : name;
    }
    throw new PrincipalMappingError(`no rule of ssl.principal.mapping.rules applies to "${dn}"`);
  }
}

/**
 * The subject as RFC 2253 writes it, as Java's X500Principal.getName() gives it: RDNs in reverse
 * order, comma-separated. Node prints the subject one RDN per line, first RDN first, with values
 * already escaped as RFC 2253 asks.
 */
export function subjectDistinguishedName(cert: X509Certificate): string {
  return cert.subject.split('\n').filter(Boolean).reverse().join(',');
}
