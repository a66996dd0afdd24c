# MOP's flake: crane builds every binary, OCI images for the pods, the checks CI runs and the devShell.
# The pieces live in nix/ (one file per concern); this file only wires inputs to them per system.
{
  description = "MOP: a lab for zero-code (eBPF/OBI) observability of five Rust services";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    # crane has no inputs of its own (no `follows` needed); v0.23.x needs Nix >= 2.31.2.
    crane.url = "github:ipetkov/crane/v0.23.4";
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      advisory-db,
    }:
    let
      # kind, OBI and dockerTools' images are Linux-only; no flake-utils (it would add an input).
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      perSystem =
        f:
        nixpkgs.lib.genAttrs systems (
          system:
          let
            pkgs = nixpkgs.legacyPackages.${system};
          in
          f (
            import ./nix/workspace.nix {
              inherit pkgs advisory-db system;
              craneLib = crane.mkLib pkgs;
              root = ./.;
            }
          )
        );
    in
    {
      packages = perSystem (ws: ws.packages);
      checks = perSystem (ws: ws.checks);
      devShells = perSystem (ws: {
        default = ws.devShell;
      });
    };
}
