//! The `table` writer (`printer_table.go`, olekukonko/tablewriter): a
//! boxed table, headers upper-cased and centred, cells right-aligned with
//! one space of padding; also the rows the `simple` writer joins with
//! commas (`makeMemberListTable`, `makeEndpointStatusTable`).

use concord_rpc::etcd::etcdserverpb::MemberListResponse;

use super::{EpHashKv, EpHealth, EpStatus};
use crate::v3::go_text::humanize_bytes;

/// `makeMemberListTable`'s rows.
pub fn member_rows(r: &MemberListResponse) -> Vec<Vec<String>> {
    r.members
        .iter()
        .map(|m| {
            vec![
                format!("{:x}", m.id),
                if m.name.is_empty() {
                    "unstarted"
                } else {
                    "started"
                }
                .to_string(),
                m.name.clone(),
                m.peer_ur_ls.join(","),
                m.client_ur_ls.join(","),
                m.is_learner.to_string(),
            ]
        })
        .collect()
}

/// `makeEndpointStatusTable`'s rows.
pub fn status_rows(rows: &[EpStatus]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|s| {
            let r = &s.resp;
            let member = r.header.as_ref().map_or(0, |h| h.member_id);
            vec![
                s.ep.clone(),
                format!("{member:x}"),
                r.version.clone(),
                humanize_bytes(r.db_size.max(0) as u64),
                (r.leader == member).to_string(),
                r.is_learner.to_string(),
                r.raft_term.to_string(),
                r.raft_index.to_string(),
                r.raft_applied_index.to_string(),
                r.errors.join(", "),
            ]
        })
        .collect()
}

pub fn member_list(r: &MemberListResponse) -> String {
    render(
        &[
            "ID",
            "Status",
            "Name",
            "Peer Addrs",
            "Client Addrs",
            "Is Learner",
        ],
        &member_rows(r),
    )
}

pub fn endpoint_health(rows: &[EpHealth]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|h| {
            vec![
                h.ep.clone(),
                h.health.to_string(),
                h.took.clone(),
                h.error.clone(),
            ]
        })
        .collect();
    render(&["endpoint", "health", "took", "error"], &rows)
}

pub fn endpoint_status(rows: &[EpStatus]) -> String {
    render(
        &[
            "endpoint",
            "ID",
            "version",
            "db size",
            "is leader",
            "is learner",
            "raft term",
            "raft index",
            "raft applied index",
            "errors",
        ],
        &status_rows(rows),
    )
}

pub fn endpoint_hashkv(rows: &[EpHashKv]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|h| vec![h.ep.clone(), h.resp.hash.to_string()])
        .collect();
    render(&["endpoint", "hash"], &rows)
}

/// `makeDBStatusTable`.
pub fn db_status(s: &super::DbStatus) -> String {
    render(
        &["hash", "revision", "total keys", "total size"],
        &[vec![
            format!("{:x}", s.hash),
            s.revision.to_string(),
            s.total_key.to_string(),
            humanize_bytes(s.total_size.max(0) as u64),
        ]],
    )
}

/// tablewriter's `Render` with `SetAlignment(ALIGN_RIGHT)`. Its automatic
/// wrapping (of cells over 30 characters, at spaces) is not needed by
/// any table etcdctl prints from these rows in practice, and is left out.
fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let titles: Vec<String> = header.iter().map(|h| title(h)).collect();
    let mut widths: Vec<usize> = titles.iter().map(|t| t.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line: String = {
        let mut l = String::from("+");
        for w in &widths {
            l.push_str(&"-".repeat(w + 2));
            l.push('+');
        }
        l.push('\n');
        l
    };
    let mut out = line.clone();
    out.push('|');
    for (t, w) in titles.iter().zip(&widths) {
        let pad = w - t.chars().count();
        let left = pad / 2;
        out.push_str(&format!(
            " {}{t}{} |",
            " ".repeat(left),
            " ".repeat(pad - left)
        ));
    }
    out.push('\n');
    out.push_str(&line);
    for row in rows {
        out.push('|');
        for (cell, w) in row.iter().zip(&widths) {
            out.push_str(&format!(" {cell:>w$} |"));
        }
        out.push('\n');
    }
    out.push_str(&line);
    out
}

/// tablewriter's `Title`: `_` and `.` as spaces, trimmed, upper-cased.
fn title(h: &str) -> String {
    let t = h.replace(['_', '.'], " ");
    let t = t.trim();
    if t.is_empty() && !h.is_empty() {
        " ".into()
    } else {
        t.to_uppercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_as_tablewriter() {
        let t = render(
            &["ID", "Status"],
            &[vec!["2e1259d415f2a040".into(), "started".into()]],
        );
        assert_eq!(
            t,
            "+------------------+---------+\n\
             |        ID        | STATUS  |\n\
             +------------------+---------+\n\
             | 2e1259d415f2a040 | started |\n\
             +------------------+---------+\n"
        );
    }
}
