//! The errors of the keyspace, with etcd's exact texts and gRPC codes.
//!
//! Texts and codes are those of etcd 3.4's
//! `etcdserver/api/v3rpc/rpctypes/error.go` (`ErrGRPC*`): clients match
//! errors by their text, so these must not change.

use serde::{Deserialize, Serialize};

/// The gRPC status code etcd answers an error with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GrpcCode {
    InvalidArgument,
    NotFound,
    FailedPrecondition,
    ResourceExhausted,
    OutOfRange,
    PermissionDenied,
    Unauthenticated,
}

impl GrpcCode {
    /// The code's number in gRPC's `Code` enum.
    pub fn number(self) -> i32 {
        match self {
            GrpcCode::InvalidArgument => 3,
            GrpcCode::NotFound => 5,
            GrpcCode::FailedPrecondition => 9,
            GrpcCode::ResourceExhausted => 8,
            GrpcCode::OutOfRange => 11,
            GrpcCode::PermissionDenied => 7,
            GrpcCode::Unauthenticated => 16,
        }
    }
}

/// An error of a keyspace call. `Display` is etcd's message, word for word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
pub enum Error {
    /// `ErrGRPCEmptyKey`: a request, compare or txn op with an empty key.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// `ErrGRPCKeyNotFound`: `ignore_value`/`ignore_lease` on a missing
    /// key, or an empty txn op.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// `ErrGRPCValueProvided`: `ignore_value` with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ErrGRPCLeaseProvided`: `ignore_lease` with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// `ErrGRPCTooManyOps`: more than `--max-txn-ops` in a txn.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// `ErrGRPCDuplicateKey`: a key written twice in one txn.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// `ErrGRPCCompacted`.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// `ErrGRPCFutureRev`.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRev,
    /// `ErrGRPCNoSpace`: a write that would grow the keyspace while a
    /// NOSPACE alarm is active (`alarm.rs`).
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// `ErrGRPCLeaseNotFound`.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// `ErrGRPCLeaseExist`.
    #[error("etcdserver: lease already exists")]
    LeaseExist,
    /// `ErrGRPCLeaseTTLTooLarge`.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    // The auth store's (`auth.rs`), as rpctypes words them.
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    #[error("etcdserver: user name not found")]
    UserNotFound,
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
    /// A request checked against an older auth store than the one it is
    /// applied to (the client authenticates again and retries).
    #[error("etcdserver: revision of auth store is old")]
    AuthOldRevision,
}

impl Error {
    /// The gRPC code etcd sends this error with.
    pub fn code(self) -> GrpcCode {
        match self {
            Error::EmptyKey
            | Error::KeyNotFound
            | Error::ValueProvided
            | Error::LeaseProvided
            | Error::TooManyOps
            | Error::DuplicateKey => GrpcCode::InvalidArgument,
            Error::Compacted | Error::FutureRev | Error::LeaseTtlTooLarge => GrpcCode::OutOfRange,
            Error::NoSpace => GrpcCode::ResourceExhausted,
            Error::LeaseNotFound => GrpcCode::NotFound,
            Error::LeaseExist => GrpcCode::FailedPrecondition,
            Error::RootUserNotExist
            | Error::RootRoleNotExist
            | Error::UserAlreadyExist
            | Error::UserNotFound
            | Error::RoleAlreadyExist
            | Error::RoleNotFound
            | Error::RoleNotGranted
            | Error::PermissionNotGranted
            | Error::AuthNotEnabled => GrpcCode::FailedPrecondition,
            Error::UserEmpty
            | Error::RoleEmpty
            | Error::AuthFailed
            | Error::InvalidAuthMgmt
            | Error::AuthOldRevision => GrpcCode::InvalidArgument,
            Error::PermissionDenied => GrpcCode::PermissionDenied,
            Error::InvalidAuthToken => GrpcCode::Unauthenticated,
        }
    }
}

/// A keyspace result.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every text and code as etcd 3.4's rpctypes/error.go has it.
    #[test]
    fn texts_and_codes_are_etcds() {
        let all = [
            (Error::EmptyKey, "etcdserver: key is not provided", 3),
            (Error::KeyNotFound, "etcdserver: key not found", 3),
            (Error::ValueProvided, "etcdserver: value is provided", 3),
            (Error::LeaseProvided, "etcdserver: lease is provided", 3),
            (
                Error::TooManyOps,
                "etcdserver: too many operations in txn request",
                3,
            ),
            (
                Error::DuplicateKey,
                "etcdserver: duplicate key given in txn request",
                3,
            ),
            (
                Error::Compacted,
                "etcdserver: mvcc: required revision has been compacted",
                11,
            ),
            (
                Error::FutureRev,
                "etcdserver: mvcc: required revision is a future revision",
                11,
            ),
            (
                Error::NoSpace,
                "etcdserver: mvcc: database space exceeded",
                8,
            ),
            (
                Error::LeaseNotFound,
                "etcdserver: requested lease not found",
                5,
            ),
            (Error::LeaseExist, "etcdserver: lease already exists", 9),
            (
                Error::LeaseTtlTooLarge,
                "etcdserver: too large lease TTL",
                11,
            ),
            (Error::UserEmpty, "etcdserver: user name is empty", 3),
            (Error::PermissionDenied, "etcdserver: permission denied", 7),
            (
                Error::AuthOldRevision,
                "etcdserver: revision of auth store is old",
                3,
            ),
            (
                Error::AuthFailed,
                "etcdserver: authentication failed, invalid user ID or password",
                3,
            ),
            (
                Error::InvalidAuthToken,
                "etcdserver: invalid auth token",
                16,
            ),
            (
                Error::RootRoleNotExist,
                "etcdserver: root user does not have root role",
                9,
            ),
        ];
        for (e, text, code) in all {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.code().number(), code, "{text}");
        }
    }
}
