#!/bin/sh
# Fetches the dependencies of a Maven pom from Maven Central into a folder, once (a stamp of the
# pom's checksum says they are there). Needs a JDK and Maven: installed with apt-get when missing.
#   sh scripts/maven-deps.sh scripts/java/pom.xml .cache/java/lib     (the Java client)
#   sh scripts/maven-deps.sh scripts/kafka/pom.xml .cache/kafka/lib   (Apache Kafka and its tools)
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
pom="$root/$1"
lib="$root/$2"
stamp="$lib/.pom-$(cksum < "$pom" | cut -d' ' -f1)"
[ -f "$stamp" ] && exit 0
if ! command -v javac >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "samsa: installing a JDK and Maven" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven) >&2
fi
rm -rf "$lib"
mkdir -p "$lib"
echo "samsa: fetching $1 dependencies from Maven Central" >&2
mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
touch "$stamp"
