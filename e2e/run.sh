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

# A Kafka client inside the cluster (kcat). Brokers do not share metadata yet: each is a cluster
# of its own, so clients use the broker that holds the topic (status.brokerId), not the
# bootstrap Service, which picks any broker.
broker=$(kubectl get kafkatopic orders -o jsonpath='{.status.brokerId}')
address="my-cluster-$broker.my-cluster-brokers.default.svc:9092"
kubectl run e2e-produce --rm -i --restart=Never --image edenhill/kcat:1.7.1 --command -- \
  sh -c "echo 'k:e2e' | kcat -b $address -P -t orders -K: && echo produced"
# A consumer group reads it back (committed offsets live in that broker's __consumer_offsets).
kubectl run e2e-consume --rm -i --restart=Never --image edenhill/kcat:1.7.1 --command -- \
  kcat -b "$address" -G e2e-group -o beginning -e -f '%k=%s\n' orders | grep -qx 'k=e2e'
echo "e2e: produced and consumed in a group on broker $broker"

# A dynamic setting (log.retention.ms) is applied live; a read-only one rolls the pods one at a
# time, and the cluster comes back Ready.
kubectl patch kafkacluster my-cluster --type merge -p '{"spec":{"config":{"log.retention.ms":"86400000","num.partitions":"6"}}}'
sleep 5
kubectl wait kafkacluster/my-cluster --for=condition=Ready --timeout=600s
kubectl delete -f examples/kafka-topic.yaml -f examples/kafka-cluster.yaml --wait
echo "e2e passed"
