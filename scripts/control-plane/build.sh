#!/bin/sh
# Builds a local Kubernetes control plane from Go modules (no Docker, no downloads of release
# binaries): kube-apiserver and kube-controller-manager of one pinned Kubernetes release, etcd,
# and helm. Binaries are cached in .cache/control-plane/bin; a second run does nothing.
set -e
KUBERNETES_VERSION=1.36.3
ETCD_VERSION=3.6.16
HELM_VERSION=3.19.5

root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/.cache/control-plane"
bin="$cache/bin"
stamp="$bin/.built-$KUBERNETES_VERSION-$ETCD_VERSION-$HELM_VERSION"
[ -f "$stamp" ] && exit 0
command -v go >/dev/null 2>&1 || { echo "building the control plane needs Go (apt-get install golang, or the Go toolchain)" >&2; exit 1; }
mkdir -p "$bin" "$cache/k8s" "$cache/etcd"

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with local paths
# that only exist in its own repository: a module that depends on it replaces each of them with
# the matching published version.
staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming"
{
  echo "module samsa.dev/control-plane"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes v$KUBERNETES_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	k8s.io/$m => k8s.io/$m v0.${KUBERNETES_VERSION#1.}"; done
  echo ")"
} > "$cache/k8s/go.mod"
cd "$cache/k8s"
echo "control plane: resolving Kubernetes v$KUBERNETES_VERSION modules" >&2
go get "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@v$KUBERNETES_VERSION" >&2
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $pkg.gitVersion=v$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$(echo $KUBERNETES_VERSION | cut -d. -f2)"
done
echo "control plane: building kube-apiserver and kube-controller-manager" >&2
go build -trimpath -ldflags "$ldflags" -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager

cd "$cache/etcd"
[ -f go.mod ] || go mod init samsa.dev/etcd >/dev/null 2>&1
echo "control plane: building etcd v$ETCD_VERSION" >&2
go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
go build -trimpath -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3

echo "control plane: building helm v$HELM_VERSION" >&2
GOBIN="$bin" go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
touch "$stamp"
ls -la "$bin" >&2
