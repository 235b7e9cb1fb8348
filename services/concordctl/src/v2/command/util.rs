//! What etcdctl's commands share (`ctlv2/command/util.go`): reading
//! arguments, building (and syncing) the client, one keys request under
//! `--total-timeout`.

use std::io::Read;
use std::process::ExitCode;

use crate::v2::client::{Action, Client, Config, Error, KeysResponse};
use crate::v2::exit::{fail, handle_error, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_SERVER_ERROR};
use crate::v2::flags::Globals;

/// A required argument, else `Error:  <what>` and exit 1.
pub fn need(arg: Option<String>, what: &str) -> Result<String, ExitCode> {
    arg.ok_or_else(|| fail(EXIT_BAD_ARGS, what))
}

/// etcdctl's `argOrStdin`: the argument, else all of stdin (not empty).
pub fn arg_or_stdin(arg: Option<String>) -> Result<String, ExitCode> {
    if let Some(a) = arg {
        return Ok(a);
    }
    let mut s = String::new();
    match std::io::stdin().read_to_string(&mut s) {
        Ok(_) if !s.is_empty() => Ok(s),
        _ => Err(fail(EXIT_BAD_ARGS, "value required")),
    }
}

/// etcdctl's sync step of `mustNewClient`: a failure to reach any
/// endpoint ends the command; any other failure is ignored (the command
/// goes on with the given endpoints).
fn must_sync(g: &Globals, c: &mut Client) -> Result<(), ExitCode> {
    if g.debug {
        eprintln!(
            "start to sync cluster using endpoints({})",
            c.endpoints().join(",")
        );
    }
    let ctx = c.total_context();
    match c.sync(ctx) {
        Err(e @ Error::NoEndpoints) => {
            eprintln!("etcd cluster has no published client endpoints.");
            eprintln!(
                "Try '--no-sync' if you want to access non-published client endpoints({}).",
                c.endpoints().join(",")
            );
            return Err(handle_error(EXIT_SERVER_ERROR, &e));
        }
        Err(e) if e.is_connection() => return Err(handle_error(EXIT_BAD_CONNECTION, &e)),
        _ => {}
    }
    if g.debug {
        eprintln!("got endpoints({}) after sync", c.endpoints().join(","));
    }
    Ok(())
}

/// etcdctl's `mustNewClient` (`sync`) and `mustNewClientNoSync`.
pub fn must_new_client(g: &Globals, sync: bool) -> Result<Client, ExitCode> {
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
        must_sync(g, &mut c)?;
    }
    if g.debug {
        eprintln!("Cluster-Endpoints: {}", c.endpoints().join(", "));
    }
    Ok(c)
}

/// One keys request with a `--total-timeout` context; a failure is
/// `handleError(ExitServerError)`.
pub fn keys(c: &mut Client, act: &Action, one_shot: bool) -> Result<KeysResponse, ExitCode> {
    let ctx = c.total_context();
    c.keys(act, ctx, one_shot)
        .map_err(|e| handle_error(EXIT_SERVER_ERROR, &e))
}
