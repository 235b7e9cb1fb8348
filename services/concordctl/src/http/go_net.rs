//! Go's wording of what the network says: the `syscall.Errno` texts a
//! `*net.OpError` ends with, and the resolver `net` names in a failed
//! lookup. etcdctl prints these inside its errors (`dial tcp
//! 127.0.0.1:1: connect: connection refused`), so they are part of its
//! output.

use std::io;
use std::net::IpAddr;

/// Go's `syscall.Errno` text of an I/O error from connecting, reading or
/// writing.
pub fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(111) => "connection refused".into(),
        Some(104) => "connection reset by peer".into(),
        Some(101) => "network is unreachable".into(),
        Some(113) => "no route to host".into(),
        Some(110) => "connection timed out".into(),
        Some(13) => "permission denied".into(),
        Some(99) => "cannot assign requested address".into(),
        Some(32) => "broken pipe".into(),
        _ => {
            // Rust's text without its ` (os error N)`, lower-cased as Go's.
            let s = e.to_string();
            let s = s.split(" (os error").next().unwrap_or(&s).to_string();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
    }
}

/// The first `nameserver` of `/etc/resolv.conf`, as Go names it in a
/// failed lookup (`lookup nohost on 127.0.0.53:53: no such host`).
pub fn nameserver() -> String {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver")).then(|| w.next().map(String::from))?
            })
        })
        .map(|ns| match ns.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{ns}]:53"),
            _ => format!("{ns}:53"),
        })
        .unwrap_or_else(|| "127.0.0.1:53".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errnos_are_worded_as_go() {
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(errno_text(&refused), "connection refused");
        let other = io::Error::other("Something odd");
        assert_eq!(errno_text(&other), "something odd");
    }
}
