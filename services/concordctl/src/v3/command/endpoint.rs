//! `endpoint health|status|hashkv` (`ep_command.go`), and the endpoint
//! list they and `defrag` work on (`endpointsFromCluster`: the
//! `--endpoints` as given, or with `--cluster` every member's client URLs).
//! The endpoints are asked one after the other (etcdctl asks them in
//! parallel; the rows come out in the same order for one endpoint).

use std::time::Instant;

use concord_rpc::etcd::etcdserverpb::{
    HashKvRequest, MemberListRequest, RangeRequest, StatusRequest,
};
use tonic::Code;

use crate::v3::cli::Parsed;
use crate::v3::client::{self, Client, Config, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_CONNECTION, EXIT_ERROR};
use crate::v3::globals::{self, session};
use crate::v3::go_text;
use crate::v3::printer::{self, EpHashKv, EpHealth, EpStatus};

/// etcdctl's `endpointsFromCluster`.
pub fn endpoints_from_cluster(p: &Parsed, client: &Client) -> Result<Vec<String>, Fail> {
    if !p.bool("cluster") {
        return Ok(p.strings("endpoints"));
    }
    let members = client
        .unary(
            Some(globals::command_timeout(p)),
            Retry::Repeatable,
            |ch| async move { client::cluster(ch).member_list(MemberListRequest {}).await },
        )
        .map_err(|e| {
            Fail::new(
                EXIT_ERROR,
                format!(
                    "failed to fetch endpoints from etcd cluster member list: {}",
                    e.text()
                ),
            )
        })?;
    Ok(members
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

pub fn health(mut p: Parsed) -> Outcome {
    globals::apply_env(&mut p)?;
    let (cfg, writer) = globals::client_config(&p)?;
    let timeout = globals::command_timeout(&p);
    let lister = Client::new(cfg.clone());
    if p.bool("cluster") {
        lister
            .authenticate()
            .map_err(|e| Fail::new(EXIT_BAD_CONNECTION, e.text()))?;
    }
    let mut rows = Vec::new();
    for ep in endpoints_from_cluster(&p, &lister)? {
        let c = Client::new(Config {
            endpoints: vec![ep.clone()],
            ..cfg.clone()
        });
        let start = Instant::now();
        // Each endpoint's own clientv3.New: with --user, its token first.
        let outcome = c.authenticate().and_then(|()| {
            c.unary(Some(timeout), Retry::Repeatable, |ch| async move {
                client::kv(ch)
                    .range(RangeRequest {
                        key: b"health".to_vec(),
                        ..Default::default()
                    })
                    .await
            })
        });
        let took = go_text::duration(start.elapsed().as_nanos() as i64);
        let (health, error) = match outcome {
            Ok(_) => (true, String::new()),
            // An auth-enabled cluster answers; that is healthy enough.
            Err(e) if e.status.code() == Code::PermissionDenied && e.is_etcd() => {
                (true, String::new())
            }
            Err(e) => (false, e.text()),
        };
        rows.push(EpHealth {
            ep,
            health,
            took,
            error,
        });
    }
    printer::endpoint_health(writer, &rows)?;
    if rows.iter().any(|r| !r.error.is_empty()) {
        return Err(Fail::new(EXIT_ERROR, "unhealthy cluster"));
    }
    Ok(())
}

pub fn status(mut p: Parsed) -> Outcome {
    let s = session(&mut p)?;
    let mut rows = Vec::new();
    let mut failed = false;
    for ep in endpoints_from_cluster(&p, &s.client)? {
        let c = s.client.for_endpoint(&ep);
        match c.unary(
            Some(s.command_timeout),
            Retry::Repeatable,
            |ch| async move { client::maintenance(ch).status(StatusRequest {}).await },
        ) {
            Ok(resp) => rows.push(EpStatus { ep, resp }),
            Err(e) => {
                failed = true;
                eprintln!("Failed to get the status of endpoint {ep} ({})", e.text());
            }
        }
    }
    printer::endpoint_status(s.writer, &rows)?;
    if failed {
        return Err(Fail::silent(EXIT_ERROR));
    }
    Ok(())
}

pub fn hashkv(mut p: Parsed) -> Outcome {
    let s = session(&mut p)?;
    let revision = p.int64("rev");
    let mut rows = Vec::new();
    let mut last_error = None;
    for ep in endpoints_from_cluster(&p, &s.client)? {
        let c = s.client.for_endpoint(&ep);
        match c.unary(
            Some(s.command_timeout),
            Retry::Repeatable,
            |ch| async move {
                client::maintenance(ch)
                    .hash_kv(HashKvRequest { revision })
                    .await
            },
        ) {
            Ok(resp) => rows.push(EpHashKv { ep, resp }),
            Err(e) => {
                eprintln!("Failed to get the hash of endpoint {ep} ({})", e.text());
                last_error = Some(e.text());
            }
        }
    }
    printer::endpoint_hashkv(s.writer, &rows)?;
    match last_error {
        Some(e) => Err(Fail::new(EXIT_ERROR, e)),
        None => Ok(()),
    }
}
