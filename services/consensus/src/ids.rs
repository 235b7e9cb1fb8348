//! Member and cluster IDs, computed exactly as etcd does
//! (`membership.NewMember`, `RaftCluster.genID`), so that a cluster started
//! with the same flags has the same IDs as etcd would give it.

/// etcd's member ID: SHA-1 over the sorted peer URLs, the cluster token and
/// (for runtime adds) the Unix time in seconds; the first 8 bytes, big-endian.
pub fn member_id(peer_urls: &[String], cluster_token: &str, unix_secs: Option<i64>) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let mut h = sha1_smol::Sha1::new();
    for u in urls {
        h.update(u.as_bytes());
    }
    h.update(cluster_token.as_bytes());
    if let Some(t) = unix_secs {
        h.update(t.to_string().as_bytes());
    }
    first_u64(&h.digest().bytes())
}

/// etcd's cluster ID: SHA-1 over the sorted member IDs (8 bytes big-endian
/// each); the first 8 bytes, big-endian.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut h = sha1_smol::Sha1::new();
    for id in ids {
        h.update(&id.to_be_bytes());
    }
    first_u64(&h.digest().bytes())
}

fn first_u64(b: &[u8; 20]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// IDs are shown in lowercase hex without leading zeros, as etcd's
/// `types.ID.String()` (`strconv.FormatUint(id, 16)`).
pub fn hex(id: u64) -> String {
    format!("{id:x}")
}

/// A list of URLs as etcd's log lines print one (Go's `%v` of a
/// `[]string`): `[http://a:2380 http://b:2380]`.
pub fn url_list(urls: &[String]) -> String {
    format!("[{}]", urls.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_default_member_and_cluster() {
        let id = member_id(&["http://localhost:2380".to_string()], "etcd-cluster", None);
        assert_eq!(hex(id), "8e9e05c52164694d");
        assert_eq!(hex(cluster_id(&[id])), "cdf818194e3a8c32");
    }

    #[test]
    fn matches_a_real_etcd_34_member() {
        // etcd 3.4.23: --name me, peer http://127.0.0.1:26380, default token.
        let id = member_id(
            &["http://127.0.0.1:26380".to_string()],
            "etcd-cluster",
            None,
        );
        assert_eq!(hex(id), "8876210cd96651c6");
        assert_eq!(hex(cluster_id(&[id])), "7e1de051b63089b8");
    }

    #[test]
    fn ids_print_without_leading_zeros() {
        assert_eq!(hex(0x307dff3c65a92c), "307dff3c65a92c");
    }

    #[test]
    fn runtime_add_depends_on_time() {
        let urls = ["http://10.0.0.4:2380".to_string()];
        assert_ne!(
            member_id(&urls, "t", Some(1)),
            member_id(&urls, "t", Some(2))
        );
    }
}
