//! Log lines on stderr, one per event, each naming the process (a member's
//! or a service's `--name`), so that several processes logging to one
//! terminal can be told apart.

/// The default filter at `level`, which the config has checked.
fn default_filter(level: &str) -> String {
    // openraft's replication tasks log every failed retry to a peer that is
    // down (several lines a second); the consensus crate reports a peer's
    // state changes itself, in etcd's words, so those are left out, as is
    // openraft's ERROR for a write that must go to the new leader (the
    // caller gets that error and retries or answers it). At debug, the
    // HTTP/2 and gRPC libraries stay at info: debug means Concord's own
    // DEBUG lines, not every frame.
    // Never more of openraft than of the rest.
    let openraft = match level {
        "off" => return "off".to_string(),
        "error" => "error",
        _ => "warn",
    };
    let mut f = format!(
        "{level},openraft={openraft},openraft::replication=off,\
         openraft::engine::handler::replication_handler=error,openraft::core::raft_core=error,\
         openraft::raft::impl_raft_blocking_write=off"
    );
    // The NATS client logs every (re)connect at info; Concord's own lines
    // say what the bus does.
    if !matches!(level, "error" | "warn") {
        f.push_str(",async_nats=warn");
    }
    if matches!(level, "debug" | "trace") {
        f.push_str(",h2=info,hyper=info,hyper_util=info,tower=info,tonic=info,axum=info");
    }
    f
}

/// The timestamp, then the member's name: three members logging to one
/// terminal can be told apart on every line.
struct NamedTime(String);

impl tracing_subscriber::fmt::time::FormatTime for NamedTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        tracing_subscriber::fmt::time::SystemTime.format_time(w)?;
        write!(w, " [{}]", self.0)
    }
}

/// Logs to stderr, one line per event, each with the member's `name`.
/// `CONCORD_LOG` (else `RUST_LOG`) overrides `level`: a bare level
/// (`debug`) keeps the default filter at that level, anything else is a
/// tracing filter (`info,concord_consensus=debug`).
pub fn init_logging(name: &str, level: &str) {
    // etcd's names for "errors only" and for warnings.
    let level = match level {
        "panic" | "fatal" => "error",
        "warning" => "warn",
        l => l,
    };
    let from_env = ["CONCORD_LOG", "RUST_LOG"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty());
    let filter = match from_env.as_deref() {
        Some(l @ ("trace" | "debug" | "info" | "warn" | "error" | "off")) => default_filter(l),
        Some(directives) => directives.to_string(),
        None => default_filter(level),
    };
    let (filter, bad) = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(f) => (f, None),
        Err(e) => (
            tracing_subscriber::EnvFilter::new(default_filter(level)),
            Some(format!("{filter:?}: {e}")),
        ),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_timer(NamedTime(name.to_string()))
        .with_target(false)
        .try_init();
    if let Some(bad) = bad {
        tracing::warn!("ignored CONCORD_LOG/RUST_LOG, not a log filter: {bad}; logging at {level}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_never_shows_more_of_openraft() {
        assert_eq!(default_filter("off"), "off");
        assert!(default_filter("error").starts_with("error,openraft=error,"));
        assert!(default_filter("info").starts_with("info,openraft=warn,"));
        assert!(default_filter("debug").contains(",h2=info"));
        assert!(!default_filter("info").contains("h2="));
    }
}
