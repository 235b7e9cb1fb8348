//! # concordctl: etcdctl's v2 commands for Concord
//!
//! Speaks the etcd v2 HTTP API to any endpoint (Concord or etcd) and prints
//! exactly what `ETCDCTL_API=2 etcdctl` 3.4 prints: the same output formats
//! (`-o simple|json|extended`), error lines (`Error:  100: Key not found
//! (/foo) [12]`), exit codes (1 bad arguments, 2 no endpoint reachable
//! while syncing, 4 a failed request, 5 an unhealthy cluster) and, with
//! `--debug`, the same cURL lines on stderr.
//!
//! Like etcdctl, every command but `cluster-health` first syncs the member
//! list from the endpoints (`GET /v2/members`) and then talks to the
//! members' client URLs (`--no-sync` keeps the given endpoints), trying
//! them in a random order with fail-over; `--timeout` bounds each request
//! until its response headers, `--total-timeout` each command step.
//!
//! - `main.rs`: the command line (clap, etcdctl's spellings) and commands,
//!   in the order etcdctl's `ctlv2/command/*.go` does things;
//! - `client.rs`: etcd's Go v2 client: endpoints, sync, fail-over, errors;
//! - `http.rs`: HTTP/1.1 over `std::net`, and Go's URL and escaping rules;
//! - `output.rs`: etcdctl's printers.

mod client;
mod http;
mod output;
mod probe;

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use concord_store::go;

use crate::client::{Action, Client, Config, Error, SetOptions};
use crate::output::{print_ls, print_response, Format};

/// etcdctl's exit codes (`ctlv2/command/error.go`).
const EXIT_BAD_ARGS: u8 = 1;
const EXIT_BAD_CONNECTION: u8 = 2;
const EXIT_SERVER_ERROR: u8 = 4;
const EXIT_CLUSTER_NOT_HEALTHY: u8 = 5;

const DEFAULT_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";

#[derive(Parser, Debug)]
#[command(
    name = "concordctl",
    version,
    about = "A simple command line client for etcd (v2 API)."
)]
struct Cli {
    /// a comma-delimited list of machine addresses in the cluster (default: "http://127.0.0.1:2379,http://127.0.0.1:4001")
    #[arg(long = "endpoints", global = true)]
    endpoints: Option<String>,
    /// DEPRECATED - "--endpoints" should be used instead
    #[arg(long = "endpoint", global = true)]
    endpoint: Option<String>,
    /// DEPRECATED - "--endpoints" should be used instead
    #[arg(long = "peers", short = 'C', global = true)]
    peers: Option<String>,
    /// output response in the given format (`simple`, `extended` or `json`)
    #[arg(long = "output", short = 'o', default_value = "simple", global = true)]
    output: String,
    /// don't synchronize cluster information before sending request
    #[arg(long = "no-sync", global = true)]
    no_sync: bool,
    /// output cURL commands which can be used to reproduce the request
    #[arg(long, global = true)]
    debug: bool,
    /// connection timeout per request
    #[arg(long, default_value = "2s", global = true)]
    timeout: String,
    /// timeout for the command execution (except watch)
    #[arg(long = "total-timeout", default_value = "5s", global = true)]
    total_timeout: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Args, Debug, Default)]
struct TtlArg {
    /// key time-to-live in seconds
    #[arg(long, default_value_t = 0)]
    ttl: u64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// retrieve the value of a key
    Get {
        key: Option<String>,
        /// returns result in sorted order
        #[arg(long)]
        sort: bool,
        /// require quorum for get request
        #[arg(long, short = 'q')]
        quorum: bool,
    },
    /// set the value of a key
    Set {
        key: Option<String>,
        value: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
        /// previous value
        #[arg(long = "swap-with-value", default_value = "")]
        swap_with_value: String,
        /// previous index
        #[arg(long = "swap-with-index", default_value_t = 0)]
        swap_with_index: u64,
    },
    /// make a new key with a given value
    Mk {
        key: Option<String>,
        value: Option<String>,
        /// create in-order key under directory
        #[arg(long = "in-order")]
        in_order: bool,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// make a new directory
    Mkdir {
        key: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// create a new directory or update an existing directory TTL
    Setdir {
        key: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// update an existing key with a given value
    Update {
        key: Option<String>,
        value: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// update an existing directory
    Updatedir {
        key: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// remove a key or a directory
    Rm {
        key: Option<String>,
        /// removes the key if it is an empty directory or a key-value pair
        #[arg(long)]
        dir: bool,
        /// removes the key and all child keys(if it is a directory)
        #[arg(long, short = 'r')]
        recursive: bool,
        /// previous value
        #[arg(long = "with-value", default_value = "")]
        with_value: String,
        /// previous index
        #[arg(long = "with-index", default_value_t = 0)]
        with_index: u64,
    },
    /// removes the key if it is an empty directory or a key-value pair
    Rmdir { key: Option<String> },
    /// retrieve a directory
    Ls {
        key: Option<String>,
        /// returns result in sorted order
        #[arg(long)]
        sort: bool,
        /// returns all key names recursively for the given path
        #[arg(long, short = 'r')]
        recursive: bool,
        /// append slash (/) to directories
        #[arg(short = 'p')]
        p: bool,
        /// require quorum for get request
        #[arg(long, short = 'q')]
        quorum: bool,
    },
    /// watch a key for changes
    Watch {
        key: Option<String>,
        /// forever watch a key until CTRL+C
        #[arg(long, short = 'f')]
        forever: bool,
        /// watch after the given index
        #[arg(long = "after-index", default_value_t = 0)]
        after_index: u64,
        /// returns all values for key and child keys
        #[arg(long, short = 'r')]
        recursive: bool,
    },
    /// watch a key for changes and exec an executable
    #[command(name = "exec-watch")]
    ExecWatch {
        /// watch after the given index
        #[arg(long = "after-index", default_value_t = 0)]
        after_index: u64,
        /// watch all values for key and child keys
        #[arg(long, short = 'r')]
        recursive: bool,
        /// <key> -- <command> [args...]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// member add, remove and list subcommands
    Member {
        #[command(subcommand)]
        action: MemberCmd,
    },
    /// check the health of the etcd cluster
    #[command(name = "cluster-health")]
    ClusterHealth {
        /// forever check the health every 10 second until CTRL+C
        #[arg(long, short = 'f')]
        forever: bool,
    },
    /// Concord's own container healthcheck (not etcdctl's, hence hidden):
    /// `probe URL` checks a v2 endpoint's /health, `probe --grpc URL` a
    /// gRPC endpoint's grpc.health.v1 service; exit 0 healthy, 1 not;
    /// bounded by --timeout. See probe.rs.
    #[command(hide = true)]
    Probe {
        /// the endpoint speaks gRPC (concord-consensus, concord-watch)
        #[arg(long)]
        grpc: bool,
        url: String,
    },
}

#[derive(Subcommand, Debug)]
enum MemberCmd {
    /// enumerate existing cluster members
    List {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// add a new member to the etcd cluster (<name> <peerURL>)
    Add { args: Vec<String> },
    /// remove an existing member from the etcd cluster (<memberID>)
    Remove { args: Vec<String> },
    /// update an existing member in the etcd cluster (<memberID> <peerURLs>)
    Update { args: Vec<String> },
}

/// etcdctl's `handleError`: `Error:  <err>` on stderr (and a cluster
/// error's detail), and the exit code.
fn handle_error(code: u8, err: &Error) -> ExitCode {
    eprintln!("Error:  {}", err.text());
    if let Some(detail) = err.detail() {
        eprintln!("{detail}");
    }
    ExitCode::from(code)
}

/// `handleError` with a plain message (argument errors).
fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("Error:  {msg}");
    ExitCode::from(code)
}

/// A member command's own error: the message alone, exit 1.
fn member_fail(msg: &str) -> ExitCode {
    eprintln!("{msg}");
    ExitCode::from(EXIT_BAD_ARGS)
}

fn need(arg: Option<String>, what: &str) -> Result<String, ExitCode> {
    arg.ok_or_else(|| fail(EXIT_BAD_ARGS, what))
}

/// etcdctl's `argOrStdin`: the argument, else all of stdin (not empty).
fn arg_or_stdin(arg: Option<String>) -> Result<String, ExitCode> {
    if let Some(a) = arg {
        return Ok(a);
    }
    let mut s = String::new();
    match std::io::stdin().read_to_string(&mut s) {
        Ok(_) if !s.is_empty() => Ok(s),
        _ => Err(fail(EXIT_BAD_ARGS, "value required")),
    }
}

/// The global flags a command needs.
struct Globals {
    endpoints: Vec<String>,
    no_sync: bool,
    debug: bool,
    timeout: Duration,
    total_timeout: Duration,
    format: Format,
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
/// duration is an expired deadline.
fn go_duration(s: &str) -> Option<Duration> {
    go::parse_duration(s)
        .ok()
        .map(|n| Duration::from_nanos(n.max(0) as u64))
}

/// urfave/cli's answer to a bad flag value: usage on stdout, the error on
/// stderr, exit 1.
fn bad_duration(flag: &str, value: &str) -> ExitCode {
    let msg = format!(
        "invalid value {} for flag -{flag}: parse error",
        go::quote(value)
    );
    println!("Incorrect Usage. {msg}\n");
    eprintln!("{msg}");
    ExitCode::from(EXIT_BAD_ARGS)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_BAD_ARGS } else { 0 });
        }
    };
    let Some(timeout) = go_duration(&cli.timeout) else {
        return bad_duration("timeout", &cli.timeout);
    };
    let Some(total_timeout) = go_duration(&cli.total_timeout) else {
        return bad_duration("total-timeout", &cli.total_timeout);
    };
    let g = Globals {
        endpoints: endpoints_flag(&cli).split(',').map(String::from).collect(),
        no_sync: cli.no_sync,
        debug: cli.debug,
        timeout,
        total_timeout,
        format: Format::parse(&cli.output),
    };
    match run(&g, cli.command) {
        Ok(code) | Err(code) => code,
    }
}

/// etcdctl's `mustNewClient` (`sync`) and `mustNewClientNoSync`.
fn must_new_client(g: &Globals, sync: bool) -> Result<Client, ExitCode> {
    let mut c = Client::new(Config {
        endpoints: g.endpoints.clone(),
        header_timeout: g.timeout,
        total_timeout: g.total_timeout,
        debug: g.debug,
    })
    .map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(EXIT_BAD_ARGS)
    })?;
    if sync && !g.no_sync {
        if g.debug {
            eprintln!(
                "start to sync cluster using endpoints({})",
                c.endpoints().join(",")
            );
        }
        let ctx = c.total_context();
        if let Err(e) = c.sync(ctx) {
            if matches!(e, Error::NoEndpoints) {
                eprintln!("etcd cluster has no published client endpoints.");
                eprintln!(
                    "Try '--no-sync' if you want to access non-published client endpoints({}).",
                    c.endpoints().join(",")
                );
                return Err(handle_error(EXIT_SERVER_ERROR, &e));
            }
            if e.is_connection() {
                return Err(handle_error(EXIT_BAD_CONNECTION, &e));
            }
            // Any other failure to sync is ignored: the command goes on
            // with the given endpoints.
        }
        if g.debug {
            eprintln!("got endpoints({}) after sync", c.endpoints().join(","));
        }
    }
    if g.debug {
        eprintln!("Cluster-Endpoints: {}", c.endpoints().join(", "));
    }
    Ok(c)
}

/// One keys request with a `--total-timeout` context; a failure is
/// `handleError(ExitServerError)`.
fn keys(c: &mut Client, act: &Action, one_shot: bool) -> Result<client::KeysResponse, ExitCode> {
    let ctx = c.total_context();
    c.keys(act, ctx, one_shot)
        .map_err(|e| handle_error(EXIT_SERVER_ERROR, &e))
}

fn run(g: &Globals, cmd: Cmd) -> Result<ExitCode, ExitCode> {
    let format = &g.format;
    match cmd {
        Cmd::Member { action } => return member(g, action).map(|_| ExitCode::SUCCESS),
        Cmd::ClusterHealth { forever } => return Ok(cluster_health(g, forever)),
        Cmd::Probe { grpc, url } => return Ok(probe::run(&url, grpc, g.timeout)),
        _ => {}
    }
    // Every keys command builds (and syncs) its client before it looks at
    // its arguments.
    let mut c = must_new_client(g, true)?;
    let c = &mut c;
    match cmd {
        Cmd::Get { key, sort, quorum } => {
            let key = need(key, "key required")?;
            let resp = keys(c, &Action::get(&key, false, sort, quorum), false)?;
            if resp.node_is_dir() {
                eprintln!("{}: is a directory", resp.node_key());
                return Err(ExitCode::from(EXIT_BAD_ARGS));
            }
            print_response(&resp, format);
        }
        Cmd::Set {
            key,
            value,
            ttl,
            swap_with_value,
            swap_with_index,
        } => {
            let key = need(key, "key required")?;
            let value = arg_or_stdin(value)?;
            let o = SetOptions {
                prev_value: swap_with_value,
                prev_index: swap_with_index,
                ttl: ttl.ttl,
                ..Default::default()
            };
            let resp = keys(c, &Action::set(&key, &value, &o), false)?;
            print_response(&resp, format);
        }
        Cmd::Mk {
            key,
            value,
            in_order,
            ttl,
        } => {
            let key = need(key, "key required")?;
            let value = arg_or_stdin(value)?;
            let resp = if in_order {
                keys(c, &Action::create_in_order(&key, &value, ttl.ttl), false)?
            } else {
                let o = SetOptions {
                    prev_exist: Some("false"),
                    ttl: ttl.ttl,
                    ..Default::default()
                };
                // A create is one-shot: no fail-over after a failure.
                keys(c, &Action::set(&key, &value, &o), true)?
            };
            print_response(&resp, format);
        }
        Cmd::Mkdir { key, ttl } => dir_command(c, key, ttl.ttl, Some("false"), format)?,
        Cmd::Setdir { key, ttl } => dir_command(c, key, ttl.ttl, None, format)?,
        Cmd::Updatedir { key, ttl } => dir_command(c, key, ttl.ttl, Some("true"), format)?,
        Cmd::Update { key, value, ttl } => {
            let key = need(key, "key required")?;
            let value = arg_or_stdin(value)?;
            let o = SetOptions {
                prev_exist: Some("true"),
                ttl: ttl.ttl,
                ..Default::default()
            };
            let resp = keys(c, &Action::set(&key, &value, &o), false)?;
            print_response(&resp, format);
        }
        Cmd::Rm {
            key,
            dir,
            recursive,
            with_value,
            with_index,
        } => {
            let key = need(key, "key required")?;
            let act = Action::delete(&key, &with_value, with_index, dir, recursive);
            // A delete is one-shot.
            let resp = keys(c, &act, true)?;
            if !resp.node_is_dir() || *format != Format::Simple {
                print_response(&resp, format);
            }
        }
        Cmd::Rmdir { key } => {
            let key = need(key, "key required")?;
            let resp = keys(c, &Action::delete(&key, "", 0, true, false), true)?;
            if !resp.node_is_dir() || *format != Format::Simple {
                print_response(&resp, format);
            }
        }
        Cmd::Ls {
            key,
            sort,
            recursive,
            p,
            quorum,
        } => {
            let key = key.unwrap_or_else(|| "/".into());
            let resp = keys(c, &Action::get(&key, recursive, sort, quorum), false)?;
            print_ls(&resp, format, p);
        }
        Cmd::Watch {
            key,
            forever,
            after_index,
            recursive,
        } => {
            let key = need(key, "key required")?;
            let mut w = Watcher::new(&key, after_index, recursive);
            loop {
                let resp = w.next(c)?;
                if resp.node_is_dir() {
                    continue;
                }
                if recursive {
                    println!(
                        "[{}] {}",
                        resp.body["action"].as_str().unwrap_or(""),
                        resp.node_key()
                    );
                }
                print_response(&resp, format);
                if !forever {
                    break;
                }
            }
        }
        Cmd::ExecWatch {
            after_index,
            recursive,
            args,
        } => {
            return exec_watch(c, after_index, recursive, args);
        }
        Cmd::Member { .. } | Cmd::ClusterHealth { .. } | Cmd::Probe { .. } => {
            unreachable!("handled above")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The Go client's `httpWatcher`: `wait=true` requests without a deadline,
/// each from the index after the last event; empty answers are retried.
struct Watcher {
    key: String,
    wait_index: u64,
    recursive: bool,
}

impl Watcher {
    fn new(key: &str, after_index: u64, recursive: bool) -> Watcher {
        Watcher {
            key: key.to_string(),
            wait_index: if after_index > 0 { after_index + 1 } else { 0 },
            recursive,
        }
    }

    fn next(&mut self, c: &mut Client) -> Result<client::KeysResponse, ExitCode> {
        loop {
            let act = Action::wait(&self.key, self.wait_index, self.recursive);
            match c.keys(&act, None, false) {
                Ok(resp) => {
                    self.wait_index = resp.node_modified_index() + 1;
                    return Ok(resp);
                }
                Err(e) if e.is_empty_body() => continue,
                Err(e) => return Err(handle_error(EXIT_SERVER_ERROR, &e)),
            }
        }
    }
}

/// etcdctl's `exec-watch`: runs the command for every change of the key,
/// with `ETCD_WATCH_{ACTION,MODIFIED_INDEX,KEY,VALUE}` in its environment.
fn exec_watch(
    c: &mut Client,
    after_index: u64,
    recursive: bool,
    args: Vec<String>,
) -> Result<ExitCode, ExitCode> {
    if args.len() < 2 {
        return Err(fail(EXIT_BAD_ARGS, "key and command to exec required"));
    }
    // etcdctl: with `--` after the key, the command follows it; without,
    // the key is the last word. (clap may or may not keep the `--` in
    // `args`, so the raw command line is checked too.)
    let separated = std::env::args()
        .skip_while(|a| a != "exec-watch")
        .any(|a| a == "--");
    let (key, command) = if args[1] == "--" {
        (args[0].clone(), args[2..].to_vec())
    } else if separated {
        (args[0].clone(), args[1..].to_vec())
    } else {
        (
            args[args.len() - 1].clone(),
            args[..args.len() - 1].to_vec(),
        )
    };
    if command.is_empty() {
        return Err(fail(EXIT_BAD_ARGS, "key and command to exec required"));
    }
    let mut w = Watcher::new(&key, after_index, recursive);
    loop {
        let resp = w.next(c)?;
        if resp.node_is_dir() {
            eprintln!("Ignored dir {} change", resp.node_key());
            continue;
        }
        let node = &resp.body["node"];
        let spawned = std::process::Command::new(&command[0])
            .args(&command[1..])
            .env(
                "ETCD_WATCH_ACTION",
                resp.body["action"].as_str().unwrap_or(""),
            )
            .env(
                "ETCD_WATCH_MODIFIED_INDEX",
                resp.node_modified_index().to_string(),
            )
            .env("ETCD_WATCH_KEY", resp.node_key())
            .env("ETCD_WATCH_VALUE", node["value"].as_str().unwrap_or(""))
            .spawn();
        match spawned {
            // Like etcdctl, the command runs while the next change is awaited.
            Ok(child) => {
                std::thread::spawn(move || {
                    let mut child = child;
                    let _ = child.wait();
                });
            }
            Err(e) => {
                eprint!("{e}");
                return Err(ExitCode::from(EXIT_BAD_ARGS));
            }
        }
    }
}

fn dir_command(
    c: &mut Client,
    key: Option<String>,
    ttl: u64,
    prev_exist: Option<&'static str>,
    format: &Format,
) -> Result<(), ExitCode> {
    let key = need(key, "key required")?;
    let o = SetOptions {
        prev_exist,
        ttl,
        dir: true,
        ..Default::default()
    };
    let resp = keys(c, &Action::set(&key, "", &o), prev_exist == Some("false"))?;
    if *format != Format::Simple {
        print_response(&resp, format);
    }
    Ok(())
}

/// etcdctl's `member` commands: arguments are checked before the client is
/// built; their errors are printed bare, with exit code 1.
fn member(g: &Globals, action: MemberCmd) -> Result<(), ExitCode> {
    let fatal = |e: &Error| member_fail(&e.text());
    match action {
        MemberCmd::List { args } => {
            if !args.is_empty() {
                return Err(member_fail("No arguments accepted"));
            }
            let mut c = must_new_client(g, true)?;
            let ctx = c.total_context();
            let members = c.members(ctx).map_err(|e| fatal(&e))?;
            let leader = c.leader(ctx).map_err(|e| {
                eprintln!("Failed to get leader:  {}", e.text());
                ExitCode::from(EXIT_BAD_ARGS)
            })?;
            for m in members {
                if m.name.is_empty() {
                    println!("{}[unstarted]: peerURLs={}", m.id, m.peer_urls.join(","));
                } else {
                    println!(
                        "{}: name={} peerURLs={} clientURLs={} isLeader={}",
                        m.id,
                        m.name,
                        m.peer_urls.join(","),
                        m.client_urls.join(","),
                        m.id == leader.id
                    );
                }
            }
        }
        MemberCmd::Add { args } => {
            let [name, url] = <[String; 2]>::try_from(args)
                .map_err(|_| member_fail("Provide a name and a single member peerURL"))?;
            let mut c = must_new_client(g, true)?;
            let ctx = c.total_context();
            let added = c.add_member(ctx, &url).map_err(|e| fatal(&e))?;
            println!("Added member named {name} with ID {} to cluster", added.id);
            let members = c.members(ctx).map_err(|e| fatal(&e))?;
            let mut conf = Vec::new();
            for m in members {
                for u in &m.peer_urls {
                    let n = if m.id == added.id { &name } else { &m.name };
                    conf.push(format!("{n}={u}"));
                }
            }
            println!();
            println!("ETCD_NAME={}", go::quote(&name));
            println!("ETCD_INITIAL_CLUSTER={}", go::quote(&conf.join(",")));
            println!("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
        }
        MemberCmd::Remove { args } => {
            let [id] = <[String; 1]>::try_from(args)
                .map_err(|_| member_fail("Provide a single member ID"))?;
            let mut c = must_new_client(g, true)?;
            let ctx = c.total_context();
            let members = c.members(ctx).map_err(|e| {
                member_fail(&format!(
                    "Error while verifying ID against known members: {}",
                    e.text()
                ))
            })?;
            let mut found = false;
            for m in &members {
                if m.id == id {
                    found = true;
                }
                if m.name == id {
                    eprintln!(
                        "Found a member named {}; if this is correct, please use its ID, eg:\n\tetcdctl member remove {}",
                        m.name, m.id
                    );
                    eprintln!("For more details, read the documentation at https://github.com/etcd-io/etcd/blob/master/Documentation/runtime-configuration.md#remove-a-member\n");
                }
            }
            if !found {
                return Err(member_fail(&format!(
                    "Couldn't find a member in the cluster with an ID of {id}."
                )));
            }
            c.remove_member(ctx, &id).map_err(|e| {
                eprint!(
                    "Received an error trying to remove member {id}: {}",
                    e.text()
                );
                ExitCode::from(EXIT_BAD_ARGS)
            })?;
            println!("Removed member {id} from cluster");
        }
        MemberCmd::Update { args } => {
            let [id, urls] = <[String; 2]>::try_from(args).map_err(|_| {
                member_fail("Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)")
            })?;
            let mut c = must_new_client(g, true)?;
            let ctx = c.total_context();
            let list: Vec<&str> = urls.split(',').collect();
            c.update_member(ctx, &id, &list).map_err(|e| fatal(&e))?;
            println!("Updated member with ID {id} in cluster");
        }
    }
    Ok(())
}

/// How one member's `/health` answered.
enum Health {
    Healthy,
    Unhealthy,
    /// Not JSON: Go's decoding error.
    Undecodable(String),
}

/// etcdctl decodes `{"health":"true"}`, falling back to `{"health":true}`;
/// the field name matches case-insensitively, as in Go.
fn decode_health(body: &[u8]) -> Health {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => {
            let t = String::from_utf8_lossy(body);
            return Health::Undecodable(match t.trim_start().chars().next() {
                None => "unexpected end of JSON input".into(),
                Some(ch) => format!("invalid character '{ch}' looking for beginning of value"),
            });
        }
    };
    let field = v.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("health"))
            .map(|(_, v)| v)
    });
    match field {
        Some(serde_json::Value::String(s)) if s == "true" => Health::Healthy,
        Some(serde_json::Value::Bool(true)) => Health::Healthy,
        _ => Health::Unhealthy,
    }
}

/// etcdctl's `cluster-health`: no sync; the member list from the
/// endpoints, then each member's client URLs' `/health` until one answers.
fn cluster_health(g: &Globals, forever: bool) -> ExitCode {
    let mut c = match must_new_client(g, false) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // context.TODO(): no --total-timeout for the list.
    let ms = match c.members(None) {
        Ok(m) => m,
        Err(e) => {
            println!("cluster may be unhealthy: failed to list members");
            return handle_error(EXIT_SERVER_ERROR, &e);
        }
    };
    loop {
        let mut healthy = 0;
        for m in &ms {
            if m.client_urls.is_empty() {
                println!(
                    "member {} is unreachable: no available published client urls",
                    m.id
                );
                continue;
            }
            let mut checked = false;
            for url in &m.client_urls {
                let body = match c.health(url) {
                    Ok(b) => b,
                    Err(e) => {
                        println!(
                            "failed to check the health of member {} on {url}: {e}",
                            m.id
                        );
                        continue;
                    }
                };
                match decode_health(&body) {
                    Health::Undecodable(e) => {
                        println!(
                            "failed to check the health of member {} on {url}: {e}",
                            m.id
                        );
                        continue;
                    }
                    Health::Healthy => {
                        println!("member {} is healthy: got healthy result from {url}", m.id);
                        healthy += 1;
                    }
                    Health::Unhealthy => {
                        println!(
                            "member {} is unhealthy: got unhealthy result from {url}",
                            m.id
                        );
                    }
                }
                checked = true;
                break;
            }
            if !checked {
                println!(
                    "member {} is unreachable: [{}] are all unreachable",
                    m.id,
                    m.client_urls.join(" ")
                );
            }
        }
        if healthy == ms.len() {
            println!("cluster is healthy");
        } else if healthy == 0 {
            println!("cluster is unavailable");
        } else {
            println!("cluster is degraded");
        }
        if !forever {
            return if healthy == ms.len() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CLUSTER_NOT_HEALTHY)
            };
        }
        println!("\nnext check after 10 second...\n");
        std::thread::sleep(Duration::from_secs(10));
    }
}
