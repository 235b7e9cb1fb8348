//! How clientv3 3.4 turns a gRPC status into the error etcdctl prints:
//! etcd's own errors (`rpctypes`, matched by their text) print as their
//! description alone (`etcdserver: key is not provided`); a deadline or
//! cancellation of the command's own context prints as Go's context
//! error (`context deadline exceeded`); anything else as grpc-go's status
//! text (`rpc error: code = Unavailable desc = ...`).

use tonic::{Code, Status};

/// The server's error descriptions clientv3 knows
/// (`etcdserver/api/v3rpc/rpctypes/error.go`, `errStringToError`).
const ETCD_ERRORS: &[&str] = &[
    "etcdserver: key is not provided",
    "etcdserver: key not found",
    "etcdserver: value is provided",
    "etcdserver: lease is provided",
    "etcdserver: too many operations in txn request",
    "etcdserver: duplicate key given in txn request",
    "etcdserver: mvcc: required revision has been compacted",
    "etcdserver: mvcc: required revision is a future revision",
    "etcdserver: mvcc: database space exceeded",
    "etcdserver: requested lease not found",
    "etcdserver: lease already exists",
    "etcdserver: too large lease TTL",
    "etcdserver: member ID already exist",
    "etcdserver: Peer URLs already exists",
    "etcdserver: re-configuration failed due to not enough started members",
    "etcdserver: given member URLs are invalid",
    "etcdserver: member not found",
    "etcdserver: can only promote a learner member",
    "etcdserver: can only promote a learner member which is in sync with leader",
    "etcdserver: too many learner members in cluster",
    "etcdserver: request is too large",
    "etcdserver: too many requests",
    "etcdserver: root user does not exist",
    "etcdserver: root user does not have root role",
    "etcdserver: user name already exists",
    "etcdserver: user name is empty",
    "etcdserver: user name not found",
    "etcdserver: role name already exists",
    "etcdserver: role name not found",
    "etcdserver: role name is empty",
    "etcdserver: authentication failed, invalid user ID or password",
    "etcdserver: permission denied",
    "etcdserver: role is not granted to the user",
    "etcdserver: permission is not granted to the role",
    "etcdserver: authentication is not enabled",
    "etcdserver: invalid auth token",
    "etcdserver: invalid auth management",
    "etcdserver: revision of auth store is old",
    "etcdserver: no leader",
    "etcdserver: not leader",
    "etcdserver: leader changed",
    "etcdserver: not capable",
    "etcdserver: server stopped",
    "etcdserver: request timed out",
    "etcdserver: request timed out, possibly due to previous leader failure",
    "etcdserver: request timed out, possibly due to connection lost",
    "etcdserver: request timed out, waiting for the applied index took too long",
    "etcdserver: unhealthy cluster",
    "etcdserver: corrupt cluster",
    "etcdserver: rpc not supported for learner",
    "etcdserver: bad leader transferee",
];

/// A failed call: the status (boxed: tonic's is large), and whether the
/// command's own deadline had passed when it failed.
#[derive(Debug, Clone)]
pub struct CallError {
    pub status: Box<Status>,
    pub deadline_passed: bool,
}

impl CallError {
    /// What etcdctl prints after `Error: ` (clientv3's `toErr`).
    pub fn text(&self) -> String {
        let code = self.status.code();
        if self.deadline_passed && matches!(code, Code::DeadlineExceeded | Code::Cancelled) {
            return "context deadline exceeded".into();
        }
        if is_etcd_error(self.status.message()) {
            return self.status.message().to_string();
        }
        status_text(&self.status)
    }

    /// Whether the status is one of etcd's own errors.
    pub fn is_etcd(&self) -> bool {
        is_etcd_error(self.status.message())
    }
}

fn is_etcd_error(desc: &str) -> bool {
    ETCD_ERRORS.contains(&desc)
}

/// grpc-go's `status.Error` text: `rpc error: code = X desc = Y`.
pub fn status_text(s: &Status) -> String {
    format!(
        "rpc error: code = {} desc = {}",
        code_name(s.code()),
        s.message()
    )
}

/// grpc-go's names of the status codes (`codes.Code.String`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_errors_print_bare() {
        let e = CallError {
            status: Box::new(Status::new(
                Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted",
            )),
            deadline_passed: false,
        };
        assert_eq!(
            e.text(),
            "etcdserver: mvcc: required revision has been compacted"
        );
        let e = CallError {
            status: Box::new(Status::new(
                Code::Unimplemented,
                "Not Found: HTTP status code 404",
            )),
            deadline_passed: false,
        };
        assert_eq!(
            e.text(),
            "rpc error: code = Unimplemented desc = Not Found: HTTP status code 404"
        );
    }
}
