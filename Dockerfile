# syntax=docker/dockerfile:1
# Lethe sidecar image: build the jar with Maven, run it on a JRE as a non-root user.
# Tag it lethe:0.1.0 (docker build -t lethe:0.1.0 .), the name README.md and
# client-examples/kubernetes use. It runs with a read-only root file system: it writes only to
# the store volume and /tmp (native libraries unpacked by ONNX Runtime and RocksDB; libtorch,
# about 430 MB, into /tmp/lethe-djl on the first TorchScript model: set DJL_CACHE_DIR to a
# directory on the store volume to unpack it once per volume instead).
# Base images are pinned to exact releases (glibc-based: ONNX Runtime and RocksDB ship glibc
# native libraries, so no Alpine).

FROM maven:3.9.9-eclipse-temurin-17 AS build
WORKDIR /src
# Dependencies first, so source edits reuse the cached layer.
COPY pom.xml .
RUN mvn -B -ntp -q dependency:go-offline
COPY proto proto
COPY src src
RUN mvn -B -ntp -q -DskipTests package

FROM eclipse-temurin:17.0.13_11-jre-jammy
# OpenBLAS (libblas.so.3 and liblapack.so.3) for the Fisher's Gram updates and inversions; without
# it Lethe falls back to its Java kernels (and logs which it uses at start).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 lethe \
 && useradd --system --uid 10001 --gid lethe --home-dir /var/lib/lethe --no-create-home lethe \
 && mkdir -p /var/lib/lethe \
 && chown lethe:lethe /var/lib/lethe
COPY --from=build /src/target/lethe.jar /opt/lethe/lethe.jar
LABEL org.opencontainers.image.title="lethe" org.opencontainers.image.version="0.1.0"
USER 10001:10001
# Listening beyond loopback needs tokens (and TLS, or an explicit LETHE_INSECURE=true): the
# container does not start without a token file at /run/secrets/lethe-tokens ("write <token>"
# lines; docker run -v ./tokens:/run/secrets/lethe-tokens:ro, or a Kubernetes Secret). For TLS
# also mount a certificate and key and set LETHE_TLS_CERT / LETHE_TLS_KEY; see docs/security.md.
# Memory: heap = half the container; with the default direct limit (= heap) and ~350 MiB of
# native memory this fits containers of 1.5 GiB and more (README, "Sizing").
ENV LETHE_LISTEN=0.0.0.0:50051 \
    LETHE_DATA_DIR=/var/lib/lethe \
    LETHE_TOKEN_FILE=/run/secrets/lethe-tokens \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50"
VOLUME ["/var/lib/lethe"]
EXPOSE 50051
STOPSIGNAL SIGTERM
# Exec form: the JVM is PID 1 and receives SIGTERM itself, so the graceful shutdown runs.
ENTRYPOINT ["java", "-jar", "/opt/lethe/lethe.jar"]
CMD ["serve"]
