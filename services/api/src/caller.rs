//! Who a v3 request comes from: the auth token the client sent (etcd's
//! `token` gRPC metadata), carried beside the request for its whole
//! handling as a task-local, so the keyspace contract's methods need no
//! extra argument.
//!
//! The v3 services set it for every client request ([`scope`]); code that
//! runs without it (a leader revoking an expired lease, promoting leases)
//! is the member's own and is not checked. A member resolves the token
//! against its auth store; a gateway forwards it with the request to the
//! member that will.

use std::future::Future;

tokio::task_local! {
    static CALLER: Caller;
}

/// A client's credentials as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The `token` metadata, if the client sent one.
    pub token: Option<String>,
}

/// Runs `f` as a request of `caller`.
pub async fn scope<F: Future>(caller: Caller, f: F) -> F::Output {
    CALLER.scope(caller, f).await
}

/// Runs `f` as a request of `caller`, or as the member's own (`None`): a
/// task spawned for a request carries its caller on.
pub async fn scope_if<F: Future>(caller: Option<Caller>, f: F) -> F::Output {
    match caller {
        Some(c) => scope(c, f).await,
        None => f.await,
    }
}

/// The caller of the request being handled; `None` outside any client
/// request (the member's own writes).
pub fn current() -> Option<Caller> {
    CALLER.try_with(Caller::clone).ok()
}
