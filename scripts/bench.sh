#!/bin/sh
# npm run bench [-- options]: throughput of one broker (kcat and @platformatic/kafka).
# npm run bench:rebalance: what a three-member consumer-group rebalance costs.
# npm run bench:compare: Samsa and Apache Kafka side by side (fetches Kafka from Maven Central).
set -e
. "$(dirname "$0")/prepare.sh"
script=${SAMSA_BENCH:-throughput}
exec node --experimental-strip-types --no-warnings "bench/$script.ts" "$@"
