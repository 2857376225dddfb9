#!/usr/bin/env bash
# Runs dev.lethe.spark.FisherJob through Spark's own launcher (org.apache.spark.deploy.SparkSubmit,
# master local[2]) with the shaded target/lethe.jar as the application jar, against a sidecar
# started from the same jar: the check that lethe.jar's classes and Spark's jars agree, which only
# spark-submit shows. Spark is Maven's spark-sql_2.13 (scope provided) and its dependencies; the
# data is the demo model's own training set (digits.csv.gz inside lethe.jar), so the job's
# Fisher (EMPIRICAL, n = 1797 = train_size) is attached to the demo model "digits"; then an
# EKFAC job on the same data replaces it.
# Needs: mvn -DskipTests package first. Exit 0 when both Fishers were attached.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=target/lethe.jar
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mvn -B -ntp -q dependency:build-classpath -Dmdep.includeScope=provided -Dmdep.outputFile="$work/cp"
(cd "$work" && jar xf "$OLDPWD/$jar" dev/lethe/demo/digits.csv.gz && mv dev/lethe/demo/digits.csv.gz .)
port=$((20000 + RANDOM % 20000))
java -jar "$jar" serve --listen "127.0.0.1:$port" --data-dir "$work/store" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
  java -jar "$jar" models --target "127.0.0.1:$port" > /dev/null 2>&1 && break
  sleep 1
done
opens="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
 --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
 --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED"
# The classpath goes in an @argfile: ONNX Runtime crashes in a JVM whose command line exceeds ~4 KiB.
echo "-cp $jar:$(cat "$work/cp")" > "$work/args"
java $opens @"$work/args" org.apache.spark.deploy.SparkSubmit --master 'local[2]' \
  --conf spark.ui.enabled=false --conf spark.driver.host=127.0.0.1 \
  --class dev.lethe.spark.FisherJob "$jar" \
  --sidecar "127.0.0.1:$port" --model digits --data "$work/digits.csv.gz" --kind EMPIRICAL
java -jar "$jar" models --target "127.0.0.1:$port" | grep -q '"fisher_id"' \
  && echo "spark-submit check: the job's Fisher is attached to digits"
# The same data as an EKFAC Fisher: pass 1 sums the dense layers' factors, the driver
# eigendecomposes them and broadcasts the bases, pass 2 sums the second moments in them.
java $opens @"$work/args" org.apache.spark.deploy.SparkSubmit --master 'local[2]' \
  --conf spark.ui.enabled=false --conf spark.driver.host=127.0.0.1 \
  --class dev.lethe.spark.FisherJob "$jar" \
  --sidecar "127.0.0.1:$port" --model digits --data "$work/digits.csv.gz" --kind EMPIRICAL \
  --structure ekfac
java -jar "$jar" models --target "127.0.0.1:$port" | grep -q '"fisher_id": *"v[0-9]*-ekfac-' \
  && echo "spark-submit check: the job's EKFAC Fisher is attached to digits"
