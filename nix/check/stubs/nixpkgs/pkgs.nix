# The packages the flake names, as derivations that record their arguments and never build.
{ lib, system }:
let
  fake =
    name: args:
    derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [
        "-c"
        "echo stub nixpkgs: ${name} cannot be built; exit 1"
      ];
    }
    // {
      stubArgs = args;
    };
  tool = name: fake name { };
  tools = [
    "protobuf" "cmake" "pkg-config" "zlib" "kubectl" "kind" "kustomize" "skopeo" "k9s" "just" "jq"
    "yq-go" "grpcurl" "kcat" "postgresql" "redis" "tansu" "cargo-nextest" "cargo-deny" "actionlint"
    "zizmor" "rustc" "cargo" "clippy" "rustfmt" "prometheus" "util-linux" "nodejs" "oha" "wrk"
    "wireshark-cli" "iproute2"
  ];
  python3Packages = lib.genAttrs [
    "schemathesis"
    "grpcio"
    "grpcio-reflection"
    "grpcio-health-checking"
  ] tool;
in
lib.genAttrs tools tool
// {
  inherit lib system;
  python3 = tool "python3" // {
    withPackages = f: fake "python3-env" { packages = f python3Packages; };
  };
  runCommand =
    name: env: script:
    fake name (env // { inherit script; });
  dockerTools.streamLayeredImage =
    args:
    assert args ? name && args ? tag && args ? config;
    fake "stream-${baseNameOf args.name}" args
    // {
      imageName = args.name;
      imageTag = args.tag;
    };
}
