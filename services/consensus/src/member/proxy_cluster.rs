//! The record a v2 proxy keeps of its cluster, as etcd writes it:
//! `<data-dir>/proxy/cluster` holding `{"PeerURLs":[...]}`. A member beyond
//! the discovery token's size saves it when it becomes a proxy (the proxy
//! is the all-in-one's, `concord`'s `proxy.rs`); a data dir that holds it
//! starts a proxy again ([`super::discovery_bootstrap`]).

use std::path::{Path, PathBuf};

/// A proxy's record of its cluster, as etcd writes it:
/// `<data-dir>/proxy/cluster` holding `{"PeerURLs":[...]}`.
pub fn proxy_cluster_file(data_dir: &Path) -> PathBuf {
    data_dir.join("proxy").join("cluster")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ProxyCluster {
    #[serde(rename = "PeerURLs")]
    peer_urls: Vec<String>,
}

/// The peer URLs a proxy saved at its last start, if it did: a data dir
/// that holds them starts a proxy again.
pub fn load_proxy_cluster(data_dir: &Path) -> anyhow::Result<Option<Vec<String>>> {
    let file = proxy_cluster_file(data_dir);
    if !file.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let saved: ProxyCluster =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    Ok(Some(saved.peer_urls))
}

/// Saves the proxy's peer URLs for its next start (etcd's
/// `proxy/cluster`).
pub fn save_proxy_cluster(data_dir: &Path, peer_urls: &[String]) -> anyhow::Result<()> {
    use anyhow::Context;
    let path = proxy_cluster_file(data_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string(&ProxyCluster {
        peer_urls: peer_urls.to_vec(),
    })?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_cluster_file_is_etcds() {
        let dir = tempfile::tempdir().unwrap();
        let urls = [
            "http://127.0.0.1:1".to_string(),
            "http://127.0.0.1:2".to_string(),
        ];
        save_proxy_cluster(dir.path(), &urls).unwrap();
        assert_eq!(
            std::fs::read_to_string(proxy_cluster_file(dir.path())).unwrap(),
            r#"{"PeerURLs":["http://127.0.0.1:1","http://127.0.0.1:2"]}"#
        );
    }
}
