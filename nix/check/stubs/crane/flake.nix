# Stand-in for crane in the flake evaluation check: `mkLib pkgs` with exactly the functions the [crane]
# entries of nix/check/evidence.toml list (run.sh copies it here). Each asserts the arguments its entry
# says crane requires and returns a derivation that records its arguments (`stubArgs`) and never builds.
{
  outputs =
    { self }:
    {
      mkLib =
        pkgs:
        let
          fake =
            suffix: args:
            derivation {
              name = "${args.pname or "stub"}${suffix}";
              system = pkgs.__stubSystem;
              builder = "/bin/sh";
              args = [
                "-c"
                "exit 1"
              ];
              src = args.src or "";
              cargoArtifacts = args.cargoArtifacts or "";
              # Inputs become the derivation's, as in crane's mkCargoDerivation and mkShell, so
              # evaluating its drvPath forces every package name they use.
              nativeBuildInputs = args.nativeBuildInputs or [ ];
              buildInputs = args.buildInputs or [ ];
              packages = args.packages or [ ];
            }
            // {
              stubArgs = args;
              meta = args.meta or { };
            };
          needs =
            names: args:
            builtins.foldl' (
              ok: n: if args ? ${n} then ok else throw "crane stub: missing required attribute ${n}"
            ) true names;
          models = {
            devShell = args: fake "-shell" (args // { pname = "devshell"; });
            commonCargoSources =
              root:
              let
                rootS = toString root;
              in
              {
                _fileset = true;
                pred =
                  p: _t:
                  builtins.substring 0 (builtins.stringLength rootS) p == rootS
                  && (
                    builtins.match ".*\\.rs" p != null
                    || builtins.match ".*\\.toml" p != null
                    || baseNameOf p == "Cargo.lock"
                  );
              };
          };
          evidence = (builtins.fromTOML (builtins.readFile ./evidence.toml)).crane;
          function =
            name: entry:
            if entry ? model then
              models.${entry.model}
            else
              args: assert needs entry.requires args; fake "-${name}" args;
          # "fileset.commonCargoSources" -> fileset.commonCargoSources (one level is all crane's API uses)
          names = builtins.attrNames evidence;
          split = name: builtins.filter builtins.isString (builtins.split "\\." name);
          top = builtins.filter (n: builtins.length (split n) == 1) names;
          nested = builtins.filter (n: builtins.length (split n) == 2) names;
        in
        builtins.listToAttrs (
          map (n: {
            name = n;
            value = function n evidence.${n};
          }) top
        )
        // builtins.foldl' (
          acc: n:
          let
            ps = split n;
            parent = builtins.head ps;
          in
          acc // { ${parent} = (acc.${parent} or { }) // { ${builtins.elemAt ps 1} = function n evidence.${n}; }; }
        ) { } nested;
    };
}
