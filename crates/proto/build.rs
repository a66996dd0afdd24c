//! Generates the Rust types and tonic client/server for `proto/mop/auth/v1/auth.proto`, plus the
//! encoded file descriptor set that server reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto = root.join("mop/auth/v1/auth.proto");
    tonic_prost_build::configure()
        // Reflection needs the descriptors of the service *and* its imports (timestamp.proto);
        // prost-build runs protoc with --include_imports for this file.
        .file_descriptor_set_path(out.join("auth_descriptor.bin"))
        .compile_protos(&[proto], &[root])?;
    Ok(())
}
