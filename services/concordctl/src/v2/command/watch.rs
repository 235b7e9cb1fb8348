//! etcdctl's `watch` and `exec-watch` (`watch_command.go`,
//! `exec_watch_command.go`) on the Go client's `httpWatcher`.

use std::process::ExitCode;

use super::util::need;
use crate::v2::client::{Action, Client, KeysResponse};
use crate::v2::exit::{fail, handle_error, EXIT_BAD_ARGS, EXIT_SERVER_ERROR};
use crate::v2::output::{print_response, Format};

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

    fn next(&mut self, c: &mut Client) -> Result<KeysResponse, ExitCode> {
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

/// `watch`: the next change of the key (each one with `--forever`);
/// directory changes are skipped; a recursive watch names the action and
/// key first.
pub fn watch(
    c: &mut Client,
    key: Option<String>,
    forever: bool,
    after_index: u64,
    recursive: bool,
    format: &Format,
) -> Result<(), ExitCode> {
    let key = need(key, "key required")?;
    let mut w = Watcher::new(&key, after_index, recursive);
    loop {
        let resp = w.next(c)?;
        if resp.node_is_dir() {
            continue;
        }
        if recursive {
            println!("[{}] {}", resp.action(), resp.node_key());
        }
        print_response(&resp, format);
        if !forever {
            return Ok(());
        }
    }
}

/// exec-watch's arguments: the key and the command. etcdctl: with `--`
/// after the key, the command follows it; without, the key is the last
/// word.
fn key_and_command(args: Vec<String>) -> Result<(String, Vec<String>), ExitCode> {
    if args.len() < 2 {
        return Err(fail(EXIT_BAD_ARGS, "key and command to exec required"));
    }
    // clap may or may not keep the `--` in `args`, so the raw command line
    // is checked too.
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
    Ok((key, command))
}

/// Starts `command` for one change, with
/// `ETCD_WATCH_{ACTION,MODIFIED_INDEX,KEY,VALUE}` in its environment; like
/// etcdctl, it runs while the next change is awaited.
fn spawn_for(command: &[String], resp: &KeysResponse) -> Result<(), ExitCode> {
    let spawned = std::process::Command::new(&command[0])
        .args(&command[1..])
        .env("ETCD_WATCH_ACTION", resp.action())
        .env(
            "ETCD_WATCH_MODIFIED_INDEX",
            resp.node_modified_index().to_string(),
        )
        .env("ETCD_WATCH_KEY", resp.node_key())
        .env(
            "ETCD_WATCH_VALUE",
            resp.body["node"]["value"].as_str().unwrap_or(""),
        )
        .spawn();
    match spawned {
        Ok(mut child) => {
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            Ok(())
        }
        Err(e) => {
            eprint!("{e}");
            Err(ExitCode::from(EXIT_BAD_ARGS))
        }
    }
}

/// `exec-watch`: the command run for every change of the key, until a
/// watch or a spawn fails.
pub fn exec_watch(
    c: &mut Client,
    after_index: u64,
    recursive: bool,
    args: Vec<String>,
) -> Result<(), ExitCode> {
    let (key, command) = key_and_command(args)?;
    let mut w = Watcher::new(&key, after_index, recursive);
    loop {
        let resp = w.next(c)?;
        if resp.node_is_dir() {
            eprintln!("Ignored dir {} change", resp.node_key());
            continue;
        }
        spawn_for(&command, &resp)?;
    }
}
