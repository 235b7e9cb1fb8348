//! etcdctl's one-request keys commands (`get_command.go`,
//! `set_command.go`, `mk_command.go`, `update_command.go`, the `*dir`
//! commands, `rm_command.go`, `rmdir_command.go`, `ls_command.go`): the
//! request each makes and what it prints.

use std::process::ExitCode;

use super::util::{arg_or_stdin, keys, need};
use crate::v2::client::{Action, Client, SetOptions};
use crate::v2::exit::EXIT_BAD_ARGS;
use crate::v2::output::{print_ls, print_response, Format};

/// `get`: a directory is refused (`/dir: is a directory`, exit 1).
pub fn get(
    c: &mut Client,
    key: Option<String>,
    sort: bool,
    quorum: bool,
    format: &Format,
) -> Result<(), ExitCode> {
    let key = need(key, "key required")?;
    let resp = keys(c, &Action::get(&key, false, sort, quorum), false)?;
    if resp.node_is_dir() {
        eprintln!("{}: is a directory", resp.node_key());
        return Err(ExitCode::from(EXIT_BAD_ARGS));
    }
    print_response(&resp, format);
    Ok(())
}

/// `set`, `update` and `mk` (`act` builds the request from the key and
/// the value): a value (argument or stdin) written; `one_shot` for a
/// create (no fail-over after a failure).
pub fn write_value(
    c: &mut Client,
    key: Option<String>,
    value: Option<String>,
    act: impl Fn(&str, &str) -> Action,
    one_shot: bool,
    format: &Format,
) -> Result<(), ExitCode> {
    let key = need(key, "key required")?;
    let value = arg_or_stdin(value)?;
    let resp = keys(c, &act(&key, &value), one_shot)?;
    print_response(&resp, format);
    Ok(())
}

/// `mkdir` (`prevExist=false`, one-shot), `setdir` (no condition) and
/// `updatedir` (`prevExist=true`): silent in the simple format.
pub fn dir(
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

/// `rm` and `rmdir`: a delete is one-shot; a removed directory is not
/// printed in the simple format.
pub fn remove(
    c: &mut Client,
    key: Option<String>,
    act: impl Fn(&str) -> Action,
    format: &Format,
) -> Result<(), ExitCode> {
    let key = need(key, "key required")?;
    let resp = keys(c, &act(&key), true)?;
    if !resp.node_is_dir() || *format != Format::Simple {
        print_response(&resp, format);
    }
    Ok(())
}

/// `ls` (the root by default).
pub fn ls(
    c: &mut Client,
    key: Option<String>,
    recursive: bool,
    sort: bool,
    quorum: bool,
    slash_dirs: bool,
    format: &Format,
) -> Result<(), ExitCode> {
    let key = key.unwrap_or_else(|| "/".into());
    let resp = keys(c, &Action::get(&key, recursive, sort, quorum), false)?;
    print_ls(&resp, format, slash_dirs);
    Ok(())
}
