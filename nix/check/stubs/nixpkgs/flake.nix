# Stand-in for nixpkgs in the flake evaluation check (nix/check/run.sh): only the attributes MOP's
# flake calls, each a derivation that records its arguments (`stubArgs`) and cannot build. A name the
# flake uses that is missing here fails the check, so adding a tool means adding it here too — the
# real attribute names are checked by `nix flake check` on a machine with nixpkgs (CI workflow).
{
  outputs =
    { self }:
    let
      lib = import ./lib.nix;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (
        system: import ./pkgs.nix { inherit lib system; }
      );
    };
}
