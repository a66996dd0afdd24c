# OCI images for the pods: packages.image-<bin> streams `mop/<bin>:lab` (a docker-archive on stdout)
# for every binary that runs in the cluster. `just up` saves each stream and `kind load image-archive`s it.
{ pkgs, binaryPackages }:
let
  inherit (pkgs) lib;
  # The binaries that run in pods (auth-client and lab are tools for people, not workloads).
  podBinaries = [
    "catalog"
    "auth"
    "orders"
    "gateway"
    "events-producer"
    "events-consumer"
    "loadgen"
  ];
  mkImage =
    bin:
    pkgs.dockerTools.streamLayeredImage {
      name = "mop/${bin}";
      # A fixed tag, never `latest` (which forces imagePullPolicy Always, and kind has no registry).
      tag = "lab";
      # `contents` are linked into the image root, so the binary is at /bin/<bin> (the manifests'
      # command). Only the binary's closure (glibc…) comes along: no shell, no coreutils.
      contents = [ binaryPackages.${bin} ];
      config = {
        Entrypoint = [ "/bin/${bin}" ];
        # Numeric, so Kubernetes can verify runAsNonRoot (it cannot for a user name).
        User = "65532:65532";
        Env = [ "LOG_FORMAT=json" ];
      };
    };
in
lib.listToAttrs (
  map (bin: {
    name = "image-${bin}";
    value = mkImage bin;
  }) podBinaries
)
