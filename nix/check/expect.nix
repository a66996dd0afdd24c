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
  # CONTRACT.md: one image per pod binary.
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
  contains = s: sub: match ".*${sub}.*" s != null;
  forSystems =
    outputs: f:
    assert sameNames "systems" (attrNames outputs) systems;
    concatStringsSep "\n" (map (system: "${system}: ${f system outputs.${system}}") systems);

  binaryOk =
    ps: bin:
    let
      drv = ps.${bin};
      a = drv.stubArgs;
      crate = expected.binaries.${bin};
    in
    require (builtins.isString drv.drvPath) "${bin}: no derivation"
    && require (contains a.cargoExtraArgs "--locked") "${bin}: cargoExtraArgs lost --locked"
    && require (contains a.cargoExtraArgs "-p ${crate} --bin ${bin}") "${bin}: not -p ${crate} --bin ${bin}"
    && require (drv.meta.mainProgram == bin) "${bin}: meta.mainProgram"
    && require (a ? cargoArtifacts) "${bin}: does not reuse cargoArtifacts (buildDepsOnly)"
    && require (a.doCheck == false) "${bin}: tests belong in checks, not in every package"
    && all (f: require (pathExists "${a.src}/${f}") "${bin}: the source lacks ${f}, which a crate embeds") expected.embedded
    && require (!pathExists "${a.src}/README.md") "${bin}: the source has README.md (the fileset should not)";

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
      _system: ps:
      let
        bins = attrNames expected.binaries;
      in
      assert sameNames "packages" (attrNames ps) (bins ++ map (b: "image-${b}") podBinaries);
      assert all (binaryOk ps) bins;
      assert all (imageOk ps) podBinaries;
      "${toString (builtins.length bins)} binaries, ${toString (builtins.length podBinaries)} images"
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
      "devShell with ${toString (builtins.length names)} packages"
    );
}
