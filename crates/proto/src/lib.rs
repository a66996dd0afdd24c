//! Generated gRPC types for MOP: `mop.auth.v1` messages, the `AuthService` client and server traits,
//! and the file descriptor set that server reflection needs.
//!
//! # Why `build.rs` codegen (and not committed generated code)
//!
//! The `.proto` in the repository's `proto/` folder is the single source of truth, and generating at
//! build time means the Rust types can never drift from it — there is nothing to forget to
//! regenerate. The price is a `protoc` binary at build time: tonic 0.14's `tonic-prost-build` (via
//! `prost-build`) no longer bundles one, so it comes from the system — Debian's `protobuf-compiler`
//! (plus `libprotobuf-dev` for `google/protobuf/timestamp.proto`) in CI, the Nix devShell's
//! `protobuf` for users. Set `PROTOC` to use another binary. This crate is the only one in the
//! workspace that runs codegen, so only it pays that cost; `auth` and `loadgen` just depend on it.

/// `mop.auth.v1`: the auth service's messages, `auth_service_client` and `auth_service_server`.
pub mod auth {
    /// Version 1 of the auth API.
    pub mod v1 {
        // Generated code: its doc comments come from the .proto, and lints are not ours to fix.
        #![allow(clippy::all, missing_docs)]
        tonic::include_proto!("mop.auth.v1");
    }
}

/// Encoded `FileDescriptorSet` of `mop/auth/v1/auth.proto` and its imports, for
/// `tonic_reflection::server::Builder::register_encoded_file_descriptor_set`.
pub const AUTH_FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("auth_descriptor");

/// Re-exported so users of the generated `Timestamp` fields need no direct `prost-types` dependency.
pub use prost_types;
