//! The subject common name of a DER certificate, for
//! `--peer-cert-allowed-cn` (rustls checks the chain, not the subject).
//! A few lines of DER reading instead of an X.509 crate: only the path
//! Certificate > tbsCertificate > subject > CN is walked.

/// The OID 2.5.4.3 (commonName), DER-encoded with its tag and length.
const CN_OID: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];

/// One DER element: (tag, contents, rest after it).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |l, &b| (l << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The certificate's subject CN, if it has one (the last, as Go's
/// `Subject.CommonName`).
pub fn common_name(cert: &[u8]) -> Option<String> {
    let (_, certificate, _) = element(cert)?;
    let (_, tbs, _) = element(certificate)?;
    let mut rest = tbs;
    // [0] version (optional), serial, signature, issuer, validity, subject.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    for _ in 0..4 {
        rest = element(rest)?.2;
    }
    let (_, mut rdns, _) = element(rest)?;
    let mut cn = None;
    while !rdns.is_empty() {
        let (_, set, next) = element(rdns)?;
        rdns = next;
        let mut attrs = set;
        while !attrs.is_empty() {
            let (_, attr, next) = element(attrs)?;
            attrs = next;
            if let Some(value) = attr.strip_prefix(CN_OID) {
                let (_, text, _) = element(value)?;
                cn = Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    cn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_cn() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "member-1");
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(common_name(cert.der()).as_deref(), Some("member-1"));
        let plain = rcgen::CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        // rcgen's default subject is CN "rcgen self signed cert".
        assert_ne!(common_name(plain.der()).as_deref(), Some("member-1"));
        assert_eq!(common_name(b"garbage"), None);
    }
}
