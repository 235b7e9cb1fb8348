//! Alarms, as etcd 3.4's alarm store and capped applier: a member raises
//! NOSPACE when its keyspace outgrows the quota, and until it is disarmed
//! every member refuses what would make the keyspace grow (puts, txns
//! with puts, lease grants) with "etcdserver: mvcc: database space
//! exceeded", while ranges, deletes and compaction go on. Raising,
//! listing and disarming are replicated writes ([`crate::Command::Alarm`]),
//! applied in log order as every other.

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::{Error, Result};
use crate::store::Keyspace;
use crate::types::{request_op::Request, RequestOp, ResponseHeader};

/// etcd's `AlarmType`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum AlarmType {
    /// In a request: any alarm.
    #[default]
    None,
    NoSpace,
    Corrupt,
}

impl AlarmType {
    /// From etcd's enum value (`NONE` 0, `NOSPACE` 1, `CORRUPT` 2; an
    /// unknown one is `NONE`). `as i32` gives it back.
    pub fn from_code(code: i32) -> Self {
        match code {
            1 => AlarmType::NoSpace,
            2 => AlarmType::Corrupt,
            _ => AlarmType::None,
        }
    }

    /// etcd's name (`alarm list` prints it).
    pub fn name(self) -> &'static str {
        match self {
            AlarmType::None => "NONE",
            AlarmType::NoSpace => "NOSPACE",
            AlarmType::Corrupt => "CORRUPT",
        }
    }
}

/// etcd's `AlarmRequest.AlarmAction`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmAction {
    #[default]
    Get,
    Activate,
    Deactivate,
}

/// `AlarmRequest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlarmRequest {
    pub action: AlarmAction,
    pub member_id: u64,
    pub alarm: AlarmType,
}

/// `AlarmMember`: an active alarm of one member.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Alarm {
    pub member_id: u64,
    pub alarm: AlarmType,
}

/// `AlarmResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AlarmResponse {
    pub header: ResponseHeader,
    pub alarms: Vec<Alarm>,
}

impl Keyspace {
    /// `Alarm`: lists the alarms of a type (`None`: all); raises one (the
    /// answer lists it, unless it was active already); disarms one (the
    /// answer lists it, if it was active).
    pub fn alarm(&mut self, req: &AlarmRequest) -> AlarmResponse {
        let it = Alarm {
            member_id: req.member_id,
            alarm: req.alarm,
        };
        let alarms = match req.action {
            AlarmAction::Get => self
                .alarms
                .iter()
                .filter(|a| req.alarm == AlarmType::None || a.alarm == req.alarm)
                .copied()
                .collect(),
            AlarmAction::Activate if req.alarm != AlarmType::None && self.alarms.insert(it) => {
                vec![it]
            }
            AlarmAction::Deactivate if self.alarms.remove(&it) => vec![it],
            _ => Vec::new(),
        };
        AlarmResponse {
            header: ResponseHeader::at(self.revision),
            alarms,
        }
    }

    /// Every active alarm.
    pub fn alarms(&self) -> Vec<Alarm> {
        self.alarms.iter().copied().collect()
    }

    /// Replaces the active alarms (kept beside the keyspace's snapshot).
    pub fn restore_alarms(&mut self, alarms: impl IntoIterator<Item = Alarm>) {
        self.alarms = alarms.into_iter().collect();
    }

    /// True while some member's NOSPACE alarm is active.
    pub fn no_space(&self) -> bool {
        self.alarms.iter().any(|a| a.alarm == AlarmType::NoSpace)
    }

    /// etcd's capped applier: under NOSPACE, what would grow the keyspace
    /// is refused.
    pub(crate) fn check_space(&self, command: &Command) -> Result<()> {
        if !self.no_space() {
            return Ok(());
        }
        let puts = |ops: &[RequestOp]| {
            ops.iter()
                .any(|op| matches!(op.request, Some(Request::RequestPut(_))))
        };
        match command {
            Command::Put(_) | Command::LeaseGrant { .. } => Err(Error::NoSpace),
            Command::Txn(t) if puts(&t.success) || puts(&t.failure) => Err(Error::NoSpace),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeleteRangeRequest, LeaseGrantRequest, Outcome, PutRequest, TxnRequest};

    fn raise(ks: &mut Keyspace, action: AlarmAction, member_id: u64) -> Vec<Alarm> {
        let req = AlarmRequest {
            action,
            member_id,
            alarm: AlarmType::NoSpace,
        };
        match ks.apply(&Command::Alarm(req)).unwrap() {
            Outcome::Alarm(r) => r.alarms,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nospace_refuses_growth_until_disarmed() {
        let mut ks = Keyspace::default();
        let put = Command::Put(PutRequest {
            key: b"a".to_vec(),
            value: b"1".to_vec(),
            ..Default::default()
        });
        ks.apply(&put).unwrap();
        let nospace = Alarm {
            member_id: 7,
            alarm: AlarmType::NoSpace,
        };
        assert_eq!(raise(&mut ks, AlarmAction::Activate, 7), vec![nospace]);
        assert_eq!(raise(&mut ks, AlarmAction::Activate, 7), vec![], "once");
        assert_eq!(raise(&mut ks, AlarmAction::Get, 0), vec![nospace]);
        let refused = |ks: &mut Keyspace, c: &Command| ks.apply(c).unwrap_err();
        assert_eq!(refused(&mut ks, &put), Error::NoSpace);
        assert_eq!(
            Error::NoSpace.to_string(),
            "etcdserver: mvcc: database space exceeded"
        );
        let grant = Command::LeaseGrant {
            request: LeaseGrantRequest { ttl: 10, id: 0 },
            now: 0,
        };
        assert_eq!(refused(&mut ks, &grant), Error::NoSpace);
        let txn_put = Command::Txn(TxnRequest {
            failure: vec![RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key: b"b".to_vec(),
                    ..Default::default()
                })),
            }],
            ..Default::default()
        });
        assert_eq!(refused(&mut ks, &txn_put), Error::NoSpace);
        let delete = DeleteRangeRequest {
            key: b"a".to_vec(),
            ..Default::default()
        };
        let txn_delete = Command::Txn(TxnRequest {
            success: vec![RequestOp {
                request: Some(Request::RequestDeleteRange(delete.clone())),
            }],
            ..Default::default()
        });
        ks.apply(&txn_delete).unwrap();
        ks.apply(&Command::DeleteRange(delete)).unwrap();
        assert_eq!(
            raise(&mut ks, AlarmAction::Deactivate, 8),
            vec![],
            "not 8's"
        );
        assert_eq!(raise(&mut ks, AlarmAction::Deactivate, 7), vec![nospace]);
        ks.apply(&put).unwrap();
        assert!(ks.alarms().is_empty());
    }
}
