# `nix develop`: every tool the README and the justfile call, plus the checks' build inputs (Rust
# toolchain, protoc, cmake) through crane's devShell. Docker itself is a host daemon: `just doctor`.
{
  pkgs,
  craneLib,
  checks,
}:
craneLib.devShell {
  inherit checks;
  packages = with pkgs; [
    # the kind lab
    kind
    kubectl
    kustomize
    skopeo
    k9s
    # the entry point and small tools the recipes and docs use
    just
    jq
    yq-go
    grpcurl
    kcat
    # build and test: protoc (+ well-known types), librdkafka's cmake build, the test backends
    protobuf
    cmake
    pkg-config
    postgresql
    redis
    tansu
    cargo-nextest
    cargo-deny
    # the manifest tests (promtool; setpriv/unshare run each container as its UID), the dashboards'
    # generator (grafana/package.json), the benchmarks (`just bench-*`)
    prometheus
    util-linux
    # the wire test and `just wire`: tshark captures on lo, ss maps connections to processes
    wireshark-cli
    iproute2
    nodejs
    oha
    wrk
    # the lints .ci/run applies to the workflows; Schemathesis (`just fuzz-catalog`) and the generic
    # gRPC client (`just grpc-generic`)
    actionlint
    zizmor
    (python3.withPackages (ps: [
      ps.schemathesis
      ps.grpcio
      ps.grpcio-reflection
      ps.grpcio-health-checking
    ]))
  ];
}
