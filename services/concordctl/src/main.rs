//! # concordctl: etcdctl's v2 commands for Concord
//!
//! Speaks the etcd v2 HTTP API to any endpoint (Concord or etcd) and prints
//! exactly what `ETCDCTL_API=2 etcdctl` 3.4 prints: the same output formats
//! (`-o simple|json|extended`), error lines (`Error:  100: Key not found
//! (/foo) [12]`) and exit codes (4 for a server error, 2 when no endpoint
//! answers, 1 for bad arguments).
//!
//! - `main.rs`: the command line (clap, etcdctl's spellings) and commands;
//! - `client.rs`: HTTP to the endpoints, with fail-over between them;
//! - `output.rs`: etcdctl's printers.

mod client;
mod output;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::client::{Client, Failure};
use crate::output::{print_ls, print_response, Format};

/// etcdctl's exit codes (`ctlv2/command/error.go`).
const EXIT_BAD_ARGS: u8 = 1;
const EXIT_SERVER_ERROR: u8 = 4;

#[derive(Parser, Debug)]
#[command(
    name = "concordctl",
    version,
    about = "A simple command line client for etcd (v2 API)."
)]
struct Cli {
    /// a comma-delimited list of machine addresses in the cluster
    #[arg(
        long = "endpoints",
        visible_alias = "peers",
        short = 'C',
        env = "ETCDCTL_ENDPOINTS",
        default_value = "http://127.0.0.1:2379,http://127.0.0.1:4001",
        global = true
    )]
    endpoints: String,
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
        #[arg(long)]
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
        #[arg(long)]
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
        #[arg(long)]
        recursive: bool,
        /// append slash (/) to directories
        #[arg(short = 'p')]
        p: bool,
        /// require quorum for get request
        #[arg(long)]
        quorum: bool,
    },
    /// watch a key for changes
    Watch {
        key: Option<String>,
        /// forever watch a key until CTRL+C
        #[arg(long)]
        forever: bool,
        /// watch after the given index
        #[arg(long = "after-index", default_value_t = 0)]
        after_index: u64,
        /// returns all values for key and child keys
        #[arg(long)]
        recursive: bool,
    },
    /// watch a key for changes and exec an executable
    #[command(name = "exec-watch")]
    ExecWatch {
        /// watch after the given index
        #[arg(long = "after-index", default_value_t = 0)]
        after_index: u64,
        /// watch all values for key and child keys
        #[arg(long)]
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
        #[arg(long)]
        forever: bool,
    },
}

#[derive(Subcommand, Debug)]
enum MemberCmd {
    /// enumerate existing cluster members
    List,
    /// add a new member to the etcd cluster
    Add {
        name: Option<String>,
        peer_url: Option<String>,
    },
    /// remove an existing member from the etcd cluster
    Remove { id: Option<String> },
    /// update an existing member in the etcd cluster
    Update {
        id: Option<String>,
        peer_urls: Option<String>,
    },
}

/// etcdctl's `handleError`: `Error:  <err>` on stderr and the exit code.
fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("Error:  {msg}");
    ExitCode::from(code)
}

fn need(arg: Option<String>, what: &str) -> Result<String, ExitCode> {
    arg.ok_or_else(|| fail(EXIT_BAD_ARGS, what))
}

fn ttl_form(ttl: u64) -> Vec<(&'static str, String)> {
    if ttl > 0 {
        vec![("ttl", ttl.to_string())]
    } else {
        Vec::new()
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_BAD_ARGS } else { 0 });
        }
    };
    let Some(format) = Format::parse(&cli.output) else {
        return fail(
            EXIT_BAD_ARGS,
            &format!("unknown output format {:?}", cli.output),
        );
    };
    let client = Client::new(&cli.endpoints, cli.debug);
    match run(&client, cli.command, format) {
        Ok(code) => code,
        Err(code) => code,
    }
}

fn server_fail(f: Failure) -> ExitCode {
    match f {
        Failure::Server(e) => fail(EXIT_SERVER_ERROR, &e),
        Failure::Unavailable(msg) => fail(client::EXIT_BAD_CONNECTION, &msg),
        Failure::Other(msg) => fail(EXIT_SERVER_ERROR, &msg),
    }
}

fn run(client: &Client, cmd: Cmd, format: Format) -> Result<ExitCode, ExitCode> {
    let ok = ExitCode::SUCCESS;
    match cmd {
        Cmd::Get { key, sort, quorum } => {
            let key = need(key, "key required")?;
            let mut q = Vec::new();
            if sort {
                q.push(("sorted", "true".to_string()));
            }
            if quorum {
                q.push(("quorum", "true".to_string()));
            }
            let resp = client.keys("GET", &key, &q, &[]).map_err(server_fail)?;
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
            let value = need(value, "value required")?;
            let mut form = vec![("value", value)];
            form.extend(ttl_form(ttl.ttl));
            if !swap_with_value.is_empty() {
                form.push(("prevValue", swap_with_value));
            }
            if swap_with_index > 0 {
                form.push(("prevIndex", swap_with_index.to_string()));
            }
            let resp = client.keys("PUT", &key, &[], &form).map_err(server_fail)?;
            print_response(&resp, format);
        }
        Cmd::Mk {
            key,
            value,
            in_order,
            ttl,
        } => {
            let key = need(key, "key required")?;
            let value = need(value, "value required")?;
            let mut form = vec![("value", value)];
            form.extend(ttl_form(ttl.ttl));
            let resp = if in_order {
                client.keys("POST", &key, &[], &form)
            } else {
                form.push(("prevExist", "false".into()));
                client.keys("PUT", &key, &[], &form)
            }
            .map_err(server_fail)?;
            print_response(&resp, format);
        }
        Cmd::Mkdir { key, ttl } => dir_command(client, key, ttl.ttl, Some("false"), format)?,
        Cmd::Setdir { key, ttl } => dir_command(client, key, ttl.ttl, None, format)?,
        Cmd::Updatedir { key, ttl } => dir_command(client, key, ttl.ttl, Some("true"), format)?,
        Cmd::Update { key, value, ttl } => {
            let key = need(key, "key required")?;
            let value = need(value, "value required")?;
            let mut form = vec![("value", value), ("prevExist", "true".into())];
            form.extend(ttl_form(ttl.ttl));
            let resp = client.keys("PUT", &key, &[], &form).map_err(server_fail)?;
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
            let mut q = Vec::new();
            if dir {
                q.push(("dir", "true".to_string()));
            }
            if recursive {
                q.push(("recursive", "true".to_string()));
            }
            if !with_value.is_empty() {
                q.push(("prevValue", with_value));
            }
            if with_index > 0 {
                q.push(("prevIndex", with_index.to_string()));
            }
            let resp = client.keys("DELETE", &key, &q, &[]).map_err(server_fail)?;
            if !resp.node_is_dir() || format != Format::Simple {
                print_response(&resp, format);
            }
        }
        Cmd::Rmdir { key } => {
            let key = need(key, "key required")?;
            let resp = client
                .keys("DELETE", &key, &[("dir", "true".into())], &[])
                .map_err(server_fail)?;
            if format != Format::Simple {
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
            let mut q = Vec::new();
            if sort {
                q.push(("sorted", "true".to_string()));
            }
            if recursive {
                q.push(("recursive", "true".to_string()));
            }
            if quorum {
                q.push(("quorum", "true".to_string()));
            }
            let resp = client.keys("GET", &key, &q, &[]).map_err(server_fail)?;
            print_ls(&resp, format, p);
        }
        Cmd::Watch {
            key,
            forever,
            after_index,
            recursive,
        } => {
            let key = need(key, "key required")?;
            let mut index = after_index;
            loop {
                let mut q = vec![("wait", "true".to_string())];
                if recursive {
                    q.push(("recursive", "true".to_string()));
                }
                if index > 0 {
                    q.push(("waitIndex", (index + 1).to_string()));
                }
                let resp = client.keys("GET", &key, &q, &[]).map_err(server_fail)?;
                print_response(&resp, format);
                if !forever {
                    break;
                }
                index = resp.node_modified_index();
            }
        }
        Cmd::ExecWatch {
            after_index,
            recursive,
            args,
        } => {
            return exec_watch(client, after_index, recursive, args);
        }
        Cmd::Member { action } => member(client, action)?,
        Cmd::ClusterHealth { forever: _ } => return Ok(cluster_health(client)),
    }
    Ok(ok)
}

/// etcdctl's `exec-watch`: runs the command for every change of the key,
/// with `ETCD_WATCH_{ACTION,MODIFIED_INDEX,KEY,VALUE}` in its environment.
fn exec_watch(
    client: &Client,
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
    let mut next = if after_index > 0 { after_index + 1 } else { 0 };
    loop {
        let mut q = vec![("wait", "true".to_string())];
        if recursive {
            q.push(("recursive", "true".to_string()));
        }
        if next > 0 {
            q.push(("waitIndex", next.to_string()));
        }
        let resp = client.keys("GET", &key, &q, &[]).map_err(server_fail)?;
        next = resp.node_modified_index() + 1;
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
    client: &Client,
    key: Option<String>,
    ttl: u64,
    prev_exist: Option<&str>,
    format: Format,
) -> Result<(), ExitCode> {
    let key = need(key, "key required")?;
    let mut form = vec![("dir", "true".to_string())];
    form.extend(ttl_form(ttl));
    if let Some(p) = prev_exist {
        form.push(("prevExist", p.to_string()));
    }
    let resp = client.keys("PUT", &key, &[], &form).map_err(server_fail)?;
    if format != Format::Simple {
        print_response(&resp, format);
    }
    Ok(())
}

fn member(client: &Client, action: MemberCmd) -> Result<(), ExitCode> {
    match action {
        MemberCmd::List => {
            let members = client.members().map_err(server_fail)?;
            let leader = client.leader_id().ok();
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
                        leader.as_deref() == Some(m.id.as_str())
                    );
                }
            }
        }
        MemberCmd::Add { name, peer_url } => {
            let (Some(name), Some(url)) = (name, peer_url) else {
                return Err(fail(
                    EXIT_BAD_ARGS,
                    "Provide a name and a single member peerURL",
                ));
            };
            let added = client.add_member(&url).map_err(server_fail)?;
            println!(
                "Added member named {name} with ID {} to cluster\n",
                added.id
            );
            let members = client.members().map_err(server_fail)?;
            let mut parts = Vec::new();
            for m in members {
                let n = if m.id == added.id {
                    name.clone()
                } else {
                    m.name.clone()
                };
                for u in &m.peer_urls {
                    parts.push(format!("{n}={u}"));
                }
            }
            println!("ETCD_NAME=\"{name}\"");
            println!("ETCD_INITIAL_CLUSTER=\"{}\"", parts.join(","));
            println!("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
        }
        MemberCmd::Remove { id } => {
            let id = need(id, "Provide a single member ID")?;
            client.remove_member(&id).map_err(server_fail)?;
            println!("Removed member {id} from cluster");
        }
        MemberCmd::Update { id, peer_urls } => {
            let (Some(id), Some(urls)) = (id, peer_urls) else {
                return Err(fail(EXIT_BAD_ARGS, "Provide an ID and a list of comma separated peerURL (0xabcd http://example.com,http://example1.com)"));
            };
            client.update_member(&id, &urls).map_err(server_fail)?;
            println!("Updated member with ID {id} in cluster");
        }
    }
    Ok(())
}

fn cluster_health(client: &Client) -> ExitCode {
    let members = match client.members() {
        Ok(m) => m,
        Err(f) => return server_fail(f),
    };
    let mut healthy = 0;
    for m in &members {
        let mut ok = false;
        for url in &m.client_urls {
            if client.health(url) {
                println!("member {} is healthy: got healthy result from {url}", m.id);
                ok = true;
                break;
            }
        }
        if ok {
            healthy += 1;
        } else {
            println!(
                "member {} is unhealthy: got unhealthy result from {}",
                m.id,
                m.client_urls.join(",")
            );
        }
    }
    if healthy == members.len() {
        println!("cluster is healthy");
        ExitCode::SUCCESS
    } else if healthy * 2 > members.len() {
        println!("cluster is degraded");
        ExitCode::SUCCESS
    } else {
        println!("cluster is unavailable");
        ExitCode::from(client::EXIT_CLUSTER_NOT_HEALTHY)
    }
}
