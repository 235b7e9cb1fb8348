//! The caller of a v3 request ([`concord_api::caller`]) on the wire: the
//! client's `token` metadata as etcd's clients send it, and, on a request a
//! gateway forwards to a member, the `concord-caller` mark that says it is
//! a client's (checked as one) rather than the gateway's own (its
//! replica's following watch, its snapshots: the member trusts what comes
//! through its contract listener unmarked, as it trusts its peers).

use concord_api::caller::{self, Caller};
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// etcd's token metadata (`rpctypes.TokenFieldNameGRPC`).
pub const TOKEN_METADATA: &str = "token";
/// The mark of a forwarded client request.
pub const CALLER_METADATA: &str = "concord-caller";

/// A tonic interceptor: a call made while handling a client's request
/// carries that client's mark and token.
// tonic's interceptor signature.
#[allow(clippy::result_large_err)]
pub fn forward_caller(mut request: Request<()>) -> Result<Request<()>, Status> {
    if let Some(c) = caller::current() {
        let md = request.metadata_mut();
        md.insert(CALLER_METADATA, MetadataValue::from_static("client"));
        if let Some(v) = c.token.and_then(|t| MetadataValue::try_from(t).ok()) {
            md.insert(TOKEN_METADATA, v);
        }
    }
    Ok(request)
}

/// Where a v3 request was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// A client URL: every request is a client's.
    Client,
    /// concord-consensus's contract listener: a client's when marked.
    Contract,
}

/// The caller of a request received with `headers` on `face`; `None`: the
/// request of a trusted Concord process.
pub fn caller_of(headers: &tonic::codegen::http::HeaderMap, face: Face) -> Option<Caller> {
    if face == Face::Contract && !headers.contains_key(CALLER_METADATA) {
        return None;
    }
    let token = headers
        .get(TOKEN_METADATA)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Some(Caller { token })
}
