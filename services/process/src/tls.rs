//! TLS on the client and peer URLs, as etcd 3.4's `pkg/transport.TLSInfo`
//! sets it up, with rustls (the `ring` provider only: aws-lc needs cmake).
//!
//! A [`TlsInfo`] is one side's flags (`--cert-file`, `--key-file`,
//! `--trusted-ca-file`, `--client-cert-auth`, `--auto-tls`, or their
//! `--peer-*` twins). [`server_config`] turns it into what a listener
//! serves: the certificate (read from PEM files, or with `--auto-tls` made
//! once in the data dir, `fixtures/client` or `fixtures/peer`, as etcd's
//! `SelfCert`), client certificates required and checked against the
//! trusted CA when asked (also a required CN, `--peer-cert-allowed-cn`),
//! and ALPN `h2` and `http/1.1`, so one TLS port serves gRPC and the v2 API
//! (the serve loop dispatches on the negotiated protocol).
//! [`client_config`] is the peer side's dialer: it presents the peer
//! certificate and checks the other member's against the trusted CA.
//! [`cipher_suites`] maps etcd's `--cipher-suites` (Go's names) to rustls's.

use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig,
    SignatureScheme, SupportedCipherSuite,
};

pub use rustls;
pub use tokio_rustls;

/// One side's TLS flags (client or peer), as etcd's `TLSInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub cert_file: String,
    pub key_file: String,
    pub trusted_ca_file: String,
    pub client_cert_auth: bool,
    pub auto_tls: bool,
    /// `--peer-cert-allowed-cn`: the CN a client certificate must carry.
    pub allowed_cn: String,
}

impl TlsInfo {
    /// Whether a certificate is configured (given or to be made).
    pub fn has_cert(&self) -> bool {
        (!self.cert_file.is_empty() && !self.key_file.is_empty()) || self.auto_tls
    }

    /// etcd's start line for it ("ClientTLS: cert = ..., ...").
    pub fn describe(&self) -> String {
        format!(
            "cert = {}, key = {}, trusted-ca = {}, client-cert-auth = {}, crl-file = ",
            self.cert_file, self.key_file, self.trusted_ca_file, self.client_cert_auth
        )
    }
}

/// Why a TLS configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("tls: failed to find any PEM data in certificate input ({0})")]
    NoCertificate(String),
    #[error("tls: failed to find any PEM data in key input ({0})")]
    NoKey(String),
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: bad trusted CA file {path}: {why}")]
    TrustedCa { path: String, why: String },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// etcd's words (`util.go`'s `getCipherSuites`), with what Concord
    /// can serve.
    #[error("unexpected TLS cipher suite {0:?} (supported: {1})")]
    UnknownCipherSuite(String, String),
}

/// etcd's `--cipher-suites` names (Go's) that rustls implements: the TLS
/// 1.2 ECDHE suites with AES-GCM or ChaCha20-Poly1305. TLS 1.3's suites are
/// not chosen by the flag (as in Go).
const GO_SUITES: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The crypto provider for `--cipher-suites` (empty: rustls's defaults).
/// With suites given, TLS 1.2 is limited to them; TLS 1.3's stay, since
/// Go's `CipherSuites` does not govern TLS 1.3 either.
pub fn cipher_suites(names: &[String]) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut provider = ring::default_provider();
    if names.is_empty() {
        return Ok(Arc::new(provider));
    }
    let mut chosen: Vec<SupportedCipherSuite> = provider
        .cipher_suites
        .iter()
        .copied()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        .collect();
    for name in names {
        let Some((_, suite)) = GO_SUITES.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = GO_SUITES.iter().map(|(n, _)| *n).collect();
            return Err(TlsError::UnknownCipherSuite(name.clone(), known.join(", ")));
        };
        if !chosen.contains(suite) {
            chosen.push(*suite);
        }
    }
    provider.cipher_suites = chosen;
    Ok(Arc::new(provider))
}

/// The ALPN protocols a listener offers: gRPC (HTTP/2) and the v2 API
/// (HTTP/1.1) on one port.
const ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// What a TLS listener serves. `auto_dir` is where `--auto-tls` keeps its
/// certificate (`<data-dir>/fixtures/client`), `hosts` the names it is
/// made for (the listen URLs' hosts, as etcd's).
pub fn server_config(
    info: &TlsInfo,
    provider: &Arc<CryptoProvider>,
    auto_dir: &Path,
    hosts: &[String],
) -> Result<Arc<ServerConfig>, TlsError> {
    let (certs, key) = identity(info, auto_dir, hosts)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    // etcd's TLSInfo: a trusted CA (or --client-cert-auth) makes a client
    // certificate required and verified.
    let mut config = if !info.trusted_ca_file.is_empty() || info.client_cert_auth {
        let roots = trusted_roots(&info.trusted_ca_file)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsError::TrustedCa {
                path: info.trusted_ca_file.clone(),
                why: e.to_string(),
            })?;
        let verifier: Arc<dyn ClientCertVerifier> = if info.allowed_cn.is_empty() {
            verifier
        } else {
            Arc::new(AllowedCn {
                inner: verifier,
                cn: info.allowed_cn.clone(),
            })
        };
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)?
    } else {
        builder.with_no_client_auth().with_single_cert(certs, key)?
    };
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// What a member dials its peers with: its peer certificate as client
/// certificate, the other's checked against the trusted CA. Without one
/// (`--peer-auto-tls`, self-signed certificates) the other's certificate is
/// not checked, as etcd's `InsecureSkipVerify` for auto TLS.
pub fn client_config(
    info: &TlsInfo,
    provider: &Arc<CryptoProvider>,
    auto_dir: &Path,
    hosts: &[String],
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if info.trusted_ca_file.is_empty() {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider.clone())))
    } else {
        builder.with_root_certificates(trusted_roots(&info.trusted_ca_file)?)
    };
    let mut config = if info.has_cert() {
        let (certs, key) = identity(info, auto_dir, hosts)?;
        builder.with_client_auth_cert(certs, key)?
    } else {
        builder.with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The certificate chain and key: the files given, or the self-signed pair
/// `--auto-tls` keeps in `auto_dir`.
fn identity(
    info: &TlsInfo,
    auto_dir: &Path,
    hosts: &[String],
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let (cert_file, key_file) = if !info.cert_file.is_empty() && !info.key_file.is_empty() {
        (
            PathBuf::from(&info.cert_file),
            PathBuf::from(&info.key_file),
        )
    } else {
        self_cert(auto_dir, hosts)?
    };
    let certs = read_certs(&cert_file)?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(read(&key_file)?.as_slice()))
        .map_err(|source| TlsError::Read {
            path: key_file.display().to_string(),
            source,
        })?
        .ok_or_else(|| TlsError::NoKey(key_file.display().to_string()))?;
    Ok((certs, key))
}

/// etcd's `SelfCert`: a certificate for `hosts`, valid for a year, made
/// once in `dir` (`cert.pem`, `key.pem`) and reused from there on later
/// starts.
fn self_cert(dir: &Path, hosts: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let write_err = |path: &Path| {
        let path = path.display().to_string();
        move |source| TlsError::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(hosts.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "etcd");
    params.not_before = time::OffsetDateTime::now_utc();
    params.not_after = params.not_before + time::Duration::days(365);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    // Peers present it as client certificate too.
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key)?;
    fs::write(&cert_path, cert.pem()).map_err(write_err(&cert_path))?;
    write_private(&key_path, key.serialize_pem()).map_err(write_err(&key_path))?;
    tracing::info!("created self-signed certificate {}", cert_path.display());
    Ok((cert_path, key_path))
}

/// Writes a private key readable by its owner only, as etcd's 0600.
fn write_private(path: &Path, pem: String) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?.write_all(pem.as_bytes())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(pem.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.display().to_string()));
    }
    Ok(certs)
}

fn trusted_roots(path: &str) -> Result<Arc<RootCertStore>, TlsError> {
    let bad = |why: String| TlsError::TrustedCa {
        path: path.to_string(),
        why,
    };
    if path.is_empty() {
        return Err(bad("--client-cert-auth needs a trusted CA file".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in read_certs(Path::new(path))? {
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    Ok(Arc::new(roots))
}

/// `--peer-cert-allowed-cn`: a verified client certificate must also carry
/// this common name (etcd checks it in the same handshake).
#[derive(Debug)]
struct AllowedCn {
    inner: Arc<dyn ClientCertVerifier>,
    cn: String,
}

impl ClientCertVerifier for AllowedCn {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let cn = crate::x509_cn::common_name(end_entity.as_ref());
        if cn.as_deref() != Some(self.cn.as_str()) {
            // etcd's words (pkg/transport/listener.go).
            return Err(rustls::Error::General(format!(
                "CommonName authentication failed (CommonName {:?}, allowed {:?})",
                cn.unwrap_or_default(),
                self.cn
            )));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A server's certificate taken unchecked (a peer's self-signed
/// `--peer-auto-tls`, etcdctl's `--insecure-skip-tls-verify`), its
/// handshake signatures still checked (so the peer holds its key).
#[derive(Debug)]
pub struct SkipVerify(pub Arc<CryptoProvider>);

impl ServerCertVerifier for SkipVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The text etcd logs for a refused handshake, where Go's wording is known
/// ("rejected connection from ... (error ...)").
pub fn handshake_error_text(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::NoCertificatesPresented) => {
            "tls: client didn't provide a certificate".into()
        }
        Some(rustls::Error::InvalidMessage(_)) => {
            "tls: first record does not look like a TLS handshake".into()
        }
        Some(other) => format!("tls: {other}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_cipher_suite_names() {
        let p = cipher_suites(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256".into()]).unwrap();
        assert!(p
            .cipher_suites
            .contains(&ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256));
        assert!(!p
            .cipher_suites
            .contains(&ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384));
        let e = cipher_suites(&["TLS_RSA_WITH_RC4_128_SHA".into()]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("unexpected TLS cipher suite \"TLS_RSA_WITH_RC4_128_SHA\""));
    }

    #[test]
    fn auto_tls_makes_a_certificate_once() {
        let dir = std::env::temp_dir().join(format!("concord-tls-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let info = TlsInfo {
            auto_tls: true,
            ..Default::default()
        };
        let p = cipher_suites(&[]).unwrap();
        let hosts = vec!["127.0.0.1".to_string()];
        server_config(&info, &p, &dir, &hosts).unwrap();
        let first = fs::read(dir.join("cert.pem")).unwrap();
        server_config(&info, &p, &dir, &hosts).unwrap();
        assert_eq!(fs::read(dir.join("cert.pem")).unwrap(), first);
        let _ = fs::remove_dir_all(&dir);
    }
}
