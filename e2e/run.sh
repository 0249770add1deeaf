#!/usr/bin/env bash
# End-to-end on a kind cluster: build the image, load it into kind, install the operator with
# Helm, apply the examples, and check that a Kafka client in the cluster can produce to and
# consume from the topic. Needs Docker; installs kind, helm and kubectl with `go install`
# (cached in .cache/e2e/bin) when they are missing. This does not run where there is no Docker.
#   bash e2e/run.sh            (KEEP=1 keeps the kind cluster afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${CLUSTER:-samsa-e2e}
IMAGE=samsa:0.1.0
bin="$PWD/.cache/e2e/bin"
mkdir -p "$bin"
export PATH="$bin:$PWD/.cache/control-plane/bin:$PATH"

command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "e2e needs a running Docker engine" >&2; exit 1; }
command -v kind >/dev/null || GOBIN="$bin" go install sigs.k8s.io/kind@v0.33.0
command -v helm >/dev/null || GOBIN="$bin" go install helm.sh/helm/v3/cmd/helm@v3.19.5
command -v kubectl >/dev/null || { echo "e2e needs kubectl on PATH" >&2; exit 1; }

docker build -t "$IMAGE" .
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
trap '[ "${KEEP:-0}" = 1 ] || kind delete cluster --name "$CLUSTER"' EXIT
kind load docker-image "$IMAGE" --name "$CLUSTER"

helm upgrade --install samsa charts/samsa-operator --namespace samsa-system --create-namespace --wait
# The example spreads brokers over zones (spec.rack): kind's node has no zone label of its own.
kubectl label node --all --overwrite topology.kubernetes.io/zone=zone-a
kubectl apply -f examples/kafka-cluster.yaml -f examples/kafka-topic.yaml
kubectl wait kafkacluster/my-cluster --for=condition=Ready --timeout=300s
kubectl wait kafkatopic/orders --for=condition=Ready --timeout=120s
kubectl get kafkaclusters,kafkatopics,statefulsets,pods

# A Kafka client inside the cluster (kcat): the brokers are one cluster, so the bootstrap Service
# reaches any of them. A producer with acks=all runs through the roll, the scale-up and the
# scale-down below; every record it was acknowledged for is read back at the end.
bootstrap="my-cluster.default.svc:9092"
kcat_run() { kubectl run "$1" --rm -i --restart=Never --image edenhill/kcat:1.7.1 --command -- sh -c "$2"; }
kcat_run e2e-produce "echo 'k:e2e' | kcat -b $bootstrap -P -t orders -K: -X acks=all && echo produced"
kcat_run e2e-consume "kcat -b $bootstrap -G e2e-group -o beginning -e -f '%k=%s\n' orders" | grep -qx 'k=e2e'
echo "e2e: produced and consumed in a group through the bootstrap Service"

# Background load: one record per 100 ms, acks=all, numbered; failures are counted by kcat's exit.
kubectl run e2e-load --restart=Never --image edenhill/kcat:1.7.1 --command -- sh -c \
  "i=0; while [ ! -f /tmp/stop ]; do echo \"load-\$i\"; i=\$((i+1)); sleep 0.1; done | kcat -b $bootstrap -P -t orders -X acks=all -X message.send.max.retries=100 -X retry.backoff.ms=200"
wait_op_done() { # waits until Ready with no operation in flight
  for _ in $(seq 1 180); do
    ready=$(kubectl get kafkacluster my-cluster -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')
    op=$(kubectl get kafkacluster my-cluster -o jsonpath='{.status.operation.type}')
    [ "$ready" = True ] && [ -z "$op" ] && return 0
    kubectl get kafkacluster my-cluster --no-headers
    sleep 5
  done
  echo "e2e: my-cluster did not settle" >&2; return 1
}

# A dynamic setting (log.retention.ms) is applied live; samsa.dev/restart rolls the brokers one at a
# time, each only when safe, the controller last.
kubectl patch kafkacluster my-cluster --type merge -p '{"spec":{"config":{"log.retention.ms":"86400000"}}}'
kubectl annotate kafkacluster my-cluster samsa.dev/restart="$(date +%s)" --overwrite
sleep 5; wait_op_done
# Scale up: partitions move onto broker 3; scale down: they move off it before it goes.
kubectl patch kafkacluster my-cluster --type merge -p '{"spec":{"replicas":4}}'
sleep 5; wait_op_done
kubectl get kafkacluster my-cluster -o jsonpath='{.status.rebalance}'; echo
kubectl patch kafkacluster my-cluster --type merge -p '{"spec":{"replicas":3}}'
sleep 5; wait_op_done
[ "$(kubectl get statefulset my-cluster -o jsonpath='{.spec.replicas}')" = 3 ]
# The replication factor of a KafkaTopic changes by reassignment.
kubectl patch kafkatopic orders --type merge -p '{"spec":{"replicationFactor":2}}'
kubectl wait kafkatopic/orders --for=jsonpath='{.status.replicationFactor}'=2 --timeout=300s

kubectl exec e2e-load -- touch /tmp/stop
kubectl wait pod/e2e-load --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s
kubectl delete pod e2e-load
count=$(kcat_run e2e-count "kcat -b $bootstrap -C -t orders -o beginning -e -q -f '%s\n'" | grep -c '^load-' || true)
echo "e2e: $count load records read back after the roll, scale-up, scale-down and replication change"
[ "$count" -gt 0 ]
kubectl delete -f examples/kafka-topic.yaml -f examples/kafka-cluster.yaml --wait
echo "e2e passed"
