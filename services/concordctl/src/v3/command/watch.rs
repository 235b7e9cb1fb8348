//! `watch` (`watch_command.go`): a key, a range or a prefix watched from
//! a revision, events printed as they come, an optional command run per
//! event (`-- cmd args`, with `ETCD_WATCH_*` in its environment); with
//! `-i`, `watch ...` and `progress` lines read from stdin. Like clientv3,
//! the creation answer is not shown, a compacted start revision is shown
//! and ends the watch, a broken stream is resumed from the next revision,
//! and etcdctl exits 5 once the server ends the watch.

use std::collections::HashMap;
use std::time::Duration;

use concord_rpc::etcd::etcdserverpb::{
    watch_request::RequestUnion, WatchCreateRequest, WatchProgressRequest, WatchRequest,
    WatchResponse,
};
use concord_store::go;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::kv::prefix_end;
use super::txn::argify;
use crate::v3::cli::parse::parse_local;
use crate::v3::cli::spec::COMMANDS;
use crate::v3::cli::Parsed;
use crate::v3::client::{self, Client};
use crate::v3::exit::{
    Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_INVALID_INPUT,
};
use crate::v3::globals::session;
use crate::v3::go_text::quote_bytes;
use crate::v3::printer::{self, simple::event_type, Writer};

const BAD_ARGS_NUM: &str = "bad number of arguments";
const BAD_ARGS_CONFLICT_ENV: &str = "bad number of arguments (found conflicting environment key)";
const BAD_ARGS_SEPARATOR: &str = "bad number of arguments (found separator --, but no commands)";

/// One watch: its request and the command run per event.
struct Watcher {
    create: WatchCreateRequest,
    exec: Vec<String>,
}

pub fn run(mut p: Parsed) -> Outcome {
    let env_key = std::env::var("ETCDCTL_WATCH_KEY").unwrap_or_default();
    let env_range = std::env::var("ETCDCTL_WATCH_RANGE_END").unwrap_or_default();
    if env_key.is_empty() && !env_range.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            format!(
                "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
                go::quote(&env_range)
            ),
        ));
    }
    if p.bool("interactive") {
        let s = session(&mut p)?;
        return interactive(&s.client, s.writer, &env_key, &env_range);
    }
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let (args, exec) = split_args(&raw, &p.args, &env_key, &env_range)?;
    let s = session(&mut p)?;
    let create = create_request(&args, p.bool("prefix"), p.int64("rev"), p.bool("prev-kv"))
        .map_err(|e| Fail::new(EXIT_BAD_ARGS, e))?;
    let ended =
        crate::runtime::block_on(serve(&s.client, s.writer, vec![Watcher { create, exec }]))
            .map_err(|why| Fail::new(EXIT_ERROR, why))?;
    ended?;
    Err(Fail::new(
        EXIT_INTERRUPTED,
        "watch is canceled by the server",
    ))
}

/// etcdctl's `parseWatchArgs` for a command line: the watch's arguments
/// and the command after `--`.
fn split_args(
    raw: &[String],
    args: &[String],
    env_key: &str,
    env_range: &str,
) -> Result<(Vec<String>, Vec<String>), Fail> {
    let bad = |m: &str| Fail::new(EXIT_BAD_ARGS, m);
    let raw = match raw.iter().position(|a| a == "watch") {
        Some(i) => &raw[i + 1..],
        None => raw,
    };
    let sep = raw.iter().position(|a| a == "--");
    if sep.is_some_and(|i| i == raw.len() - 1) {
        return Err(bad(BAD_ARGS_SEPARATOR));
    }
    if sep.is_none() && raw.is_empty() && env_key.is_empty() {
        return Err(bad(BAD_ARGS_NUM));
    }
    if sep.is_none() && !args.is_empty() && !env_key.is_empty() {
        return Err(bad(BAD_ARGS_CONFLICT_ENV));
    }
    let exec: Vec<String> = sep.map(|i| raw[i + 1..].to_vec()).unwrap_or_default();
    let mut watch_args: Vec<String> = args.to_vec();
    if !env_key.is_empty() {
        let mut ranges = vec![env_key.to_string()];
        if !env_range.is_empty() {
            ranges.push(env_range.to_string());
        }
        ranges.extend(watch_args);
        watch_args = ranges;
    }
    if let Some(first) = exec.first() {
        // cobra passes the command after `--` as arguments too.
        let end = watch_args.iter().rposition(|a| a == first).unwrap_or(0);
        watch_args.truncate(end);
    }
    Ok((watch_args, exec))
}

/// etcdctl's `getWatchChan` as a create request.
fn create_request(
    args: &[String],
    prefix: bool,
    rev: i64,
    prev_kv: bool,
) -> Result<WatchCreateRequest, String> {
    let Some(key) = args.first() else {
        return Err(BAD_ARGS_NUM.into());
    };
    let mut req = WatchCreateRequest {
        key: key.clone().into_bytes(),
        start_revision: rev,
        prev_kv,
        ..Default::default()
    };
    if args.len() == 2 {
        if prefix {
            return Err("`range_end` and `--prefix` are mutually exclusive".into());
        }
        req.range_end = args[1].clone().into_bytes();
    }
    if prefix {
        if req.key.is_empty() {
            req.key = vec![0];
            req.range_end = vec![0];
        } else {
            req.range_end = prefix_end(&req.key);
        }
    }
    Ok(req)
}

/// `watch -i`: request lines from stdin, read on a thread of their own.
fn interactive(c: &Client, writer: Writer, env_key: &str, env_range: &str) -> Outcome {
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        loop {
            let mut line = String::new();
            match stdin.read_line(&mut line) {
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                Ok(_) => {
                    let _ = tx.send(String::new());
                    return;
                }
                Err(e) => {
                    let _ = tx.send(format!("\0{e}"));
                    return;
                }
            }
        }
    });
    let env = (env_key.to_string(), env_range.to_string());
    crate::runtime::block_on(serve_lines(c, writer, rx, env))
        .map_err(|why| Fail::new(EXIT_ERROR, why))?
}

/// Runs the watchers on one stream until the server ends every watch.
async fn serve(c: &Client, writer: Writer, watchers: Vec<Watcher>) -> Outcome {
    let mut stream = Stream::open(c, watchers).await?;
    loop {
        match stream.next().await {
            Some(Ok(resp)) => {
                if stream.handle(writer, resp)? && stream.watchers.is_empty() {
                    return Ok(());
                }
            }
            _ => stream.resume(c).await?,
        }
    }
}

/// `watch -i`'s loop: request lines and responses as they come, until
/// stdin ends (etcdctl then exits 3).
async fn serve_lines(
    c: &Client,
    writer: Writer,
    mut lines: mpsc::UnboundedReceiver<String>,
    env: (String, String),
) -> Outcome {
    // clientv3 opens the stream with the first watch.
    let mut stream: Option<Stream> = None;
    loop {
        let next_response = async {
            match stream.as_mut() {
                Some(s) => s.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            line = lines.recv() => {
                let line = line.unwrap_or_default();
                if line.is_empty() {
                    return Err(Fail::new(EXIT_INVALID_INPUT, "Error reading watch request line: EOF"));
                }
                if let Some(e) = line.strip_prefix('\0') {
                    return Err(Fail::new(EXIT_INVALID_INPUT, format!("Error reading watch request line: {e}")));
                }
                if let Some(w) = interactive_line(line.trim_end_matches('\n'), &env)? {
                    match stream.as_mut() {
                        Some(s) => s.add(w).await,
                        None => stream = Some(Stream::open(c, vec![w]).await?),
                    }
                } else if line.trim() == "progress" {
                    if let Some(s) = stream.as_mut() {
                        s.progress().await;
                    }
                }
            }
            resp = next_response => match resp {
                Some(Ok(resp)) => {
                    if let Some(s) = stream.as_mut() {
                        s.handle(writer, resp)?;
                    }
                }
                _ => {
                    if let Some(s) = stream.as_mut() {
                        s.resume(c).await?;
                    }
                }
            },
        }
    }
}

/// One line of `watch -i`: the watch it asks for, if any (`progress` is
/// the caller's).
fn interactive_line(l: &str, env: &(String, String)) -> Result<Option<Watcher>, Fail> {
    let args = argify(l)?;
    let Some(first) = args.first() else {
        eprintln!("Invalid command: {l} (watch and progress supported)");
        return Ok(None);
    };
    match first.as_str() {
        "watch" => {
            if args.len() < 2 && env.0.is_empty() {
                eprintln!("Invalid command {l} (command type or key is not provided)");
                return Ok(None);
            }
            let rest = &args[1..];
            let sep = rest.iter().position(|a| a == "--");
            if sep.is_some_and(|i| i == rest.len() - 1) {
                return Err(Fail::new(EXIT_BAD_ARGS, BAD_ARGS_SEPARATOR));
            }
            let cmd = COMMANDS.iter().find(|c| c.name == "watch").expect("watch");
            let parsed = parse_local(cmd, rest).map_err(|e| Fail::new(EXIT_BAD_ARGS, e))?;
            if sep.is_none() && env.0.is_empty() && parsed.args.is_empty() {
                return Err(Fail::new(EXIT_BAD_ARGS, BAD_ARGS_NUM));
            }
            if sep.is_none() && !parsed.args.is_empty() && !env.0.is_empty() {
                return Err(Fail::new(EXIT_BAD_ARGS, BAD_ARGS_CONFLICT_ENV));
            }
            let exec: Vec<String> = sep.map(|i| rest[i + 1..].to_vec()).unwrap_or_default();
            let mut watch_args = parsed.args.clone();
            if !env.0.is_empty() {
                let mut r = vec![env.0.clone()];
                if !env.1.is_empty() {
                    r.push(env.1.clone());
                }
                r.extend(watch_args);
                watch_args = r;
            }
            if let Some(first) = exec.first() {
                let end = watch_args.iter().rposition(|a| a == first).unwrap_or(0);
                watch_args.truncate(end);
            }
            match create_request(
                &watch_args,
                parsed.bool("prefix"),
                parsed.int64("rev"),
                parsed.bool("prev-kv"),
            ) {
                Ok(create) => return Ok(Some(Watcher { create, exec })),
                Err(e) => eprintln!("Invalid command {l} ({e})"),
            }
        }
        "progress" => {}
        _ => eprintln!("Invalid command {l} (only support watch)"),
    }
    Ok(None)
}

/// The gRPC watch stream with its watchers by ID, and those created but
/// not yet acknowledged (the server answers creations in order).
struct Stream {
    tx: mpsc::Sender<WatchRequest>,
    rx: tonic::Streaming<WatchResponse>,
    watchers: HashMap<i64, (Watcher, i64)>,
    pending: std::collections::VecDeque<Watcher>,
}

impl Stream {
    /// Opens the stream with `watchers`' creations already queued: a Go
    /// server sends its headers with the first answer, so the call waits
    /// for one.
    async fn open(c: &Client, watchers: Vec<Watcher>) -> Result<Stream, Fail> {
        loop {
            let ch = c
                .channel(None)
                .await
                .map_err(|s| Fail::new(EXIT_ERROR, s.message().to_string()))?;
            let (tx, rx) = mpsc::channel(16 + watchers.len());
            for w in &watchers {
                let _ = tx.try_send(create(w));
            }
            let mut req = tonic::Request::new(ReceiverStream::new(rx));
            // clientv3's WithRequireLeader.
            req.metadata_mut()
                .insert("hasleader", "true".parse().expect("ascii"));
            match client::watch(ch).watch(req).await {
                Ok(r) => {
                    return Ok(Stream {
                        tx,
                        rx: r.into_inner(),
                        watchers: HashMap::new(),
                        pending: watchers.into(),
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    async fn add(&mut self, w: Watcher) {
        let req = create(&w);
        self.pending.push_back(w);
        let _ = self.tx.send(req).await;
    }

    async fn progress(&mut self) {
        if self.watchers.is_empty() && self.pending.is_empty() {
            return;
        }
        let req = WatchRequest {
            request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
        };
        let _ = self.tx.send(req).await;
    }

    async fn next(&mut self) -> Option<Result<WatchResponse, tonic::Status>> {
        self.rx.next().await
    }

    /// A new stream after the old one broke, every watch created again
    /// from the revision after the last it saw.
    async fn resume(&mut self, c: &Client) -> Outcome {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut all: Vec<Watcher> = self
            .watchers
            .drain()
            .map(|(_, (mut w, next))| {
                if next > 0 {
                    w.create.start_revision = next;
                }
                w
            })
            .collect();
        all.extend(self.pending.drain(..));
        *self = Stream::open(c, all).await?;
        Ok(())
    }

    /// One response; `Ok(true)` when it ended a watch.
    fn handle(&mut self, writer: Writer, resp: WatchResponse) -> Result<bool, Fail> {
        let header_rev = resp.header.as_ref().map_or(0, |h| h.revision);
        if resp.created {
            if let Some(mut w) = self.pending.pop_front() {
                if resp.canceled && resp.compact_revision == 0 {
                    return Ok(true);
                }
                let next = if w.create.start_revision == 0 {
                    header_rev + 1
                } else {
                    w.create.start_revision
                };
                w.create.start_revision = next;
                self.watchers.insert(resp.watch_id, (w, next));
            }
            // A creation that is also a compaction notice is shown, as the
            // notice alone would be.
            if !resp.canceled {
                return Ok(false);
            }
        }
        if resp.canceled && resp.compact_revision == 0 {
            self.watchers.remove(&resp.watch_id);
            return Ok(true);
        }
        let progress = resp.events.is_empty()
            && !resp.canceled
            && resp.compact_revision == 0
            && header_rev != 0;
        let targets: Vec<i64> = if progress && resp.watch_id == -1 {
            self.watchers.keys().copied().collect()
        } else {
            vec![resp.watch_id]
        };
        for id in targets {
            let Some((w, next)) = self.watchers.get_mut(&id) else {
                continue;
            };
            if let Some(last) = resp.events.last().and_then(|e| e.kv.as_ref()) {
                *next = last.mod_revision + 1;
            }
            if resp.canceled {
                eprintln!(
                    "watch was canceled (etcdserver: mvcc: required revision has been compacted)"
                );
            }
            if progress {
                println!("progress notify: {header_rev}");
            }
            printer::watch(writer, &resp)?;
            run_exec(&w.exec, &resp)?;
            if resp.compact_revision != 0 || resp.canceled {
                self.watchers.remove(&id);
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A watch's creation request.
fn create(w: &Watcher) -> WatchRequest {
    WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(w.create.clone())),
    }
}

/// The command after `--`, once per event.
fn run_exec(exec: &[String], resp: &WatchResponse) -> Outcome {
    let Some((prog, args)) = exec.split_first() else {
        return Ok(());
    };
    let rev = resp.header.as_ref().map_or(0, |h| h.revision);
    for e in &resp.events {
        let kv = e.kv.clone().unwrap_or_default();
        let status = std::process::Command::new(prog)
            .args(args)
            .env("ETCD_WATCH_REVISION", rev.to_string())
            .env("ETCD_WATCH_EVENT_TYPE", go::quote(&event_type(e.r#type)))
            .env("ETCD_WATCH_KEY", quote_bytes(&kv.key))
            .env("ETCD_WATCH_VALUE", quote_bytes(&kv.value))
            .status();
        let failure = match status {
            Ok(s) if s.success() => None,
            Ok(s) => Some(match s.code() {
                Some(c) => format!("exit status {c}"),
                None => "signal: killed".to_string(),
            }),
            Err(e) => Some(format!("exec: {}: {e}", go::quote(prog))),
        };
        if let Some(why) = failure {
            let quoted: Vec<String> = exec.iter().map(|a| go::quote(a)).collect();
            eprintln!("command [{}] error ({why})", quoted.join(" "));
            return Err(Fail::silent(1));
        }
    }
    Ok(())
}
