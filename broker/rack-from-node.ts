// broker.rack from the Kubernetes node the broker runs on: the value of one of its labels
// (topology.kubernetes.io/zone, typically). The node's name comes from the pod (NODE_NAME, from
// spec.nodeName); credentials are the pod's (in-cluster) or KUBECONFIG's.

export async function rackFromNode(label: string, nodeName: string | undefined): Promise<string> {
  if (!nodeName) throw new Error('--rack-from-node needs the node name in NODE_NAME (spec.nodeName through the downward API)');
  // Loaded only here: brokers off Kubernetes do not pay for the client at start.
  const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  config.loadFromDefault();
  let labels: Record<string, string> | undefined;
  try {
    labels = (await config.makeApiClient(CoreV1Api).readNode({ name: nodeName })).metadata?.labels;
  } catch (err) {
    throw new Error(`cannot read node ${nodeName} from the Kubernetes API: ${(err as Error).message}`);
  }
  const rack = labels?.[label];
  if (!rack) throw new Error(`node ${nodeName} has no label ${label}, so this broker has no rack`);
  return rack;
}
