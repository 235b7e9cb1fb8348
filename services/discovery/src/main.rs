//! `concord-discovery`: the discovery service (etcd's v2 discovery
//! protocol, as discovery.etcd.io served it) with its own SQLite store.
//! `curl http://127.0.0.1:2382/new?size=3` answers a discovery URL to give
//! each new member as `--discovery`. See the library's documentation.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{CommandFactory, Parser};
use concord_discovery::registry::Registry;
use concord_discovery::service;
use concord_process::args::{LogArgs, ProcessArgs};
use concord_process::serve::Serving;
use concord_process::{init_logging, listen_addr, shutdown_signal};
use concord_store::go;
use tokio::net::TcpListener;
use tracing::{error, info};

const DEFAULT_LISTEN_URL: &str = "http://127.0.0.1:2382";

/// The flags, each also a `CONCORD_*` variable and a config-file key
/// ([`concord_process::settings`]).
#[derive(Parser, Debug)]
#[command(
    name = "concord-discovery",
    version,
    about = "Concord's discovery service: `GET /new?size=N` makes a discovery token, and the \
             v2 keys API under /v2/keys/_etcd/registry/<token> serves etcd's v2 discovery \
             protocol to new members (`concord --discovery <url>`, or etcd's). Registrations \
             are kept in SQLite (fsync'd) in --data-dir. \
             Settings: defaults < --config-file (YAML, keys as the flags; see \
             config/concord-discovery.yaml) < CONCORD_* environment < flags."
)]
struct Flags {
    #[command(flatten)]
    process: ProcessArgs,
    /// URL to serve on, as http://host:port (port 0 picks a free port; the
    /// one bound is logged).
    #[arg(long, default_value = DEFAULT_LISTEN_URL)]
    listen_url: String,
    /// The URL members reach this service at: the base of the discovery
    /// URLs that /new answers with [default: the listen URL, with the port
    /// bound].
    #[arg(long)]
    advertise_url: Option<String>,
    /// Directory of the SQLite store (created if missing).
    #[arg(long, default_value = "concord-discovery.data")]
    data_dir: String,
    /// How long a token lives after its first write, as a Go duration
    /// (168h, 30m, 90s; also 7d); then it is deleted with its registrations.
    #[arg(long, default_value = "168h")]
    token_ttl: String,
    /// A token made at start-up unless it exists, as TOKEN=SIZE (for
    /// deployments that give their members the discovery URL in advance,
    /// <advertise URL>/v2/keys/_etcd/registry/TOKEN; compose's discovery
    /// profile). Empty: none.
    #[arg(long, default_value = "")]
    token: String,
    #[command(flatten)]
    log: LogArgs,
}

/// The service's command: its flags with its default name.
fn command() -> clap::Command {
    concord_process::settings::command(Flags::command(), "discovery")
}

fn main() -> std::process::ExitCode {
    let settings: Flags = concord_process::settings::load_or_exit(command());
    // etcd's levels (panic and fatal log as error).
    if !matches!(
        settings.log.log_level.as_str(),
        "debug" | "info" | "warn" | "error" | "panic" | "fatal"
    ) {
        eprintln!(
            "concord-discovery: unknown level {:?} (--log-level supports debug, info, warn, error, panic, fatal)",
            settings.log.log_level
        );
        return std::process::ExitCode::from(1);
    }
    init_logging(&settings.process.name, &settings.log.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

/// `--token-ttl`: Go's duration syntax (`168h`, `1h30m`, `500ms`) plus `d`
/// for days; a bare number is seconds; no sign.
fn token_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let bad = || format!("time: invalid duration {s:?}");
    if s.starts_with(['+', '-']) {
        return Err(bad());
    }
    go::parse_duration_with_days(s)
        .map(|n| Duration::from_nanos(n as u64))
        .map_err(|_| bad())
}

/// How long requests in flight may finish after a stop signal: the keys
/// API's long-poll watches (`?wait=true`) never finish on their own and
/// are cut then.
const STOP_GRACE: Duration = Duration::from_secs(5);

async fn run(s: Flags) -> anyhow::Result<()> {
    let ttl = token_ttl(&s.token_ttl)
        .map_err(|e| anyhow::anyhow!("--token-ttl {:?}: {e}", s.token_ttl))?;
    if ttl.is_zero() {
        bail!("--token-ttl must be more than 0");
    }
    let addr = listen_addr(&s.listen_url)?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {}", s.listen_url))?;
    let bound = listener.local_addr()?;
    let listen_url = format!("http://{bound}");
    let advertise_url = s
        .advertise_url
        .clone()
        .unwrap_or_else(|| listen_url.clone());
    let data_dir = std::path::PathBuf::from(&s.data_dir);
    let registry = tokio::task::spawn_blocking(move || Registry::open(&data_dir)).await??;
    info!(
        "starting concord-discovery {} (data in {}, tokens live {})",
        env!("CARGO_PKG_VERSION"),
        s.data_dir,
        s.token_ttl
    );
    if let Some((token, size)) = startup_token(&s.token)? {
        let reg = registry.clone();
        let name = token.clone();
        let made =
            tokio::task::spawn_blocking(move || service::ensure_token(&reg, &name, size)).await??;
        let url = service::discovery_url(&advertise_url, &token);
        if made {
            info!("New cluster created {token} (size {size}): {url}");
        } else {
            info!("token {token} exists already: {url}");
        }
    }
    let expiry = tokio::spawn(expire_tokens(registry.clone(), ttl));
    let app = service::router(registry, &s.process.name, &advertise_url);
    info!("listening for discovery requests on {listen_url}, discovery URLs advertise {advertise_url}");
    let mut serving = Serving::new();
    serving.http(listener, app);
    shutdown_signal().await;
    info!("received a stop signal, shutting down");
    serving.stop(STOP_GRACE).await;
    expiry.abort();
    info!("concord-discovery stopped");
    Ok(())
}

/// `--token TOKEN=SIZE`, if given.
fn startup_token(given: &str) -> anyhow::Result<Option<(String, i64)>> {
    let given = given.trim();
    if given.is_empty() {
        return Ok(None);
    }
    let bad = || anyhow::anyhow!("--token {given:?}: expected TOKEN=SIZE, as compose=3");
    let (token, size) = given.split_once('=').ok_or_else(bad)?;
    let size: i64 = size.trim().parse().map_err(|_| bad())?;
    let token = token.trim();
    if size < 1
        || token.is_empty()
        || !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(bad());
    }
    Ok(Some((token.to_string(), size)))
}

/// Deletes expired tokens, checking every tenth of the TTL (between 1 s
/// and a minute).
async fn expire_tokens(registry: Arc<Registry>, ttl: Duration) {
    let every = (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::time::sleep(every).await;
        let reg = registry.clone();
        let _ = tokio::task::spawn_blocking(move || reg.expire_tokens(ttl)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_set_by_its_flag_variable_and_file_key() {
        let failures = concord_process::flags_check::check_split_binary(command);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn token_ttls() {
        assert_eq!(token_ttl("168h"), Ok(Duration::from_secs(168 * 3600)));
        assert_eq!(token_ttl("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(token_ttl("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(token_ttl(" 90 "), Ok(Duration::from_secs(90)));
        assert_eq!(token_ttl("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(token_ttl(""), Err("time: invalid duration \"\"".into()));
        assert_eq!(
            token_ttl("soon"),
            Err("time: invalid duration \"soon\"".into())
        );
        assert!(token_ttl("5x").is_err());
        assert!(token_ttl("-5s").is_err());
    }
}
