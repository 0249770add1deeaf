#!/bin/sh
# npm run bench [-- options]: throughput of one broker (kcat and @platformatic/kafka).
# npm run bench:rebalance: what a three-member consumer-group rebalance costs.
# npm run bench:compare: Samsa and Apache Kafka side by side (fetches Kafka from Maven Central),
# a single broker each, then three-broker clusters (bench:cluster runs only the latter).
set -e
. "$(dirname "$0")/prepare.sh"
# SAMSA_BENCH names one or more bench/*.ts, run one after the other with the same options.
for script in ${SAMSA_BENCH:-throughput}; do
  node --experimental-strip-types --no-warnings "bench/$script.ts" "$@"
done
