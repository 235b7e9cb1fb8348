//! The closed loop: C clients, each with exactly one request outstanding,
//! for a warm-up and then a measured window (a duration, or a number of
//! requests). As wrk in v2bench: a request counts if it was sent and
//! answered inside the window; its latency is send to answer.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::Status;

use crate::procs::{self, CpuSnapshot};
use crate::stats::{Errors, Latencies};

/// One client's request, sent again and again.
pub trait Op: Send + 'static {
    fn call(&mut self) -> impl Future<Output = Result<(), Status>> + Send;
}

/// How long a run measures.
#[derive(Clone, Copy, Debug)]
pub enum Window {
    For(Duration),
    Requests(u64),
}

/// What a run measured.
pub struct Outcome {
    pub latencies: Latencies,
    pub errors: Errors,
    /// Seconds from the window's start to its end (or the last answer).
    pub seconds: f64,
    /// CPU snapshots at the window's start and end.
    pub cpu: (CpuSnapshot, CpuSnapshot),
}

/// After an error, a client waits this long before its next request, so a
/// refusing server does not turn the run into a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(1);

/// Runs `ops` (one per client) for `warmup`, then for `window`.
pub async fn run<O: Op>(
    ops: Vec<O>,
    warmup: Duration,
    window: Window,
    timeout: Duration,
) -> Outcome {
    let start = Instant::now() + warmup;
    let end = match window {
        Window::For(d) => Some(start + d),
        Window::Requests(_) => None,
    };
    let tickets = Arc::new(AtomicU64::new(0));
    let limit = match window {
        Window::Requests(n) => n,
        Window::For(_) => u64::MAX,
    };
    let tasks: Vec<_> = ops
        .into_iter()
        .map(|mut op| {
            let tickets = tickets.clone();
            tokio::spawn(async move {
                let mut lat = Latencies::default();
                let mut errors = Errors::default();
                let mut last = start;
                loop {
                    let t0 = Instant::now();
                    let measured = t0 >= start;
                    if end.is_some_and(|e| t0 >= e) {
                        break;
                    }
                    if measured && tickets.fetch_add(1, Ordering::Relaxed) >= limit {
                        break;
                    }
                    let r = tokio::time::timeout(timeout, op.call()).await;
                    let t1 = Instant::now();
                    let failed = !matches!(r, Ok(Ok(())));
                    if measured && end.is_none_or(|e| t1 <= e) {
                        last = last.max(t1);
                        match r {
                            Ok(Ok(())) => lat.push(t1.duration_since(t0).as_micros() as u64),
                            Ok(Err(s)) => errors.add(&format!("{:?}", s.code()), s.message()),
                            Err(_) => errors.add("client timeout", "no answer within --timeout"),
                        }
                    }
                    if failed {
                        tokio::time::sleep(ERROR_BACKOFF).await;
                    }
                }
                (lat, errors, last)
            })
        })
        .collect();
    tokio::time::sleep_until(start.into()).await;
    let cpu0 = procs::snapshot();
    let mut cpu1 = None;
    if let Some(e) = end {
        tokio::time::sleep_until(e.into()).await;
        cpu1 = Some(procs::snapshot());
    }
    let mut latencies = Latencies::default();
    let mut errors = Errors::default();
    let mut last = start;
    for t in tasks {
        let (l, e, t) = t.await.expect("client task panicked");
        latencies.extend(l);
        errors.merge(e);
        last = last.max(t);
    }
    let cpu1 = cpu1.unwrap_or_else(procs::snapshot);
    let seconds = match end {
        Some(e) => e.duration_since(start),
        None => last.duration_since(start),
    }
    .as_secs_f64();
    Outcome {
        latencies,
        errors,
        seconds,
        cpu: (cpu0, cpu1),
    }
}
