#!/bin/sh
# npm start: a single-node broker with the embedded file metadata store. Arguments pass through
# (npm start -- --port 19092 --data-dir /tmp/x --config log.retention.ms=60000).
set -e
. "$(dirname "$0")/prepare.sh"
exec node dist/broker/main.js "$@"
