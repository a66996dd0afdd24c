# Stand-in for nixpkgs in the flake evaluation check (nix/check/run.sh), generated from
# nix/check/evidence.toml alone (run.sh copies it here): only the attributes with evidence exist, so
# `pkgs.foo` or `with pkgs; [ foo ]` for a name without evidence is an evaluation error naming `foo`.
# Each package is a derivation that records its arguments (`stubArgs`) and cannot build.
{
  outputs =
    { self }:
    let
      evidence = builtins.fromTOML (builtins.readFile ./evidence.toml);
      stubLib = import ./lib.nix { inherit evidence; };
    in
    {
      inherit (stubLib) lib;
      legacyPackages = stubLib.impl.genAttrs [ "x86_64-linux" "aarch64-linux" ] (
        system:
        import ./pkgs.nix {
          inherit system evidence;
          inherit (stubLib) lib impl;
        }
      );
    };
}
