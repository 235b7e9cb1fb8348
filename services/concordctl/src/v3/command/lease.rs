//! `lease grant|revoke|timetolive|list|keep-alive` (`lease_command.go`).
//! `timetolive`, `list` and `keep-alive` run without a deadline and fail
//! with exit 2, as etcdctl's do; `keep-alive` renews every third of the
//! TTL, as clientv3's keepalive loop, until the lease is gone.

use std::time::Duration;

use concord_rpc::etcd::etcdserverpb::{
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse, LeaseLeasesRequest,
    LeaseRevokeRequest, LeaseTimeToLiveRequest,
};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::v3::cli::Parsed;
use crate::v3::client::{self, error::CallError, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_BAD_CONNECTION, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::go_text::parse_int;
use crate::v3::printer::{self, Writer};

/// etcdctl's `leaseFromArgs`.
fn lease_id(arg: &str) -> Result<i64, Fail> {
    parse_int(arg, 16).map_err(|why| {
        Fail::new(
            EXIT_BAD_ARGS,
            format!("bad lease ID arg ({why}), expecting ID in Hex"),
        )
    })
}

fn one_arg(p: &Parsed, msg: &str) -> Result<String, Fail> {
    match p.args.as_slice() {
        [a] => Ok(a.clone()),
        _ => Err(Fail::new(EXIT_BAD_ARGS, msg)),
    }
}

pub fn grant(mut p: Parsed) -> Outcome {
    let arg = one_arg(&p, "lease grant command needs TTL argument")?;
    let ttl =
        parse_int(&arg, 10).map_err(|why| Fail::new(EXIT_BAD_ARGS, format!("bad TTL ({why})")))?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(
            Some(s.command_timeout),
            Retry::Repeatable,
            |ch| async move {
                client::lease(ch)
                    .lease_grant(LeaseGrantRequest { ttl, id: 0 })
                    .await
            },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, format!("failed to grant lease ({})", e.text())))?;
    printer::grant(s.writer, &resp)
}

pub fn revoke(mut p: Parsed) -> Outcome {
    let arg = one_arg(&p, "lease revoke command needs 1 argument")?;
    let id = lease_id(&arg)?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(
            Some(s.command_timeout),
            Retry::Repeatable,
            |ch| async move {
                client::lease(ch)
                    .lease_revoke(LeaseRevokeRequest { id })
                    .await
            },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, format!("failed to revoke lease ({})", e.text())))?;
    printer::revoke(s.writer, id, &resp)
}

pub fn time_to_live(mut p: Parsed) -> Outcome {
    let arg = one_arg(&p, "lease timetolive command needs lease ID as argument")?;
    let keys = p.bool("keys");
    let id = lease_id(&arg)?;
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(None, Retry::Repeatable, |ch| async move {
            client::lease(ch)
                .lease_time_to_live(LeaseTimeToLiveRequest { id, keys })
                .await
        })
        .map_err(|e| Fail::new(EXIT_BAD_CONNECTION, e.text()))?;
    printer::time_to_live(s.writer, &resp, keys)
}

pub fn list(mut p: Parsed) -> Outcome {
    let s = session(&mut p)?;
    let resp = s
        .client
        .unary(None, Retry::Repeatable, |ch| async move {
            client::lease(ch).lease_leases(LeaseLeasesRequest {}).await
        })
        .map_err(|e| Fail::new(EXIT_BAD_CONNECTION, e.text()))?;
    printer::leases(s.writer, &resp)
}

pub fn keep_alive(mut p: Parsed) -> Outcome {
    let arg = one_arg(&p, "lease keep-alive command needs lease ID as argument")?;
    let id = lease_id(&arg)?;
    let once = p.bool("once");
    let s = session(&mut p)?;
    let writer = s.writer;
    let run = async {
        let ch = s.client.channel(None).await.map_err(stream_fail)?;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let _ = tx.send(LeaseKeepAliveRequest { id }).await;
        let mut responses = client::lease(ch)
            .lease_keep_alive(ReceiverStream::new(rx))
            .await
            .map_err(stream_fail)?
            .into_inner();
        loop {
            let resp = match responses.next().await {
                Some(Ok(r)) => r,
                Some(Err(status)) => return Err(stream_fail(status)),
                // The stream ended: the lease is gone as far as the client
                // can tell.
                None => break,
            };
            if resp.ttl <= 0 {
                if once {
                    return Err(Fail::new(
                        EXIT_BAD_CONNECTION,
                        "etcdserver: requested lease not found",
                    ));
                }
                break;
            }
            let next = Duration::from_secs(resp_ttl_third(&resp).max(1));
            printer::keep_alive(writer, &with_id(resp, id))?;
            if once {
                return Ok(());
            }
            tokio::time::sleep(next).await;
            if tx.send(LeaseKeepAliveRequest { id }).await.is_err() {
                break;
            }
        }
        if matches!(writer, Writer::Simple { .. }) {
            println!("lease {id:016x} expired or revoked.");
        }
        Ok(())
    };
    crate::runtime::block_on(run).unwrap_or_else(|why| Err(Fail::new(EXIT_BAD_CONNECTION, why)))
}

/// clientv3 reports the lease it was asked about.
fn with_id(mut r: LeaseKeepAliveResponse, id: i64) -> LeaseKeepAliveResponse {
    r.id = id;
    r
}

/// clientv3 renews after a third of the TTL the last answer gave.
fn resp_ttl_third(r: &LeaseKeepAliveResponse) -> u64 {
    (r.ttl.max(0) as u64) / 3
}

fn stream_fail(status: tonic::Status) -> Fail {
    let e = CallError {
        status: Box::new(status),
        deadline_passed: false,
    };
    Fail::new(EXIT_BAD_CONNECTION, e.text())
}
