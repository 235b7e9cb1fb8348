//! The `protobuf` writer (`printer_protobuf.go`): the response's protobuf
//! encoding, raw on stdout. etcdctl hands it clientv3's lease structs,
//! which embed the response header and so marshal as the header alone;
//! and the revoke response by value, which Go cannot marshal.

use std::io::Write;

use concord_rpc::etcd::etcdserverpb::{ResponseHeader, WatchResponse};
use prost::Message;

use crate::v3::exit::{Fail, Outcome, EXIT_BAD_FEATURE};

pub fn print(m: &impl Message) -> Outcome {
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(&m.encode_to_vec());
    let _ = stdout.flush();
    Ok(())
}

/// The watch response as etcdctl rebuilds it: header, events, compact
/// revision, canceled and created (no watch ID, no cancel reason).
pub fn print_watch(r: &WatchResponse) -> Outcome {
    let wr = WatchResponse {
        header: Some(r.header.unwrap_or_default()),
        events: r.events.clone(),
        compact_revision: r.compact_revision,
        canceled: r.canceled,
        created: r.created,
        ..Default::default()
    };
    print(&wr)
}

/// A clientv3 lease struct: its embedded header's encoding.
pub fn print_header(h: Option<&ResponseHeader>) -> Outcome {
    print(&h.copied().unwrap_or_default())
}

/// etcdctl's `marshal unsupported for type <T>`; Go's `%v` of the value
/// that follows it is not reproduced.
pub fn not_a_message(type_name: &str) -> Outcome {
    Err(Fail::new(
        EXIT_BAD_FEATURE,
        format!("marshal unsupported for type {type_name}"),
    ))
}
