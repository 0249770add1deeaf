#!/bin/sh
# npm test: the whole suite. Installs what the tests need (kcat, a JDK, Maven and the Java
# client) when it can; a missing tool is an error, never a skipped test.
set -e
. "$(dirname "$0")/prepare.sh"
if ! command -v kcat >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "samsa: installing kcat" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat) >&2
  else
    echo "samsa: kcat is required by the tests (Debian: apt-get install kcat)" >&2
    exit 1
  fi
fi
sh "$samsa_root/scripts/maven-deps.sh" scripts/java/pom.xml .cache/java/lib
sh "$samsa_root/scripts/maven-deps.sh" scripts/kafka/pom.xml .cache/kafka/lib
sh "$samsa_root/scripts/control-plane/build.sh"
npx tsc -p tsconfig.check.json
exec npx vitest run "$@"
