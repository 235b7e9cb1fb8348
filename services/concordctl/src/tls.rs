//! The client side of TLS for both halves, as etcd 3.4's
//! `transport.TLSInfo.ClientConfig` builds it for etcdctl: a client
//! certificate and key (both or neither), the servers checked against the
//! CA bundle given, or against the system's roots when none is, or not at
//! all with `--insecure-skip-tls-verify`. rustls with the ring provider
//! only, as the member serves TLS.

use std::io::BufReader;
use std::sync::Arc;

use concord_process::tls::SkipVerify;
use rustls::crypto::ring;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// What the flags say of TLS (`--cacert`/`--ca-file`, `--cert`/
/// `--cert-file`, `--key`/`--key-file`, `--insecure-skip-tls-verify`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub skip_verify: bool,
}

impl TlsFiles {
    /// Whether any file was given (etcdctl then sets TLS up for every
    /// endpoint without a scheme, not only `https://` ones).
    pub fn any(&self) -> bool {
        !self.ca.is_empty() || !self.cert.is_empty() || !self.key.is_empty()
    }
}

/// Why a TLS configuration cannot be built, in Go's words where etcdctl
/// prints them.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("KeyFile and CertFile must both be present[key: {key}, cert: {cert}]")]
    HalfPair { key: String, cert: String },
    #[error("open {path}: {why}")]
    Read { path: String, why: String },
    #[error("tls: failed to find any PEM data in certificate input")]
    NoCertificate,
    #[error("tls: failed to find any PEM data in key input")]
    NoKey,
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
}

fn read(path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_string(),
        why: concord_consensus::node::go_os_error(&e),
    })
}

fn certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(pem.as_slice()))
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

fn key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    rustls_pemfile::private_key(&mut BufReader::new(pem.as_slice()))
        .ok()
        .flatten()
        .ok_or(TlsError::NoKey)
}

fn roots(files: &TlsFiles) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    if files.ca.is_empty() {
        // As Go, a machine without readable roots trusts nothing rather
        // than failing before any https:// endpoint is used.
        let native = rustls_native_certs::load_native_certs().unwrap_or_default();
        store.add_parsable_certificates(native);
    } else {
        store.add_parsable_certificates(certs(&files.ca)?);
    }
    Ok(store)
}

/// The client configuration, offering `alpn` (`h2` for gRPC, as grpc-go
/// does; `http/1.1` for the v2 half).
pub fn client_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsError> {
    if files.cert.is_empty() != files.key.is_empty() {
        return Err(TlsError::HalfPair {
            key: files.key.clone(),
            cert: files.cert.clone(),
        });
    }
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if files.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
    } else {
        builder.with_root_certificates(roots(files)?)
    };
    let mut config = if files.cert.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder.with_client_auth_cert(certs(&files.cert)?, key(&files.key)?)?
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: the endpoint's host (an
/// IP address is matched against the IP SANs, as Go does).
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).ok()
}
