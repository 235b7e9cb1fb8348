//! `move-leader <transferee-member-id>` (`move_leader_command.go`): asks
//! each endpoint's status in turn, sends `MoveLeader` to the first that
//! leads, and prints the transfer. Endpoints that do not lead are skipped;
//! none leading is etcdctl's "no leader endpoint given".

use concord_rpc::etcd::etcdserverpb::{MoveLeaderRequest, StatusRequest};

use crate::v3::cli::Parsed;
use crate::v3::client::{self, Retry};
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::session;
use crate::v3::go_text::parse_hex_u64;
use crate::v3::printer;

pub fn run(mut p: Parsed) -> Outcome {
    let [arg] = p.args.as_slice() else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "move-leader command needs 1 argument",
        ));
    };
    let target = parse_hex_u64(arg).map_err(|e| Fail::new(EXIT_BAD_ARGS, e))?;
    let s = session(&mut p)?;
    let mut leader = None;
    for ep in &s.endpoints {
        let c = s.client.for_endpoint(ep);
        let status = c
            .unary(
                Some(s.command_timeout),
                Retry::Repeatable,
                |ch| async move { client::maintenance(ch).status(StatusRequest {}).await },
            )
            .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
        let member = status.header.as_ref().map_or(0, |h| h.member_id);
        if member == status.leader {
            leader = Some((status.leader, c));
            break;
        }
    }
    let Some((leader_id, c)) = leader.filter(|(id, _)| *id != 0) else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            format!("no leader endpoint given at [{}]", s.endpoints.join(" ")),
        ));
    };
    let resp = c
        .unary(
            Some(s.command_timeout),
            Retry::NonRepeatable,
            |ch| async move {
                client::maintenance(ch)
                    .move_leader(MoveLeaderRequest { target_id: target })
                    .await
            },
        )
        .map_err(|e| Fail::new(EXIT_ERROR, e.text()))?;
    printer::move_leader(s.writer, leader_id, target, &resp)
}
