# Stand-in for crane in the flake evaluation check: `mkLib pkgs` with the functions MOP's flake calls.
# Each asserts the attributes crane's docs/API.md marks required and returns a derivation that records
# its arguments (`stubArgs`) and never builds.
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
              inherit (pkgs) system;
              builder = "/bin/sh";
              args = [
                "-c"
                "exit 1"
              ];
              src = args.src or "";
              cargoArtifacts = args.cargoArtifacts or "";
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
        in
        {
          buildDepsOnly = args: assert needs [ "src" ] args; fake "-deps" args;
          buildPackage = args: assert needs [ "src" ] args; fake "" args;
          cargoClippy = args: assert needs [ "src" "cargoArtifacts" ] args; fake "-clippy" args;
          cargoFmt = args: assert needs [ "src" ] args; fake "-fmt" args;
          cargoNextest = args: assert needs [ "src" "cargoArtifacts" ] args; fake "-nextest" args;
          cargoDeny = args: assert needs [ "src" ] args; fake "-deny" args;
          cargoAudit = args: assert needs [ "src" "advisory-db" ] args; fake "-audit" args;
          devShell = args: fake "-shell" (args // { pname = "devshell"; });
          fileset.commonCargoSources =
            root:
            let
              lib = pkgs.lib;
              rootS = toString root;
            in
            {
              _fileset = true;
              pred =
                p: _t:
                lib.hasPrefix rootS p
                && (
                  builtins.match ".*\\.rs" p != null
                  || builtins.match ".*\\.toml" p != null
                  || baseNameOf p == "Cargo.lock"
                );
            };
        };
    };
}
