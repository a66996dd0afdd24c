# Models of the nixpkgs lib functions (`impl`) and the stub's lib (`lib`): only the [lib] entries of
# evidence.toml, so a lib function the flake uses without evidence is an evaluation error naming it.
# lib.fileset is modelled as a predicate over paths and, like the real one, a plain path in a fileset
# must exist (maybeMissing is the way out).
{ evidence }:
let
  inherit (builtins) pathExists substring stringLength;
  hasPrefix = pre: s: substring 0 (stringLength pre) s == pre;
  under = root: p: p == toString root || hasPrefix (toString root + "/") p;
  coerce =
    x:
    if x ? _fileset then
      x
    else if builtins.isPath x then
      (
        if pathExists x then
          {
            _fileset = true;
            pred = p: _type: under x p;
          }
        else
          throw "lib.fileset: ${toString x} does not exist (stub nixpkgs, like the real one)"
      )
    else
      throw "lib.fileset: not a path or fileset: ${builtins.typeOf x}";
  impl = {
  genAttrs = names: f: builtins.listToAttrs (map (n: {
    name = n;
    value = f n;
  }) names);
  mapAttrs = builtins.mapAttrs;
  listToAttrs = builtins.listToAttrs;
  inherit hasPrefix;
  fileset = {
    unions = sets: {
      _fileset = true;
      pred = p: t: builtins.any (s: (coerce s).pred p t) sets;
    };
    maybeMissing =
      x:
      if pathExists x then
        coerce x
      else
        {
          _fileset = true;
          pred = _p: _t: false;
        };
    # Directories are always descended into (the real one drops empty ones; it does not matter here).
    toSource =
      { root, fileset }:
      builtins.path {
        path = root;
        name = "source";
        filter = p: t: t == "directory" || (coerce fileset).pred p t;
      };
  };
  };
  # "fileset.toSource" -> impl.fileset.toSource, grouped back into nested attribute sets.
  pick =
    name:
    let
      path = builtins.filter builtins.isString (builtins.split "\\." name);
    in
    {
      inherit path;
      value = builtins.foldl' (
        v: p: v.${p} or (throw "stub nixpkgs: evidence.toml lists lib.${name}, which the stub does not model")
      ) impl path;
    };
  picked = map pick (builtins.attrNames evidence.lib);
  nest =
    entries:
    builtins.foldl' (
      acc: e:
      if builtins.length e.path == 1 then
        acc // { ${builtins.head e.path} = e.value; }
      else
        let
          top = builtins.head e.path;
        in
        acc // { ${top} = (acc.${top} or { }) // nest [ { path = builtins.tail e.path; inherit (e) value; } ]; }
    ) { } entries;
in
{
  inherit impl;
  lib = nest picked;
}
