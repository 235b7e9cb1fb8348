//! `compaction`, `defrag` and `alarm list|disarm`
//! (`compaction_command.go`, `defrag_command.go`, `alarm_command.go`).
//! `alarm disarm` with no member named lists the alarms and disarms each,
//! as clientv3's `AlarmDisarm` does.

use concord_rpc::etcd::etcdserverpb::{
    AlarmRequest, AlarmResponse, CompactionRequest, DefragmentRequest,
};

use super::endpoint::endpoints_from_cluster;
use crate::v3::cli::Parsed;
use crate::v3::client::{self, Client, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::go_text::parse_int;
use crate::v3::printer;

pub fn compaction(mut p: Parsed) -> Outcome {
    let [arg] = p.args.as_slice() else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "compaction command needs 1 argument",
        ));
    };
    let revision = parse_int(arg, 10).map_err(|e| Fail::new(EXIT_ERROR, e))?;
    let physical = p.bool("physical");
    let s = session(&mut p)?;
    s.client
        .unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move {
                client::kv(ch)
                    .compact(CompactionRequest { revision, physical })
                    .await
            },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    println!("compacted revision {revision}");
    Ok(())
}

pub fn defrag(mut p: Parsed) -> Outcome {
    if !p.string("data-dir").is_empty() {
        // etcdctl opens etcd's bbolt file there; a Concord member keeps
        // its data in SQLite, which needs no defragmenting offline.
        return Err(Fail::new(
            EXIT_ERROR,
            "concordctl does not defragment a data directory (--data-dir)",
        ));
    }
    let s = session(&mut p)?;
    let mut failures = 0;
    for ep in endpoints_from_cluster(&p, &s.client)? {
        let c = s.client.for_endpoint(&ep);
        match c.unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move {
                client::maintenance(ch)
                    .defragment(DefragmentRequest {})
                    .await
            },
        ) {
            Ok(_) => println!("Finished defragmenting etcd member[{ep}]"),
            Err(e) => {
                eprintln!("Failed to defragment etcd member[{ep}] ({})", e.text());
                failures += 1;
            }
        }
    }
    if failures > 0 {
        return Err(Fail::silent(EXIT_ERROR));
    }
    Ok(())
}

// AlarmRequest.AlarmAction: GET 0, ACTIVATE 1, DEACTIVATE 2.
const ALARM_GET: i32 = 0;
const ALARM_DEACTIVATE: i32 = 2;

fn alarm_call(
    c: &Client,
    timeout: std::time::Duration,
    req: AlarmRequest,
) -> Result<AlarmResponse, Fail> {
    c.unary(Some(timeout), Retry::Repeatable, |ch| async move {
        client::maintenance(ch).alarm(req).await
    })
    .map_err(|e| Fail::new(EXIT_ERROR, e.text()))
}

pub fn alarm_list(mut p: Parsed) -> Outcome {
    if !p.args.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "alarm list command accepts no arguments",
        ));
    }
    let s = session(&mut p)?;
    let req = AlarmRequest {
        action: ALARM_GET,
        member_id: 0,
        alarm: 0,
    };
    let resp = alarm_call(&s.client, s.command_timeout, req)?;
    printer::alarm(s.writer, &resp)
}

pub fn alarm_disarm(mut p: Parsed) -> Outcome {
    if !p.args.is_empty() {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "alarm disarm command accepts no arguments",
        ));
    }
    let s = session(&mut p)?;
    let listed = alarm_call(
        &s.client,
        s.command_timeout,
        AlarmRequest {
            action: ALARM_GET,
            member_id: 0,
            alarm: 0,
        },
    )?;
    // clientv3 answers with the disarmed alarms alone, no header.
    let mut resp = AlarmResponse::default();
    for a in listed.alarms {
        let d = alarm_call(
            &s.client,
            s.command_timeout,
            AlarmRequest {
                action: ALARM_DEACTIVATE,
                member_id: a.member_id,
                alarm: a.alarm,
            },
        )?;
        resp.alarms.extend(d.alarms);
    }
    printer::alarm(s.writer, &resp)
}
