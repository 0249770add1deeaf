#!/bin/sh
# npm run cluster [-- options]: a local cluster of one etcd and N brokers (scripts/cluster.ts;
# npm run cluster -- --help lists the options). Builds first, as npm start does.
set -e
. "$(dirname "$0")/prepare.sh"
exec node --experimental-strip-types --no-warnings scripts/cluster.ts "$@"
