# What the flake must provide, asserted over its outputs evaluated against the stub inputs (the stubs
# record each call's arguments in `stubArgs`). Used by nix/check/run.sh via `nix eval --apply`; each
# function returns a report line per system or throws naming what is wrong.
{ expected }:
let
  inherit (builtins)
    attrNames
    all
    concatStringsSep
    pathExists
    filter
    elem
    match
    ;
  systems = [
    "x86_64-linux"
    "aarch64-linux"
  ];
  # One image per binary that runs in a pod.
  podBinaries = [
    "catalog"
    "auth"
    "orders"
    "gateway"
    "events-producer"
    "events-consumer"
    "loadgen"
  ];
  sort = builtins.sort builtins.lessThan;
  require = ok: msg: if ok then true else throw "flake check: ${msg}";
  sameNames =
    what: got: want:
    require (sort got == sort want)
      "${what}: got [${concatStringsSep " " (sort got)}], want [${concatStringsSep " " (sort want)}]";
  # a plain substring test (a regex would need escaping and stops at newlines)
  contains = s: sub: builtins.replaceStrings [ sub ] [ "" ] s != s;
  forSystems =
    outputs: f:
    assert sameNames "systems" (attrNames outputs) systems;
    concatStringsSep "\n" (map (system: "${system}: ${f system outputs.${system}}") systems);

  # Every binary comes out of the one workspace build (`mop`), which reuses the one dependency build.
  binaryOk =
    ps: bin:
    let
      drv = ps.${bin};
    in
    require (builtins.isString drv.drvPath) "${bin}: no derivation"
    && require (contains drv.stubArgs.script "${ps.mop}/bin/${bin}") "${bin}: not copied out of the workspace build (packages.mop)"
    && require (drv.meta.mainProgram == bin) "${bin}: meta.mainProgram";

  # One cargo build of every binary with the workspace's feature resolution: what buildDepsOnly built
  # is reused, not rebuilt per package. On aarch64 jemalloc gets a 64 KiB page (see workspace.nix).
  workspaceOk =
    system: ps:
    let
      a = ps.mop.stubArgs;
      deps = a.cargoArtifacts.stubArgs;
      lgPage = args: args.JEMALLOC_SYS_WITH_LG_PAGE or null;
      wantLgPage = if system == "aarch64-linux" then "16" else null;
    in
    require (builtins.isString ps.mop.drvPath) "mop: no derivation"
    && require (contains a.cargoExtraArgs "--locked") "mop: cargoExtraArgs lost --locked"
    && require (contains a.cargoExtraArgs "--workspace") "mop: not a --workspace build"
    && require (match ".*(^| )(-p|--package) .*" a.cargoExtraArgs == null) "mop: -p resolves features for one crate (rebuilds dependencies)"
    && require (a ? cargoArtifacts) "mop: does not reuse cargoArtifacts (buildDepsOnly)"
    && require (!(deps ? cargoExtraArgs) || match ".*(^| )(-p|--package) .*" deps.cargoExtraArgs == null) "buildDepsOnly: not the whole workspace"
    && require (a.doCheck == false) "mop: tests belong in checks, not in the package"
    && require (lgPage a == wantLgPage && lgPage deps == wantLgPage) "${system}: JEMALLOC_SYS_WITH_LG_PAGE is ${toString (lgPage a)} (dependencies: ${toString (lgPage deps)}), want ${toString wantLgPage}"
    && all (f: require (pathExists "${a.src}/${f}") "mop: the source lacks ${f}, which a crate embeds") expected.embedded
    && require (!pathExists "${a.src}/README.md") "mop: the source has README.md (the fileset should not)";

  imageOk =
    ps: bin:
    let
      img = ps."image-${bin}";
      a = img.stubArgs;
    in
    require (builtins.isString img.drvPath) "image-${bin}: no derivation"
    && require (img.imageName == "mop/${bin}" && img.imageTag == "lab") "image-${bin}: not mop/${bin}:lab"
    && require (a.config.Entrypoint == [ "/bin/${bin}" ]) "image-${bin}: Entrypoint is not /bin/${bin}"
    && require (a.config.User == "65532:65532") "image-${bin}: User is not 65532:65532"
    && require (!(a ? binSh) || a.binSh == false) "image-${bin}: has a shell"
    && require (map (d: d.drvPath) a.contents == [ ps.${bin}.drvPath ]) "image-${bin}: contents are not just the binary";
in
{
  packages =
    outputs:
    forSystems outputs (
      system: ps:
      let
        bins = attrNames expected.binaries;
      in
      assert sameNames "packages" (attrNames ps) (bins ++ map (b: "image-${b}") podBinaries ++ [ "mop" ]);
      assert workspaceOk system ps;
      assert all (binaryOk ps) bins;
      assert all (imageOk ps) podBinaries;
      "${toString (builtins.length bins)} binaries out of one workspace build, ${toString (builtins.length podBinaries)} images"
    );

  checks =
    outputs:
    forSystems outputs (
      _system: cs:
      assert sameNames "checks" (attrNames cs) [
        "audit"
        "clippy"
        "deny"
        "fmt"
        "manifests"
        "unit-tests"
      ];
      assert all (n: require (builtins.isString cs.${n}.drvPath) "check ${n}: no derivation") (attrNames cs);
      assert require (contains cs.clippy.stubArgs.cargoClippyExtraArgs "--all-targets -- --deny warnings") "clippy: not --all-targets -- --deny warnings";
      assert require (cs.audit.stubArgs ? advisory-db) "audit: no advisory-db";
      assert all (
        f: require (pathExists "${cs.unit-tests.stubArgs.src}/${f}") "unit-tests: the source lacks ${f}, which a crate's src/ names (its tests read it)"
      ) expected.test_reads;
      assert require (
        !expected.kustomize || pathExists "${cs.manifests.stubArgs.src}/kustomize/overlays/kind/kustomization.yaml"
      ) "manifests: the source lacks kustomize/overlays/kind";
      "${toString (builtins.length (attrNames cs))} checks: ${concatStringsSep " " (attrNames cs)}"
    );

  devShells =
    outputs:
    forSystems outputs (
      _system: ds:
      let
        shell = ds.default;
        names = map (p: p.name) shell.stubArgs.packages;
        missing = filter (t: !elem t names) expected.tools;
      in
      assert sameNames "devShells" (attrNames ds) [ "default" ];
      assert require (builtins.isString shell.drvPath) "devShell: no derivation";
      assert require (missing == [ ]) "devShell lacks ${concatStringsSep " " missing}";
      assert require (shell.stubArgs ? checks) "devShell does not inherit the checks' inputs";
      assert require (contains (shell.stubArgs.shellHook or "") "scripts/python-tools.txt") "devShell: the shellHook does not say how to get the Python tools";
      "devShell with ${toString (builtins.length names)} packages"
    );
}
