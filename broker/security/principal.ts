// Who a connection acts as, in Kafka's form "User:<name>": ANONYMOUS on a PLAINTEXT listener (and
// on TLS without a client certificate), the certificate's distinguished name with mTLS, the SASL
// user name after SASL authentication. ACLs, quotas and logs name principals this way.

export interface KafkaPrincipal {
  /** Kafka's principal type; "User" for every principal a listener produces. */
  readonly type: 'User';
  readonly name: string;
}

export const ANONYMOUS: KafkaPrincipal = Object.freeze({ type: 'User', name: 'ANONYMOUS' });

export function userPrincipal(name: string): KafkaPrincipal {
  return { type: 'User', name };
}

/** "User:alice", as ACLs and super.users write a principal. */
export function principalString(p: KafkaPrincipal): string {
  return `${p.type}:${p.name}`;
}
