# The Cargo workspace under crane: one source fileset, one commonArgs, one buildDepsOnly, one build of
# every binary, and a package per binary copied out of it.
{
  pkgs,
  craneLib,
  advisory-db,
  root,
  system,
}:
let
  inherit (pkgs) lib;

  # Every binary in the workspace and the crate that owns it.
  binaries = import ./binaries.nix;

  # cleanCargoSource would keep only *.rs, *.toml and Cargo.lock: add what crates embed or read at
  # build time (build.rs reads proto/, sqlx::migrate! embeds migrations/, loadgen include_str!s its
  # built-in profiles and lab its scenario catalog and visibility matrix, testkit's own test embeds its test migrations).
  # nix/check verifies this list against the include_str!/include_bytes!/migrate! calls in the source.
  fileset = lib.fileset.unions [
    (craneLib.fileset.commonCargoSources root)
    (root + "/proto")
    (root + "/migrations")
    (root + "/crates/loadgen/profiles")
    (root + "/crates/lab/scenarios")
    (root + "/crates/lab/visibility.yaml")
    (root + "/crates/testkit/tests/migrations")
  ];
  src = lib.fileset.toSource { inherit root fileset; };

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
  }
  # jemalloc's configure takes the build machine's page size unless told (tikv-jemalloc-sys passes
  # JEMALLOC_SYS_WITH_LG_PAGE as --with-lg-page): an aarch64 binary built on a 4 KiB-page builder aborts
  # on a 16/64 KiB-page kernel. 2^16 must be at least the system page size, so it runs on all three.
  // (if system == "aarch64-linux" then { JEMALLOC_SYS_WITH_LG_PAGE = "16"; } else { });

  # Dependencies of the whole workspace, built once and reused by every package and check.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  # Every binary in one cargo build over the whole workspace: the same feature resolution as
  # buildDepsOnly (which builds the workspace), so cargoArtifacts is reused as is. A `-p <crate>` build
  # per binary would resolve features for that crate alone (catalog: 19 of its 122 dependencies get
  # other features, `cargo tree -e normal -f '{p} [{f}]'`) and rebuild them and everything above them,
  # and would compile the shared workspace crates once per binary. Setting cargoExtraArgs replaces
  # crane's default `--locked`: keep it. Tests run once, in checks (nix/checks.nix).
  workspaceBuild = craneLib.buildPackage (
    commonArgs
    // {
      inherit cargoArtifacts;
      cargoExtraArgs = "--locked --workspace --bins";
      doCheck = false;
    }
  );

  # One package per binary, holding just that binary (an image's closure is the binary's, not the
  # workspace's).
  mkBinary =
    bin: _crate:
    pkgs.runCommand bin { meta.mainProgram = bin; } ''
      mkdir -p $out/bin
      cp ${workspaceBuild}/bin/${bin} $out/bin/${bin}
    '';

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
      fileset
      ;
  };
in
{
  packages = binaryPackages // images // {
    mop = workspaceBuild;
  };
  inherit checks;
  devShell = import ./shell.nix { inherit pkgs craneLib checks; };
}
