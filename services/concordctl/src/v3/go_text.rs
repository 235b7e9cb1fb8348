//! Go's ways of writing values that etcdctl's output shows: `%q` of a
//! byte string (`strconv.Quote`, invalid UTF-8 as `\x..`), `time.Duration`'s
//! `String`, and go-humanize's `Bytes` (`20 kB`).

use concord_store::go;

/// `fmt.Sprintf("%q", string(b))`.
pub fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in b.utf8_chunks() {
        let q = go::quote(chunk.valid());
        out.push_str(&q[1..q.len() - 1]);
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

/// `string(b)` as Go prints it: the bytes as they are (invalid UTF-8
/// shown as the replacement character, as a terminal would).
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `time.Duration(nanos).String()`: `4.817794ms`, `1m2.5s`, `0s`.
pub fn duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".into();
    }
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000_000 {
        let (unit, digits) = if u < 1_000_000 { ("µs", 3) } else { ("ms", 6) };
        return format!("{sign}{}{unit}", fraction(u, digits));
    }
    let secs = u / 1_000_000_000;
    let s = fraction(u % 60_000_000_000, 9);
    let (h, m) = (secs / 3600, secs / 60 % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}s")
    } else {
        format!("{sign}{s}s")
    }
}

/// `v / 10^digits` with its fraction, trailing zeros dropped.
fn fraction(v: u64, digits: u32) -> String {
    let scale = 10u64.pow(digits);
    let (int, frac) = (v / scale, v % scale);
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:0width$}", width = digits as usize);
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// go-humanize's `Bytes` (SI units): `20 kB`, `1.2 MB`, `512 B`.
pub fn humanize_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let e = ((n as f64).ln() / 1000f64.ln()).floor() as usize;
    let val = ((n as f64) / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", UNITS[e])
    } else {
        format!("{val:.0} {}", UNITS[e])
    }
}

/// Go's `strconv.ParseInt(s, radix, 64)` for radix 10 or 16 (no
/// prefixes); `Err` is its error text.
pub fn parse_int(s: &str, radix: u32) -> Result<i64, String> {
    let err = |what: &str| format!("strconv.ParseInt: parsing {}: {what}", go::quote(s));
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(err("invalid syntax"));
    }
    let m = u128::from_str_radix(digits, radix).map_err(|_| err("value out of range"))?;
    let v = if neg { -(m as i128) } else { m as i128 };
    i64::try_from(v).map_err(|_| err("value out of range"))
}

/// Go's `strconv.ParseUint(s, 16, 64)`; `Err` is its error text.
pub fn parse_hex_u64(s: &str) -> Result<u64, String> {
    let err = |what: &str| format!("strconv.ParseUint: parsing {}: {what}", go::quote(s));
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(err("invalid syntax"));
    }
    u64::from_str_radix(s, 16).map_err(|_| err("value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go() {
        assert_eq!(duration(4_817_794), "4.817794ms");
        assert_eq!(duration(1_500), "1.5µs");
        assert_eq!(duration(62_500_000_000), "1m2.5s");
        assert_eq!(duration(5_000_000_000), "5s");
        assert_eq!(duration(3_600_000_000_000), "1h0m0s");
    }

    #[test]
    fn bytes_as_humanize() {
        assert_eq!(humanize_bytes(20_480), "20 kB");
        assert_eq!(humanize_bytes(1_234_567), "1.2 MB");
        assert_eq!(humanize_bytes(5), "5 B");
        assert_eq!(humanize_bytes(512), "512 B");
    }

    #[test]
    fn ints_as_strconv() {
        assert_eq!(parse_int("2040a250f1835c26", 16), Ok(0x2040a250f1835c26));
        assert_eq!(
            parse_int("zz", 16),
            Err("strconv.ParseInt: parsing \"zz\": invalid syntax".into())
        );
        assert_eq!(parse_int("-5", 10), Ok(-5));
    }

    #[test]
    fn quotes_bytes() {
        assert_eq!(quote_bytes(b"a\"b\xff"), "\"a\\\"b\\xff\"");
    }
}
