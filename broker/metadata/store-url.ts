// The --metadata flag: which cluster store a URL names, by its scheme. Each store's client (etcd3,
// @kubernetes/client-node) is loaded only when its URL is given: a broker on the embedded file
// store does not carry either on its heap, which every full garbage collection walks.
import type { MetadataStore } from './metadata-store.js';

const SCHEMES = 'etcd://host:port[,host:port...]/prefix or kubernetes://<namespace>/<name>';

/** The store a URL names: etcd, or the Kubernetes API (credentials from KUBECONFIG, else in-cluster); rejects with what is wrong with the URL. */
export async function openMetadataStore(url: string): Promise<MetadataStore> {
  if (url.startsWith('etcd:')) return (await import('./etcd-store.js')).EtcdMetadataStore.fromUrl(url);
  if (url.startsWith('kubernetes:')) return (await import('./kubernetes-store.js')).KubernetesMetadataStore.fromUrl(url);
  throw new Error(`unknown metadata store URL "${url}" (expected ${SCHEMES})`);
}
