//! The socket address a listen URL names.

use std::net::SocketAddr;

use anyhow::{anyhow, Context};

/// Whether a URL asks for TLS (`https://`).
pub fn is_https(url: &str) -> bool {
    url.starts_with("https://")
}

/// The host of a URL (`https://127.0.0.1:2379` -> `127.0.0.1`), for the
/// names an `--auto-tls` certificate is made for.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

/// `http://host:port` -> a socket address to bind (`localhost` is
/// 127.0.0.1). The split's processes serve plain HTTP only.
pub fn listen_addr(url: &str) -> anyhow::Result<SocketAddr> {
    if is_https(url) {
        return Err(anyhow!(
            "unsupported URL scheme in {url:?} (only http:// is served; TLS is served by the members, concord and concord-consensus)"
        ));
    }
    tls_listen_addr(url)
}

/// [`listen_addr`] for a process that serves TLS too (a member):
/// `https://host:port` as well.
pub fn tls_listen_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            anyhow!("unsupported URL scheme in {url:?} (only http:// and https:// are served)")
        })?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let (host, port) = hostport
        .rsplit_once(':')
        .ok_or_else(|| anyhow!("URL {url:?} has no port"))?;
    let host = match host {
        "localhost" => "127.0.0.1",
        h => h.trim_start_matches('[').trim_end_matches(']'),
    };
    let port: u16 = port
        .parse()
        .with_context(|| format!("bad port in {url:?}"))?;
    let ip = host
        .parse()
        .with_context(|| format!("listen URL {url:?} must use an IP address or localhost"))?;
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen_addr("http://localhost:2379").unwrap(),
            "127.0.0.1:2379".parse().unwrap()
        );
        assert_eq!(
            listen_addr("http://0.0.0.0:2379").unwrap(),
            "0.0.0.0:2379".parse().unwrap()
        );
        assert!(listen_addr("https://127.0.0.1:2379").is_err());
        assert_eq!(
            tls_listen_addr("https://127.0.0.1:2379").unwrap(),
            "127.0.0.1:2379".parse().unwrap()
        );
        assert!(listen_addr("unix://x:2379").is_err());
        assert_eq!(url_host("https://[::1]:2379").as_deref(), Some("::1"));
        assert_eq!(
            url_host("https://localhost:2379").as_deref(),
            Some("localhost")
        );
        assert!(listen_addr("http://127.0.0.1").is_err());
    }
}
