#!/bin/sh
# Fetches the Java libraries of scripts/java/pom.xml from Maven Central into .cache/java/lib
# (once; later runs reuse them). Needs a JDK and Maven: installed with apt-get when missing.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
lib="$root/.cache/java/lib"
stamp="$lib/.pom-$(cksum < "$root/scripts/java/pom.xml" | cut -d' ' -f1)"
[ -f "$stamp" ] && exit 0
if ! command -v javac >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "samsa: installing a JDK and Maven" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven) >&2
fi
rm -rf "$lib"
mkdir -p "$lib"
mvn -q -B -f "$root/scripts/java/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" >&2
touch "$stamp"
