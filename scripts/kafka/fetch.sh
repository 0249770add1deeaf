#!/bin/sh
# Fetches the pinned Apache Kafka release of scripts/kafka/pom.xml and its dependencies from
# Maven Central into .cache/kafka/lib, once. Needs a JDK and Maven (installed when missing).
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
lib="$root/.cache/kafka/lib"
stamp="$lib/.pom-$(cksum < "$root/scripts/kafka/pom.xml" | cut -d' ' -f1)"
[ -f "$stamp" ] && exit 0
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "samsa: installing a JDK and Maven" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven) >&2
fi
rm -rf "$lib"
mkdir -p "$lib"
echo "samsa: fetching Apache Kafka from Maven Central" >&2
mvn -q -B -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
touch "$stamp"
