#!/bin/sh
# npm run bench [-- options]: throughput of one broker (kcat and @platformatic/kafka).
# npm run bench:rebalance: what a consumer-group rebalance costs (both group protocols), Samsa and Apache Kafka.
# npm run bench:compare: Samsa and Apache Kafka side by side (fetches Kafka from Maven Central),
# a single broker each, then three-broker clusters (bench:cluster runs only the latter).
# npm run bench:operator: the operator's roll and scaling under an acks=all load, on a real control plane.
set -e
. "$(dirname "$0")/prepare.sh"
# SAMSA_BENCH names one or more bench/*.ts, run one after the other with the same options.
# Benchmarks that import the operator's test harness (sources with .js specifiers) run under vite-node.
for script in ${SAMSA_BENCH:-throughput}; do
  if [ "${SAMSA_BENCH_RUNNER:-node}" = vite-node ]; then
    npx vite-node "bench/$script.ts" -- "$@"
  else
    node --experimental-strip-types --no-warnings "bench/$script.ts" "$@"
  fi
done
