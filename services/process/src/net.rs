//! The socket address a listen URL names.

use std::net::SocketAddr;

use anyhow::{anyhow, Context};

/// `http://host:port` -> a socket address to bind (`localhost` is 127.0.0.1).
pub fn listen_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow!("unsupported URL scheme in {url:?} (only http:// is served)"))?;
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
        assert!(listen_addr("http://127.0.0.1").is_err());
    }
}
