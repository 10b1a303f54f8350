# broker-bridge image: the daemon and its plugins on Debian bookworm-slim, as a non-root user.
# No container engine runs in CI: this file is not built there (see docs/OPERATIONS.md).
#   docker build -t broker-bridge:0.1.0 .

FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config \
        libnats-dev libyaml-cpp-dev libmsgpack-cxx-dev nlohmann-json3-dev \
        prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev libcli11-dev libfmt-dev \
        libsqlite3-dev libssl-dev libwebsockets-dev libjwt-dev libboost-test-dev \
        libev-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build --target broker-bridge bb_plugin_analytics bb_plugin_router \
    && install -D -m 755 /build/bin/broker-bridge /out/usr/bin/broker-bridge \
    && install -d /out/usr/lib/broker-bridge/plugins \
    && install -m 644 /build/plugins/*.so /out/usr/lib/broker-bridge/plugins/

FROM debian:bookworm-slim
# Runtime libraries only: the packages of the shared libraries `ldd` lists for the daemon
# and its plugins on bookworm (libstdc++6 and libcap2 come with the base image).
RUN apt-get update && apt-get install -y --no-install-recommends \
        ca-certificates libnats3.4 libprotobuf-c1 libyaml-cpp0.7 libprometheus-cpp-core1.0 \
        libcivetweb1 libfmt9 libsqlite3-0 libssl3 libwebsockets17 zlib1g \
        libev4 libwebsockets-evlib-ev \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 broker-bridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin broker-bridge \
    && install -d -o 10001 -g 10001 /var/lib/broker-bridge
COPY --from=build /out/ /
USER 10001:10001
EXPOSE 8080 9464
ENTRYPOINT ["/usr/bin/broker-bridge"]
CMD ["run", "--config", "/etc/broker-bridge/config.yaml"]
