#!/bin/sh
# npm run bench: throughput of one broker on this machine (kcat and @platformatic/kafka).
set -e
. "$(dirname "$0")/prepare.sh"
exec node --experimental-strip-types --no-warnings bench/throughput.ts "$@"
