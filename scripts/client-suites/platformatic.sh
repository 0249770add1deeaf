#!/bin/sh
# @platformatic/kafka's own integration tests against one Apache Kafka 4.0 broker and one Samsa
# broker, the same selection on both (see platformatic.ts), then the tests that pass on Kafka and
# not on Samsa. A measure, not part of `npm test`: it needs the network (GitHub, npm registry,
# Maven Central for Kafka) and takes tens of minutes. Ports 9001 and 9011 must be free.
#   sh scripts/client-suites/platformatic.sh
# Settings (environment): PLATFORMATIC_KAFKA_DIR (checkout to use or create), PLATFORMATIC_KAFKA_COMMIT,
# SUITE_BROKERS ("kafka samsa", or one of them), SUITE_RESULTS (directory for <broker>.jsonl/.log).
set -e
. "$(dirname "$0")/../prepare.sh"
commit=${PLATFORMATIC_KAFKA_COMMIT:-f84b496dd6247411366791b74cd871bf6a3b944e}
dir=${PLATFORMATIC_KAFKA_DIR:-${TMPDIR:-/tmp}/samsa-client-suites/platformatic-kafka}
results=${SUITE_RESULTS:-${TMPDIR:-/tmp}/samsa-client-suites/results}
mkdir -p "$results"
if [ ! -f "$dir/package.json" ]; then
  echo "samsa: fetching platformatic/kafka at $commit into $dir" >&2
  mkdir -p "$dir"
  git -C "$dir" init -q
  git -C "$dir" fetch -q --depth 1 https://github.com/platformatic/kafka.git "$commit"
  git -C "$dir" checkout -q FETCH_HEAD
fi
if [ ! -d "$dir/node_modules" ]; then
  # No install scripts: the native modules among its dev dependencies (kerberos, rdkafka) serve
  # only tests outside the selection.
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
fi
for broker in ${SUITE_BROKERS:-kafka samsa}; do
  node --no-warnings scripts/client-suites/platformatic.ts --dir "$dir" --broker "$broker" --out "$results/$broker.jsonl" | tee "$results/$broker.log"
done
if [ -f "$results/kafka.jsonl" ] && [ -f "$results/samsa.jsonl" ]; then
  node --no-warnings scripts/client-suites/platformatic.ts --compare "$results/kafka.jsonl" "$results/samsa.jsonl" | tee "$results/compare.txt"
fi
