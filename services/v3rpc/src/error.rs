//! The v3 services' errors as etcd answers them: gRPC code and exact text
//! from etcd 3.4's `etcdserver/api/v3rpc/rpctypes/error.go` (clients match
//! errors by their text), for the keyspace's errors ([`mvcc::Error`]), the
//! contract's ([`ApiError`]), membership changes and the checks the
//! services make themselves.

use concord_api::v3::mvcc;
use concord_api::{ApiError, LeaderTransferError, MembershipError};
use tonic::{Code, Status};

/// An error a v3 call answers with. `Display` is etcd's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V3Error {
    /// The keyspace refused the request (its own texts and codes).
    #[error(transparent)]
    Keyspace(#[from] mvcc::Error),
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: server stopped")]
    Stopped,
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// gRPC's own limit on a received message (grpc-go's text).
    #[error("grpc: received message larger than max ({size} vs. {limit})")]
    MessageTooLarge { size: usize, limit: usize },
    #[error("etcdserver: not leader")]
    NotLeader,
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    #[error("etcdserver: not capable")]
    NotCapable,
    #[error("etcdserver: member ID already exist")]
    MemberExist,
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExist,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    MemberNotEnoughStarted,
    #[error("etcdserver: given member URLs are invalid")]
    MemberBadUrls,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    #[error("etcdserver: user name not found")]
    UserNotFound,
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    /// What Concord does not do yet (the text names it).
    #[error("{0}")]
    Unsupported(&'static str),
    /// Anything else the member reported (etcd answers such errors with
    /// code Unknown and the error's text).
    #[error("{0}")]
    Other(String),
}

impl V3Error {
    /// The gRPC code etcd answers this error with.
    pub fn code(&self) -> Code {
        match self {
            V3Error::Keyspace(e) => match e.code() {
                mvcc::GrpcCode::InvalidArgument => Code::InvalidArgument,
                mvcc::GrpcCode::NotFound => Code::NotFound,
                mvcc::GrpcCode::FailedPrecondition => Code::FailedPrecondition,
                mvcc::GrpcCode::ResourceExhausted => Code::ResourceExhausted,
                mvcc::GrpcCode::OutOfRange => Code::OutOfRange,
                mvcc::GrpcCode::PermissionDenied => Code::PermissionDenied,
                mvcc::GrpcCode::Unauthenticated => Code::Unauthenticated,
            },
            V3Error::NoLeader
            | V3Error::Timeout
            | V3Error::Stopped
            | V3Error::NotCapable
            | V3Error::Unhealthy => Code::Unavailable,
            V3Error::RequestTooLarge
            | V3Error::MemberBadUrls
            | V3Error::UserEmpty
            | V3Error::RoleEmpty => Code::InvalidArgument,
            V3Error::MessageTooLarge { .. } => Code::ResourceExhausted,
            V3Error::NotLeader
            | V3Error::BadLeaderTransferee
            | V3Error::MemberExist
            | V3Error::PeerUrlExist
            | V3Error::MemberNotEnoughStarted
            | V3Error::MemberNotLearner
            | V3Error::TooManyLearners
            | V3Error::RootUserNotExist
            | V3Error::UserNotFound
            | V3Error::RoleNotFound
            | V3Error::AuthNotEnabled => Code::FailedPrecondition,
            V3Error::MemberNotFound => Code::NotFound,
            V3Error::Unsupported(_) => Code::Unimplemented,
            V3Error::Other(_) => Code::Unknown,
        }
    }
}

impl From<V3Error> for Status {
    fn from(e: V3Error) -> Status {
        Status::new(e.code(), e.to_string())
    }
}

impl From<ApiError> for V3Error {
    fn from(e: ApiError) -> V3Error {
        match e {
            ApiError::NoLeader(_) => V3Error::NoLeader,
            // The member's proposal timed out or consensus failed: etcd's
            // client retries on this one.
            ApiError::Internal(msg) => {
                tracing::warn!("v3 request failed: {msg}");
                V3Error::Timeout
            }
            ApiError::Stopping => V3Error::Stopped,
            ApiError::Store(e) => V3Error::Other(e.to_string()),
        }
    }
}

impl From<LeaderTransferError> for V3Error {
    fn from(e: LeaderTransferError) -> V3Error {
        match e {
            LeaderTransferError::NotLeader => V3Error::NotLeader,
            LeaderTransferError::BadTransferee => V3Error::BadLeaderTransferee,
            LeaderTransferError::NotCapable => V3Error::NotCapable,
            // etcd maps no gRPC error for this one: code Unknown, its text.
            LeaderTransferError::TimedOut => V3Error::Other(e.to_string()),
            LeaderTransferError::Internal(msg) => V3Error::Other(msg),
        }
    }
}

impl From<MembershipError> for V3Error {
    fn from(e: MembershipError) -> V3Error {
        match e {
            MembershipError::NotFound(_)
            | MembershipError::Removed(_)
            | MembershipError::IdRemoved => V3Error::MemberNotFound,
            MembershipError::IdExists => V3Error::MemberExist,
            MembershipError::PeerUrlExists => V3Error::PeerUrlExist,
            MembershipError::Unhealthy => V3Error::Unhealthy,
            MembershipError::NotEnoughStarted => V3Error::MemberNotEnoughStarted,
            MembershipError::Internal(msg) => V3Error::Other(msg),
        }
    }
}

/// Shorthand for the services: any of the errors above as a `Status`.
pub fn status(e: impl Into<V3Error>) -> Status {
    e.into().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few texts and codes checked against rpctypes/error.go.
    #[test]
    fn texts_and_codes_are_etcds() {
        let cases = [
            (
                V3Error::NoLeader,
                Code::Unavailable,
                "etcdserver: no leader",
            ),
            (
                V3Error::Timeout,
                Code::Unavailable,
                "etcdserver: request timed out",
            ),
            (
                V3Error::RequestTooLarge,
                Code::InvalidArgument,
                "etcdserver: request is too large",
            ),
            (
                V3Error::MemberNotFound,
                Code::NotFound,
                "etcdserver: member not found",
            ),
            (
                V3Error::AuthNotEnabled,
                Code::FailedPrecondition,
                "etcdserver: authentication is not enabled",
            ),
            (
                V3Error::Keyspace(mvcc::Error::LeaseNotFound),
                Code::NotFound,
                "etcdserver: requested lease not found",
            ),
        ];
        for (e, code, text) in cases {
            let s = Status::from(e);
            assert_eq!((s.code(), s.message()), (code, text));
        }
        assert_eq!(
            status(ApiError::NoLeader("x".into())).message(),
            "etcdserver: no leader"
        );
    }
}
