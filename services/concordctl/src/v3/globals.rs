//! etcdctl's global flags turned into a client and a writer
//! (`ctlv3/command/global.go`, `clientConfigFromCmd`): the inherited
//! flags read from `ETCDCTL_*` variables where the command line left them
//! unset (etcd's `pkg/flags`, with its warnings), `--debug`'s listing of
//! them, the endpoints, timeouts and keepalives, and the `-w` writer.
//!
//! Commands call [`session`] where etcdctl calls `mustClientFromCmd`:
//! after their own argument checks, so those errors come first.

use std::time::Duration;

use crate::prompt;
use crate::tls::{self, TlsFiles};
use crate::v3::cli::spec::{Flag, Kind};
use crate::v3::cli::Parsed;
use crate::v3::client::{log, Client, Config};
use crate::v3::exit::{Fail, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_BAD_FEATURE, EXIT_ERROR};
use crate::v3::go_text;
use crate::v3::printer::Writer;

/// What a command talks with and prints with.
pub struct Session {
    pub client: Client,
    pub writer: Writer,
    pub endpoints: Vec<String>,
    pub command_timeout: Duration,
}

/// `ETCDCTL_<NAME>` for a flag name (`FlagToEnv`).
fn env_name(flag: &str) -> String {
    format!("ETCDCTL_{}", flag.to_uppercase().replace('-', "_"))
}

/// The flags a command inherits from its parents (the globals, and
/// `--cluster` under `endpoint`).
fn inherited(p: &Parsed) -> Vec<&'static Flag> {
    let mut flags: Vec<&'static Flag> = p.path[..p.path.len() - 1]
        .iter()
        .flat_map(|c| c.persistent.iter())
        .collect();
    flags.sort_by_key(|f| f.name);
    flags
}

/// etcd's `SetPflagsFromEnv` over the inherited flags, then `verifyEnv`:
/// an `ETCDCTL_*` variable no flag takes is warned of; one the command
/// line also set is fatal. `watch` also takes its key variables.
pub fn apply_env(p: &mut Parsed) -> Result<(), Fail> {
    let flags = inherited(p);
    let mut used: Vec<String> = Vec::new();
    let mut shadowed: Vec<String> = Vec::new();
    for f in flags.iter().copied() {
        let key = env_name(f.name);
        if p.changed(f.name) {
            shadowed.push(key);
            continue;
        }
        if let Ok(v) = std::env::var(&key) {
            if !v.is_empty() {
                used.push(key);
                p.set_from_env(f, v);
            }
        }
    }
    if p.path.last().is_some_and(|c| c.name == "watch") {
        used.push("ETCDCTL_WATCH_KEY".into());
        used.push("ETCDCTL_WATCH_RANGE_END".into());
    }
    for (k, v) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if used.contains(&k) {
            continue;
        }
        if shadowed.contains(&k) {
            log::capnslog(
                'C',
                "pkg/flags",
                &format!(
                    "conflicting environment variable {} is shadowed by corresponding command-line flag (either unset environment variable or disable flag)",
                    concord_store::go::quote(&k)
                ),
            );
            return Err(Fail::silent(EXIT_ERROR));
        }
        if k.starts_with("ETCDCTL_") {
            log::capnslog(
                'W',
                "pkg/flags",
                &format!(
                    "unrecognized environment variable {k}={}",
                    v.to_string_lossy()
                ),
            );
        }
    }
    Ok(())
}

/// A flag's value as pflag's `Value.String()` prints it.
fn value_string(p: &Parsed, f: &Flag) -> String {
    match f.kind {
        Kind::StrSlice => format!("[{}]", p.strings(f.name).join(",")),
        Kind::Duration => go_text::duration(p.duration(f.name)),
        Kind::Bool => p.bool(f.name).to_string(),
        Kind::Int64 => p.int64(f.name).to_string(),
        Kind::Str => p.string(f.name),
    }
}

fn duration(p: &Parsed, name: &str) -> Duration {
    Duration::from_nanos(p.duration(name).max(0) as u64)
}

/// The command's deadline for one call (`--command-timeout`).
pub fn command_timeout(p: &Parsed) -> Duration {
    duration(p, "command-timeout")
}

/// The endpoints, trimmed (`endpointsFromCmd`).
pub fn endpoints(p: &Parsed) -> Vec<String> {
    p.strings("endpoints")
        .into_iter()
        .map(|e| e.trim().to_string())
        .collect()
}

/// The `-w` writer (`initDisplayFromCmd`).
pub fn writer(p: &Parsed) -> Result<Writer, Fail> {
    Writer::parse(&p.string("write-out"), p.bool("hex"))
        .ok_or_else(|| Fail::new(EXIT_BAD_FEATURE, "unsupported output format"))
}

/// etcdctl's `mustClientFromCmd`.
pub fn session(p: &mut Parsed) -> Result<Session, Fail> {
    apply_env(p)?;
    if p.bool("debug") {
        for f in inherited(p) {
            eprintln!("{}={}", env_name(f.name), value_string(p, f));
        }
    }
    let endpoints = endpoints(p);
    let (cfg, writer) = client_config(p)?;
    let client = Client::new(cfg);
    // clientv3.New fails, and etcdctl exits, when the first token cannot
    // be had (wrong password, no server within the dial timeout).
    client
        .authenticate()
        .map_err(|e| Fail::new(EXIT_BAD_CONNECTION, e.text()))?;
    Ok(Session {
        client,
        writer,
        endpoints,
        command_timeout: command_timeout(p),
    })
}

/// etcdctl's `clientConfigFromCmd` and `newClientCfg` after the
/// environment is applied: the client's settings (TLS, the user) and the
/// writer, failing in etcdctl's order (TLS flags, password prompt, writer,
/// TLS files).
pub fn client_config(p: &Parsed) -> Result<(Config, Writer), Fail> {
    check_security(p)?;
    let auth = auth(p)?;
    let writer = writer(p)?;
    let tls = tls_config(p).map_err(|e| Fail::new(EXIT_BAD_ARGS, e.to_string()))?;
    let cfg = Config {
        endpoints: endpoints(p),
        dial_timeout: duration(p, "dial-timeout"),
        keepalive_time: duration(p, "keepalive-time"),
        keepalive_timeout: duration(p, "keepalive-timeout"),
        tls,
        // clientv3 authenticates only with both a name and a password.
        auth: auth.filter(|(name, password)| !name.is_empty() && !password.is_empty()),
    };
    Ok((cfg, writer))
}

/// etcdctl's `newClientCfg`: TLS is set up when a file is given or
/// `--insecure-transport=false`; `--insecure-skip-tls-verify` only applies
/// to that configuration (an `https://` endpoint without one is checked
/// against the system's roots).
fn tls_config(p: &Parsed) -> Result<Option<std::sync::Arc<rustls::ClientConfig>>, tls::TlsError> {
    let files = TlsFiles {
        ca: p.string("cacert"),
        cert: p.string("cert"),
        key: p.string("key"),
        skip_verify: p.bool("insecure-skip-tls-verify"),
    };
    if !files.any() && p.bool("insecure-transport") {
        return Ok(None);
    }
    tls::client_config(&files, &[b"h2"]).map(Some)
}

/// etcdctl's `authCfgFromCmd`: `--user name:password`, or `--user name`
/// and the password asked for (`Password: `), or `--user name` with
/// `--password`.
fn auth(p: &Parsed) -> Result<Option<(String, String)>, Fail> {
    let user = p.string("user");
    if user.is_empty() {
        return Ok(None);
    }
    let password = p.string("password");
    if !password.is_empty() {
        return Ok(Some((user, password)));
    }
    match user.split_once(':') {
        Some((name, password)) => Ok(Some((name.to_string(), password.to_string()))),
        None => {
            let password =
                prompt::ask("Password: ").map_err(|e| Fail::new(EXIT_ERROR, e.to_string()))?;
            Ok(Some((user, password)))
        }
    }
}

/// etcdctl's checks of the TLS flags (`keyAndCertFromCmd`), then what
/// concordctl does not do yet: DNS discovery.
fn check_security(p: &Parsed) -> Result<(), Fail> {
    for name in ["cert", "key", "cacert"] {
        if p.changed(name) && p.string(name).is_empty() {
            return Err(Fail::new(
                EXIT_BAD_ARGS,
                format!("empty string is passed to --{name} option"),
            ));
        }
    }
    if !p.string("discovery-srv").is_empty() {
        return Err(Fail::new(
            EXIT_ERROR,
            "concordctl does not support --discovery-srv yet (DNS discovery)",
        ));
    }
    Ok(())
}
