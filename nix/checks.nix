# What `nix flake check` runs: clippy, rustfmt, the unit tests that need no backend, cargo-deny,
# the RustSec audit, and the kustomize overlays rendering. All reuse the one cargoArtifacts.
{
  pkgs,
  craneLib,
  commonArgs,
  cargoArtifacts,
  advisory-db,
  root,
  # the build's source fileset (nix/workspace.nix)
  fileset,
}:
let
  inherit (pkgs) lib;
  withDeps = commonArgs // {
    inherit cargoArtifacts;
  };
in
{
  clippy = craneLib.cargoClippy (
    withDeps
    // {
      cargoClippyExtraArgs = "--all-targets -- --deny warnings";
    }
  );

  fmt = craneLib.cargoFmt { inherit (commonArgs) src pname version; };

  # Only the libraries' and binaries' own unit tests: the integration tests (tests/it) start real
  # PostgreSQL, Redis and a Kafka broker, which the build sandbox does not have. `just test` runs them
  # all. The lab's and xtask's unit tests read the repository at run time (grafana/ dashboards, kustomize/ objects
  # and templates, docs/, README.md and CONTRIBUTING.md, flake.nix as the root marker, the Kafka fetcher), so they get those files too;
  # nix/check finds the paths crates name in their source and fails if this source lacks one.
  unit-tests = craneLib.cargoNextest (
    withDeps
    // {
      src = lib.fileset.toSource {
        inherit root;
        fileset = lib.fileset.unions [
          fileset
          (root + "/grafana")
          (root + "/kustomize")
          (root + "/docs")
          (root + "/README.md")
          (root + "/CONTRIBUTING.md")
          (root + "/flake.nix")
          # testkit names the Kafka fetcher and its pom (its unit tests check the messages around them)
          (root + "/scripts/kafka-fetch.sh")
          (root + "/scripts/kafka")
        ];
      };
      cargoNextestExtraArgs = "--workspace --lib --bins --no-tests=pass";
    }
  );

  # Licenses, bans and sources from deny.toml (offline); advisories come from the pinned advisory-db.
  deny = craneLib.cargoDeny { inherit (commonArgs) src pname version; };
  audit = craneLib.cargoAudit {
    inherit (commonArgs) src pname version;
    inherit advisory-db;
  };

  # Every overlay renders (kustomize/ and the grafana/ kustomization it references).
  manifests =
    pkgs.runCommand "mop-manifests"
      {
        nativeBuildInputs = [ pkgs.kubectl ];
        src = lib.fileset.toSource {
          inherit root;
          fileset = lib.fileset.unions [
            (root + "/kustomize")
            # the overlays list ../../../grafana as a resource (its dashboards and provisioning)
            (root + "/grafana")
          ];
        };
      }
      ''
        export HOME=$TMPDIR
        mkdir -p $out
        for overlay in $src/kustomize/overlays/*/; do
          name=$(basename "$overlay")
          kubectl kustomize "$overlay" > "$out/$name.yaml"
        done
        test -s $out/kind.yaml
      '';
}
