#!/usr/bin/env bash
# Fetches the Apache Kafka broker (the version of the kind lab's image, read from
# kustomize/components/backends/kafka-statefulset.yaml) from Maven Central into the cache outside the
# repository, once, and prints that folder: `libs/` (the jars) and `format/` (meta.properties and
# bootstrap.checkpoint of a formatted KRaft log directory, copied into every new broker's data folder
# so no broker start pays for a second JVM). testkit calls it before starting a broker; install-deps.sh
# and `just kafka-fetch` call it to fill the cache ahead of time. Needs Java 17+ (`$JAVA` or
# `java`), Maven and flock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/kustomize/components/backends/kafka-statefulset.yaml"
version="$(sed -n 's|^ *image: *apache/kafka:\([0-9][0-9.]*\) *$|\1|p' "$manifest")"
[ -n "$version" ] || { echo "kafka-fetch: no \`image: apache/kafka:<version>\` line in $manifest" >&2; exit 1; }
cache="${MOP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mop}/kafka"
dir="$cache/$version"
if [ -f "$dir/.complete" ]; then
  echo "$dir"
  exit 0
fi
java="${JAVA:-java}" # testkit passes the Java it checked (JAVA_HOME's or PATH's)
for tool in "$java" mvn flock; do
  command -v "$tool" >/dev/null || {
    echo "kafka-fetch: \`$tool\` not found: install it (Debian: apt-get install openjdk-17-jre-headless maven util-linux), or run scripts/install-deps.sh" >&2
    exit 1
  }
done
mkdir -p "$dir"
# One fetch at a time (test binaries may start brokers in parallel); whoever waited finds it done.
exec 9>"$dir/.lock"
flock 9
if [ ! -f "$dir/.complete" ]; then
  echo "kafka-fetch: fetching Apache Kafka $version from Maven Central into $dir (once)" >&2
  rm -rf "$dir/libs" "$dir/format" "$dir/.tmp"
  mkdir -p "$dir/.tmp"
  # Maven's own repository stays in the cache too (shared by every version): one folder to keep.
  if ! mvn -B -q -f "$root/scripts/kafka/pom.xml" -Dmaven.repo.local="$cache/m2" \
    -Dkafka.version="$version" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dir/.tmp/libs" >"$dir/.tmp/mvn.log" 2>&1; then
    # Maven's own error, without its colour codes and its boilerplate about -e and -X.
    sed 's/\x1b\[[0-9;]*m//g' "$dir/.tmp/mvn.log" |
      grep -v '^\[ERROR\] *$\|Re-run Maven\|full stack trace\|possible solutions\|^\[ERROR\] \[Help 1\]' | tail -n 20 >&2
    rm -rf "$dir/.tmp"
    echo "kafka-fetch: Maven could not fetch org.apache.kafka:kafka_2.13:$version from Maven Central (network?); run \`just kafka-fetch\` where Maven Central is reachable, or point MOP_CACHE at a cache that has kafka/$version" >&2
    exit 1
  fi
  # The same format the image's start script runs, once per version: the kind lab's cluster id (base64 of
  # "mop-lab-kafka-01") and node 1, since every broker here is a one-node KRaft cluster (broker and
  # controller in one process).
  mkdir -p "$dir/.tmp/format"
  printf '%s\n' process.roles=broker,controller node.id=1 controller.quorum.voters=1@127.0.0.1:9093 \
    listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093 controller.listener.names=CONTROLLER \
    "log.dirs=$dir/.tmp/format" >"$dir/.tmp/format.properties"
  if ! "$java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$dir/.tmp/libs/*" kafka.tools.StorageTool \
    format -t bW9wLWxhYi1rYWZrYS0wMQ -c "$dir/.tmp/format.properties" >"$dir/.tmp/format.log" 2>&1; then
    tail -n 20 "$dir/.tmp/format.log" >&2
    rm -rf "$dir/.tmp"
    echo "kafka-fetch: formatting a KRaft log directory with Kafka $version failed (Java 17+ needed: java -version)" >&2
    exit 1
  fi
  mv "$dir/.tmp/libs" "$dir/libs"
  mv "$dir/.tmp/format" "$dir/format"
  rm -rf "$dir/.tmp"
  touch "$dir/.complete"
  echo "kafka-fetch: done ($(du -sh "$dir/libs" | cut -f1) of jars)" >&2
fi
echo "$dir"
