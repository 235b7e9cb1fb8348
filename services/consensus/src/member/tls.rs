//! The TLS a member serves and dials with, from its flags (etcd's
//! `embed.Config` checks, in etcd's words): client TLS for https://
//! client URLs, peer TLS for https:// peer URLs. The configs themselves are
//! built by `concord_process::tls`.

use std::path::Path;
use std::sync::Arc;

use concord_process::net::{is_https, url_host};
use concord_process::tls::rustls::crypto::CryptoProvider;
use concord_process::tls::rustls::ServerConfig;
use concord_process::tls::{self, TlsError, TlsInfo};
use tracing::{info, warn};

use super::config::ServerConfig as MemberConfig;
use crate::tls_transport::PeerTls;

/// Why the member's TLS cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// etcd: an https:// client URL needs a certificate.
    #[error("TLS key/cert (--cert-file, --key-file) must be provided for client url {0} with HTTPS scheme")]
    ClientCertMissing(String),
    /// etcd: an https:// peer URL needs a certificate.
    #[error("TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url {0} with HTTPS scheme")]
    PeerCertMissing(String),
    #[error("{0}")]
    Tls(#[from] TlsError),
}

/// The crypto provider of `--cipher-suites`.
pub fn provider(cfg: &MemberConfig) -> Result<Arc<CryptoProvider>, TlsSetupError> {
    Ok(tls::cipher_suites(&cfg.cipher_suites)?)
}

/// The hosts of `urls`, which an `--auto-tls` certificate is made for.
fn hosts(urls: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = urls.iter().filter_map(|u| url_host(u)).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// What the https:// client URLs serve (`None` when none is https://).
pub fn client(
    cfg: &MemberConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<ServerConfig>>, TlsSetupError> {
    let info = &cfg.client_tls;
    let Some(first) = cfg.listen_client_urls.iter().find(|u| is_https(u)) else {
        for url in &cfg.listen_client_urls {
            if info.has_cert() {
                // etcd's words (its "peer" included).
                warn!("The scheme of client url {url} is HTTP while peer key/cert files are presented. Ignored key/cert files.");
            }
        }
        return Ok(None);
    };
    if !info.has_cert() {
        return Err(TlsSetupError::ClientCertMissing(first.clone()));
    }
    let dir = cfg.data_dir.join("fixtures").join("client");
    let config = tls::server_config(info, provider, &dir, &hosts(&cfg.listen_client_urls))?;
    info!("ClientTLS: {}", describe(info, &dir));
    Ok(Some(config))
}

/// The peer side's TLS: what https:// peer URLs serve, and what the
/// member dials its peers with (`None` when its peer URLs are http://).
pub fn peer(
    cfg: &MemberConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<PeerTls>, TlsSetupError> {
    let info = &cfg.peer_tls;
    let https = cfg
        .listen_peer_urls
        .iter()
        .chain(&cfg.initial_advertise_peer_urls)
        .find(|u| is_https(u));
    let Some(url) = https else {
        if info.has_cert() {
            for url in &cfg.listen_peer_urls {
                // etcd's words.
                warn!("The scheme of peer url {url} is HTTP while peer key/cert files are presented. Ignored peer key/cert files.");
            }
        }
        return Ok(None);
    };
    if !info.has_cert() {
        return Err(TlsSetupError::PeerCertMissing(url.clone()));
    }
    let dir = cfg.data_dir.join("fixtures").join("peer");
    let names = hosts(
        &cfg.listen_peer_urls
            .iter()
            .chain(&cfg.initial_advertise_peer_urls)
            .cloned()
            .collect::<Vec<_>>(),
    );
    let server = tls::server_config(info, provider, &dir, &names)?;
    let client = tls::client_config(info, provider, &dir, &names)?;
    info!("peerTLS: {}", describe(info, &dir));
    Ok(Some(PeerTls { server, client }))
}

/// etcd's start line, naming the generated files under `--auto-tls`.
fn describe(info: &TlsInfo, dir: &Path) -> String {
    if info.cert_file.is_empty() && info.auto_tls {
        let auto = TlsInfo {
            cert_file: dir.join("cert.pem").display().to_string(),
            key_file: dir.join("key.pem").display().to_string(),
            ..info.clone()
        };
        return auto.describe();
    }
    info.describe()
}
