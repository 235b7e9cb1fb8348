//! The one tokio runtime of the process: concordctl's commands are plain
//! sequential code, and only their I/O (hyper's HTTP exchanges, the gRPC
//! health probe) is async, so each exchange is run to its end on one
//! current-thread runtime, built on first use.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

/// Runs `fut` to completion on the process's runtime; `Err` says why the
/// runtime could not be built (the OS refused an epoll instance or a
/// timer), in which case nothing ran.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))
    });
    match runtime {
        Ok(rt) => Ok(rt.block_on(fut)),
        Err(why) => Err(why.clone()),
    }
}
