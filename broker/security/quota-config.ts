// Settings of the client quota sensors (Kafka's names and defaults).
import type { ConfigDef } from '../config.js';

export const quotaConfigDefs: readonly ConfigDef[] = [
  { name: 'quota.window.num', type: 'int', default: '11', min: 1, doc: 'Windows a client quota rate is measured over.' },
  { name: 'quota.window.size.seconds', type: 'int', default: '1', min: 1, doc: 'Length of one client quota window.' },
];
