//! etcdctl's global flags read into what the commands need: the endpoint
//! list (flags and `ETCDCTL_*` variables in etcdctl's order), the two
//! timeouts as Go durations, the output format, and the transport's
//! TLS files and Basic auth user (`getTransport`, `getUsernamePassword`).

use std::process::ExitCode;
use std::time::Duration;

use concord_store::go;

use super::cli::Cli;
use super::exit::{fail, EXIT_BAD_ARGS};
use super::output::Format;
use crate::http::{self, Security};
use crate::tls::{self, TlsFiles};

const DEFAULT_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";

/// The global flags a command needs.
pub struct Globals {
    pub endpoints: Vec<String>,
    pub no_sync: bool,
    pub debug: bool,
    pub timeout: Duration,
    pub total_timeout: Duration,
    pub format: Format,
}

/// etcdctl's `getPeersFlagValue`: the first non-empty of --endpoints,
/// $ETCDCTL_ENDPOINTS, --endpoint, $ETCDCTL_ENDPOINT, --peers,
/// $ETCDCTL_PEERS, else the default.
fn endpoints_flag(cli: &Cli) -> String {
    let env = |k: &str| std::env::var(k).ok();
    [
        cli.endpoints.clone(),
        env("ETCDCTL_ENDPOINTS"),
        cli.endpoint.clone(),
        env("ETCDCTL_ENDPOINT"),
        cli.peers.clone(),
        env("ETCDCTL_PEERS"),
    ]
    .into_iter()
    .flatten()
    .find(|s| !s.is_empty())
    .unwrap_or_else(|| DEFAULT_ENDPOINTS.to_string())
}

/// etcdctl's duration flags: Go's `time.ParseDuration`; a negative
/// duration is an expired deadline. `Err` is urfave/cli's answer to a bad
/// value: usage on stdout, the error on stderr, exit 1.
fn go_duration(flag: &str, value: &str) -> Result<Duration, ExitCode> {
    match go::parse_duration(value) {
        Ok(n) => Ok(Duration::from_nanos(n.max(0) as u64)),
        Err(_) => {
            let msg = format!(
                "invalid value {} for flag -{flag}: parse error",
                go::quote(value)
            );
            println!("Incorrect Usage. {msg}\n");
            eprintln!("{msg}");
            Err(ExitCode::from(EXIT_BAD_ARGS))
        }
    }
}

impl Globals {
    /// The global flags of `cli`; `Err` when a duration does not parse.
    pub fn from_cli(cli: &Cli) -> Result<Globals, ExitCode> {
        let timeout = go_duration("timeout", &cli.timeout)?;
        let total_timeout = go_duration("total-timeout", &cli.total_timeout)?;
        http::set_security(security(cli)?);
        Ok(Globals {
            timeout,
            total_timeout,
            endpoints: endpoints_flag(cli).split(',').map(String::from).collect(),
            no_sync: cli.no_sync,
            debug: cli.debug,
            format: Format::parse(&cli.output),
        })
    }
}

/// The transport's security, as etcdctl v2's `newClient` sets it up: TLS
/// for `https://` endpoints (the files given, else the system's roots),
/// and `--username` (`name:password`, or `name` and the password asked
/// for) sent as HTTP Basic auth on every request.
fn security(cli: &Cli) -> Result<Security, ExitCode> {
    let files = TlsFiles {
        ca: cli.ca_file.clone(),
        cert: cli.cert_file.clone(),
        key: cli.key_file.clone(),
        skip_verify: false,
    };
    let tls = tls::client_config(&files, &[b"http/1.1"])
        .map_err(|e| fail(EXIT_BAD_ARGS, &e.to_string()))?;
    let basic_auth = match cli.username.as_str() {
        "" => None,
        u => Some(match u.split_once(':') {
            Some((name, password)) => (name.to_string(), password.to_string()),
            None => {
                let password = crate::prompt::ask("Password: ")
                    .map_err(|e| fail(EXIT_BAD_ARGS, &e.to_string()))?;
                (u.to_string(), password)
            }
        }),
    };
    Ok(Security {
        tls: Some(tls),
        basic_auth,
    })
}
