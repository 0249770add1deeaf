// The --metadata flag: which cluster store a URL names, by its scheme.
import { EtcdMetadataStore, parseEtcdUrl } from './etcd-store.js';
import { KubernetesMetadataStore, parseKubernetesUrl } from './kubernetes-store.js';
import type { MetadataStore } from './metadata-store.js';

const SCHEMES = 'etcd://host:port[,host:port...]/prefix or kubernetes://<namespace>/<name>';

/** Checks a store URL; throws an Error saying what is wrong with it. */
export function checkMetadataUrl(url: string): void {
  if (url.startsWith('etcd:')) parseEtcdUrl(url);
  else if (url.startsWith('kubernetes:')) parseKubernetesUrl(url);
  else throw new Error(`unknown metadata store URL "${url}" (expected ${SCHEMES})`);
}

/** The store a URL names: etcd, or the Kubernetes API (credentials from KUBECONFIG, else in-cluster). */
export function openMetadataStore(url: string): MetadataStore {
  checkMetadataUrl(url);
  return url.startsWith('etcd:') ? EtcdMetadataStore.fromUrl(url) : KubernetesMetadataStore.fromUrl(url);
}
