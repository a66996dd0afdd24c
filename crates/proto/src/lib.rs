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

/// The canonical upper-case name of a gRPC status code (`UNAUTHENTICATED`), as the gRPC spec and
/// OBI's `rpc_response_status_code` label spell it — tonic's `Display` gives a sentence instead.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Re-exported so users of the generated `Timestamp` fields need no direct `prost-types` dependency.
pub use prost_types;

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_types::FileDescriptorSet;

    fn auth_file() -> prost_types::FileDescriptorProto {
        let set = FileDescriptorSet::decode(super::AUTH_FILE_DESCRIPTOR_SET).unwrap();
        let names: Vec<_> = set.file.iter().map(|f| f.name().to_owned()).collect();
        // Reflection clients need the imports too, or they cannot resolve `Timestamp`.
        assert!(
            names.contains(&"google/protobuf/timestamp.proto".to_owned()),
            "{names:?}"
        );
        set.file
            .into_iter()
            .find(|f| f.name() == "mop/auth/v1/auth.proto")
            .unwrap()
    }

    /// The .proto is the API's documentation: every RPC, field and enum value carries a comment.
    #[test]
    fn every_rpc_field_and_enum_value_is_documented() {
        let file = auth_file();
        let info = file.source_code_info.clone().unwrap();
        let documented = |path: &[i32]| {
            info.location
                .iter()
                .any(|l| l.path == path && !l.leading_comments().trim().is_empty())
        };
        let mut missing = Vec::new();
        // Descriptor field numbers: 4 = message_type, 2 = field; 5 = enum_type, 2 = value;
        // 6 = service, 2 = method.
        for (m, message) in (0i32..).zip(&file.message_type) {
            for (f, field) in (0i32..).zip(&message.field) {
                if !documented(&[4, m, 2, f]) {
                    missing.push(format!("{}.{}", message.name(), field.name()));
                }
            }
        }
        for (e, enumeration) in (0i32..).zip(&file.enum_type) {
            for (v, value) in (0i32..).zip(&enumeration.value) {
                if !documented(&[5, e, 2, v]) {
                    missing.push(value.name().to_owned());
                }
            }
        }
        for (s, service) in (0i32..).zip(&file.service) {
            for (r, method) in (0i32..).zip(&service.method) {
                if !documented(&[6, s, 2, r]) {
                    missing.push(format!("{}.{}", service.name(), method.name()));
                }
            }
        }
        assert!(missing.is_empty(), "undocumented: {missing:?}");
    }
}
