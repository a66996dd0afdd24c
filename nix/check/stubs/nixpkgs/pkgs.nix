# The package set of the stub nixpkgs: one attribute per [pkgs] entry of evidence.toml and nothing
# else. A dotted name (dockerTools.streamLayeredImage) is an attribute of an attribute. Functions are
# modelled (`model` in the entry) by what they return; every other entry is a package. `lib` is the
# evidenced lib only; `impl` (every model) is for the stub's own use.
{
  lib,
  impl,
  system,
  evidence,
}:
let
  inherit (builtins)
    attrNames
    filter
    isString
    split
    head
    elemAt
    length
    listToAttrs
    mapAttrs
    ;
  fake =
    name: args:
    derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [
        "-c"
        "echo stub nixpkgs: ${name} cannot be built; exit 1"
      ];
      # Inputs become the derivation's, as in the real builders, so evaluating its drvPath forces
      # every name they use.
      nativeBuildInputs = args.nativeBuildInputs or [ ];
      contents = args.contents or [ ];
      script = args.script or "";
    }
    // {
      stubArgs = args;
      meta = args.meta or { };
    };
  models = {
    inherit lib;
    runCommand =
      name: env: script:
      fake name (env // { inherit script; });
    streamLayeredImage =
      args:
      assert args ? name && args ? tag && args ? config;
      fake "stream-${baseNameOf args.name}" args
      // {
        imageName = args.name;
        imageTag = args.tag;
      };
  };
  value =
    name: entry:
    if entry ? model then
      models.${entry.model} or (throw "stub nixpkgs: evidence.toml names model ${entry.model} for ${name}, which the stub lacks")
    else
      fake name { };
  # "a.b" -> [ "a" "b" ]; deeper names are not used and are refused rather than half-modelled.
  parts =
    name:
    let
      ps = filter isString (split "\\." name);
    in
    if length ps > 2 then throw "stub nixpkgs: ${name}: only one level of nesting is modelled" else ps;
  entries = mapAttrs (name: entry: { ps = parts name; v = value name entry; }) evidence.pkgs;
  names = attrNames entries;
  tops = filter (n: length entries.${n}.ps == 1) names;
  nested = filter (n: length entries.${n}.ps == 2) names;
  parents = impl.genAttrs (map (n: head entries.${n}.ps) nested) (
    parent:
    listToAttrs (
      map (n: {
        name = elemAt entries.${n}.ps 1;
        value = entries.${n}.v;
      }) (filter (n: head entries.${n}.ps == parent) nested)
    )
  );
in
mapAttrs (_: ns: ns) parents
// impl.genAttrs tops (n: if parents ? ${n} then entries.${n}.v // parents.${n} else entries.${n}.v)
// {
  # Not a nixpkgs name: how the crane stub learns the system without using one the flake might not.
  __stubSystem = system;
}
