//! Time as the store sees it: Unix nanoseconds passed in with every call.
//! The store never reads a clock; callers decide what "now" is.

/// Nanoseconds since the Unix epoch (UTC).
pub type UnixNanos = i64;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// etcd v2store's minExpireTime (2000-01-01T00:00:00Z): an expiration
/// before it means "permanent".
pub const MIN_EXPIRE_TIME: UnixNanos = 946_684_800 * NANOS_PER_SEC;

/// Formats like Go's `time.RFC3339Nano` in UTC: trailing zeros of the
/// fraction are dropped, e.g. `2026-11-24T19:58:01.12Z`.
pub fn format_rfc3339_nano(t: UnixNanos) -> String {
    let secs = t.div_euclid(NANOS_PER_SEC);
    let nanos = t.rem_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        y,
        m,
        d,
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{:09}", nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Parses what [`format_rfc3339_nano`] writes (UTC, `Z` suffix).
pub fn parse_rfc3339_nano(s: &str) -> Option<UnixNanos> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut dp = date.splitn(3, '-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, b),
        None => (time, ""),
    };
    let mut tp = hms.splitn(3, ':');
    let hh: i64 = tp.next()?.parse().ok()?;
    let mm: i64 = tp.next()?.parse().ok()?;
    let ss: i64 = tp.next()?.parse().ok()?;
    let mut nanos: i64 = 0;
    if !frac.is_empty() {
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        nanos = format!("{:0<9}", frac).parse().ok()?;
    }
    let days = days_from_civil(y, m, d);
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss) * NANOS_PER_SEC + nanos)
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// serde adapter for `Option<UnixNanos>` as an RFC 3339 string.
pub mod rfc3339_opt {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<UnixNanos>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&format_rfc3339_nano(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UnixNanos>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => parse_rfc3339_nano(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom("bad RFC 3339 time")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_rfc3339_nano(1_764_014_281_120_000_000),
            "2025-11-24T19:58:01.12Z"
        );
        for t in [0, 1, 1_764_014_281_123_456_789, 951_782_400_000_000_000] {
            assert_eq!(parse_rfc3339_nano(&format_rfc3339_nano(t)), Some(t));
        }
    }
}
