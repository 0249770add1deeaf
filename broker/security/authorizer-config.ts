// The authorizer's settings, by Kafka's names and defaults. They are read at start-up.
import { type ConfigDef, ConfigError } from '../config.js';
import { STANDARD_AUTHORIZER } from './authorizer.js';

export const authorizerConfigDefs: readonly ConfigDef[] = [
  {
    name: 'authorizer.class.name',
    type: 'string',
    default: '',
    check: (value) => {
      if (value !== '' && value !== STANDARD_AUTHORIZER) throw new ConfigError(`authorizer.class.name must be empty (no authorization) or ${STANDARD_AUTHORIZER}, got "${value}"`);
    },
    doc: `${STANDARD_AUTHORIZER} turns ACLs on: every request is checked against them. Empty: no authorization (every client may do everything) and the ACL APIs answer SECURITY_DISABLED.`,
  },
  {
    name: 'super.users',
    type: 'string',
    default: '',
    check: (value) => {
      for (const p of value.split(';').map((s) => s.trim()).filter(Boolean)) {
        if (!/^[^:]+:.+$/.test(p)) throw new ConfigError(`super.users lists principals as <type>:<name> separated by ";" (e.g. User:admin;User:broker), got "${p}"`);
      }
    },
    doc: 'Principals (e.g. User:admin;User:broker) allowed every operation whatever the ACLs say; brokers\' own principals belong here.',
  },
  { name: 'allow.everyone.if.no.acl.found', type: 'boolean', default: 'false', doc: 'Allow every principal on a resource that no ACL names (otherwise only super users may use it).' },
];
