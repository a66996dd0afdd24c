# `nix develop`: every tool the README and the justfile call that nixpkgs has (each name has evidence in
# nix/check/evidence.toml), plus the checks' build inputs (Rust toolchain, protoc, cmake) through
# crane's devShell. Docker itself is a host daemon: `just doctor`. The Python tools nixpkgs lacks come
# from scripts/python-tools.txt into .venv/ (the shell's message says the command).
{
  pkgs,
  craneLib,
  checks,
}:
let
  # The packages by what they are for; each group is one list, so a tool is added or swapped in one line.
  kindLab = with pkgs; [
    kind
    kubectl
    kustomize
    skopeo
    k9s
  ];
  # the entry point and small tools the recipes and docs use
  small = with pkgs; [
    just
    jq
    yq-go
    grpcurl
    kcat
  ];
  # build and test: protoc (+ well-known types), librdkafka's cmake build, the test backends
  buildAndTest = with pkgs; [
    protobuf
    cmake
    pkg-config
    postgresql
    redis
    # the Kafka broker: scripts/kafka-fetch.sh fetches its jars (the kind lab's version) with Maven, Java runs them
    jdk17_headless
    maven
    cargo-nextest
    cargo-deny
  ];
  # the manifest tests (promtool; setpriv/unshare run each container as its UID), the wire test and
  # `just wire` (tshark on lo, ss), the dashboards' generator (grafana/package.json), the benchmarks
  labTests = with pkgs; [
    prometheus
    util-linux
    wireshark-cli
    iproute2
    nodejs
    oha
    wrk
  ];
  # the lints .ci/run applies to the workflows; python3 runs scripts/ and makes .venv/
  lintsAndScripts = with pkgs; [
    actionlint
    zizmor
    python3
  ];
in
craneLib.devShell {
  inherit checks;
  packages = kindLab ++ small ++ buildAndTest ++ labTests ++ lintsAndScripts;
  # Schemathesis (`just fuzz`) is not in nixpkgs 26.05 (its PR is open) and grpcio is pinned with it:
  # both come from PyPI into .venv/, which goes first on PATH once made.
  shellHook = ''
    if [ -x .venv/bin/st ]; then
      export PATH="$PWD/.venv/bin:$PATH"
    else
      echo "mop: Schemathesis and grpcio (just fuzz, just grpc-generic) are not in nixpkgs; install them once with:"
      echo "  python3 -m venv .venv && .venv/bin/pip install -r scripts/python-tools.txt"
    fi
  '';
}
