//! The lines etcdctl's libraries log on stderr, which scripts see beside
//! its output: clientv3's zap warning for every failed unary attempt
//! (`clientv3/retry_interceptor.go:62`), and capnslog's lines from etcd's
//! `pkg/flags` about `ETCDCTL_*` variables. Times are UTC, as on the
//! machines etcdctl runs in (containers).

use std::time::{SystemTime, UNIX_EPOCH};

use super::error::status_text;
use crate::v3::printer::json::quote as json_quote;

/// clientv3's warning for a failed attempt of a unary call.
pub fn retry_warning(target: &str, attempt: u32, status: &tonic::Status) {
    eprintln!(
        "{{\"level\":\"warn\",\"ts\":\"{}\",\"caller\":\"clientv3/retry_interceptor.go:62\",\"msg\":\"retrying of unary invoker failed\",\"target\":{},\"attempt\":{attempt},\"error\":{}}}",
        zap_time(),
        json_quote(target),
        json_quote(&status_text(status))
    );
}

/// A zap JSON line of etcd's own loggers: `epoch` for
/// `zap.NewProduction` (seconds since 1970 as a number), else clientv3's
/// ISO 8601 time; `fields` are raw JSON values.
pub fn zap(level: &str, epoch: bool, caller: &str, msg: &str, fields: &[(&str, String)]) {
    let ts = if epoch {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        format!("{}", d.as_secs_f64())
    } else {
        json_quote(&zap_time())
    };
    let mut line = format!(
        "{{\"level\":\"{level}\",\"ts\":{ts},\"caller\":\"{caller}\",\"msg\":{}",
        json_quote(msg)
    );
    for (k, v) in fields {
        line.push_str(&format!(",{}:{v}", json_quote(k)));
    }
    line.push('}');
    eprintln!("{line}");
}

/// A capnslog line (`2006-01-02 15:04:05.000000 W | pkg/flags: ...`).
pub fn capnslog(level: char, package: &str, msg: &str) {
    eprintln!("{} {level} | {package}: {msg}", capnslog_time());
}

/// Seconds, nanoseconds and the civil date of now, UTC.
fn now() -> (u64, u32, i64, u32, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    (secs, d.subsec_nanos(), y, m, day)
}

/// zap's ISO 8601 time with milliseconds: `2026-12-07T14:39:03.398Z`.
fn zap_time() -> String {
    let (secs, nanos, y, m, d) = now();
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        nanos / 1_000_000
    )
}

/// capnslog's time: `2026-12-07 14:44:32.876197`.
fn capnslog_time() -> String {
    let (secs, nanos, y, m, d) = now();
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        nanos / 1000
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A random (version 4) UUID, as clientv3 names its resolver group.
pub fn uuid4() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_794), (2026, 12, 7));
    }
}
