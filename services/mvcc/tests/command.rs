//! Replication: members applying the same commands, as consensus carries
//! them (serialized), in the same order end equal and answer alike.

mod support;

use concord_mvcc::*;
use support::*;

const SEC: i64 = 1_000_000_000;

#[test]
fn members_applying_the_same_log_stay_equal() {
    let mut put_leased = put_req("leased", "v");
    put_leased.lease = 0; // filled in with the granted id below
    let mut log = vec![
        Command::LeaseGrant {
            request: LeaseGrantRequest { ttl: 5, id: 0 },
            now: 100 * SEC,
        },
        Command::Put(put_req("a", "1")),
        Command::Txn(TxnRequest {
            success: vec![op_put("b", "2"), op_del("a", "")],
            ..Default::default()
        }),
        Command::Compaction(CompactionRequest {
            revision: 2,
            physical: false,
        }),
        Command::DeleteRange(del_req("nothing", "")),
    ];
    let mut leader = Keyspace::default();
    let mut follower = Keyspace::default();
    let mut answers = Vec::new();
    for cmd in log.drain(..) {
        let wire = serde_json::to_vec(&cmd).unwrap();
        let on_follower: Command = serde_json::from_slice(&wire).unwrap();
        let a = leader.apply(&cmd);
        let b_ = follower.apply(&on_follower);
        assert_eq!(a, b_);
        answers.push(a);
    }
    // the auto-assigned lease id is the same on both
    let Ok(Outcome::LeaseGrant(granted)) = &answers[0] else {
        panic!("grant expected")
    };
    put_leased.lease = granted.id;
    for ks in [&mut leader, &mut follower] {
        ks.apply(&Command::Put(put_leased.clone())).unwrap();
    }
    // the leader sees the lease expire at its clock and proposes the revoke
    assert!(leader.expired_leases(104 * SEC).is_empty());
    let expired = leader.expired_leases(105 * SEC);
    assert_eq!(expired, vec![granted.id]);
    for id in expired {
        let cmd = Command::LeaseRevoke { id };
        assert_eq!(leader.apply(&cmd), follower.apply(&cmd));
    }
    assert_eq!(leader, follower);
    assert!(get(&leader, "leased").is_none());
    assert_eq!(leader.revision(), 5);
    // an error is an answer too, and changes nothing on either
    let bad = Command::Compaction(CompactionRequest {
        revision: 1,
        physical: false,
    });
    assert_eq!(leader.apply(&bad), Err(Error::Compacted));
    assert_eq!(follower.apply(&bad), Err(Error::Compacted));
    assert_eq!(leader, follower);
}
