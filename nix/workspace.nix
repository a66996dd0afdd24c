# The Cargo workspace under crane: one source fileset, one commonArgs, one buildDepsOnly, and a
# function that makes a package per binary (crane's quick-start-workspace model, no copy per service).
{
  pkgs,
  craneLib,
  advisory-db,
  root,
}:
let
  inherit (pkgs) lib;

  # Every binary in the workspace and the crate that owns it.
  binaries = import ./binaries.nix;

  # cleanCargoSource would keep only *.rs, *.toml and Cargo.lock: add what crates embed or read at
  # build time (build.rs reads proto/, sqlx::migrate! embeds migrations/, loadgen include_str!s its
  # built-in profiles and lab its scenario catalog and visibility matrix, testkit's own test embeds its test migrations).
  # nix/check verifies this list against the include_str!/include_bytes!/migrate! calls in the source.
  src = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (craneLib.fileset.commonCargoSources root)
      (root + "/proto")
      (root + "/migrations")
      (root + "/crates/loadgen/profiles")
      (root + "/crates/lab/scenarios")
      (root + "/crates/lab/visibility.yaml")
      (root + "/crates/testkit/tests/migrations")
    ];
  };

  commonArgs = {
    inherit src;
    pname = "mop";
    version = "0.0.0";
    strictDeps = true;
    # Build tools: protoc for crates/proto's build.rs, cmake for rdkafka's `cmake-build` of librdkafka
    # (its default mklove build runs `#!/usr/bin/env bash` scripts, which the sandbox lacks).
    nativeBuildInputs = [
      pkgs.protobuf
      pkgs.cmake
      pkgs.pkg-config
    ];
    # librdkafka links only zlib; openssl/curl/sasl stay out so its CMake cannot pick them up (and
    # plaintext is the point: OBI cannot read rustls, and nothing here needs TLS).
    buildInputs = [ pkgs.zlib ];
    PROTOC = "${pkgs.protobuf}/bin/protoc";
  };

  # Dependencies of the whole workspace, built once and reused by every package and check.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  # One package per binary. Setting cargoExtraArgs replaces crane's default `--locked`: keep it.
  mkBinary =
    bin: crate:
    craneLib.buildPackage (
      commonArgs
      // {
        inherit cargoArtifacts;
        pname = bin;
        cargoExtraArgs = "--locked -p ${crate} --bin ${bin}";
        # Tests run once, in checks (nix/checks.nix), not per package.
        doCheck = false;
        meta.mainProgram = bin;
      }
    );

  binaryPackages = lib.mapAttrs mkBinary binaries;

  images = import ./images.nix { inherit pkgs binaryPackages; };

  checks = import ./checks.nix {
    inherit
      pkgs
      craneLib
      commonArgs
      cargoArtifacts
      advisory-db
      root
      ;
  };
in
{
  packages = binaryPackages // images;
  inherit checks;
  devShell = import ./shell.nix { inherit pkgs craneLib checks; };
}
