//! The peer's certificate, read inside the sandbox: a small DER reader for
//! the fields asyncio programs look at (`getpeercert()`'s subject, issuer,
//! validity and subject alternative names). The host verified the
//! certificate; it never parses more of it than rustls does, and a peer's
//! malformed certificate can only make these methods say `None`.

/// An X.509 certificate (DER), as the peer sent it.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("not_after", &self.not_after())
            .finish()
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        let len = bytes.iter().fold(0usize, |l, &b| (l << 8) | b as usize);
        (len, &rest[n..])
    };
    let contents = rest.get(..len)?;
    Some((tag, contents, &rest[len..]))
}

/// The contents of an element that must have `tag`, and what follows.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = element(input)?;
    (t == tag).then_some((contents, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The parts of `tbsCertificate` the methods read.
struct Tbs<'a> {
    issuer: &'a [u8],
    validity: &'a [u8],
    subject: &'a [u8],
    extensions: Option<&'a [u8]>,
}

impl Certificate {
    #[cfg_attr(not(feature = "host-mux"), allow(dead_code))]
    pub(crate) fn from_der(der: Vec<u8>) -> Certificate {
        Certificate { der }
    }

    /// The certificate as the peer sent it (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    fn tbs(&self) -> Option<Tbs<'_>> {
        let (cert, _) = expect(&self.der, SEQUENCE)?;
        let (mut tbs, _) = expect(cert, SEQUENCE)?;
        if tbs.first() == Some(&0xa0) {
            tbs = element(tbs)?.2; // version
        }
        let (_, rest) = expect(tbs, 0x02)?; // serialNumber
        let (_, rest) = expect(rest, SEQUENCE)?; // signature
        let (issuer, rest) = expect(rest, SEQUENCE)?;
        let (validity, rest) = expect(rest, SEQUENCE)?;
        let (subject, mut rest) = expect(rest, SEQUENCE)?;
        rest = expect(rest, SEQUENCE)?.1; // subjectPublicKeyInfo
        let mut extensions = None;
        while let Some((tag, contents, tail)) = element(rest) {
            if tag == 0xa3 {
                extensions = Some(expect(contents, SEQUENCE)?.0);
            }
            rest = tail;
        }
        Some(Tbs {
            issuer,
            validity,
            subject,
            extensions,
        })
    }

    /// The subject, as `CN=localhost, O=Example` (OpenSSL's one-line form).
    pub fn subject(&self) -> Option<String> {
        name(self.tbs()?.subject)
    }

    /// The issuer, in the same form.
    pub fn issuer(&self) -> Option<String> {
        name(self.tbs()?.issuer)
    }

    /// When the certificate becomes valid, as `YYYYMMDDHHMMSSZ`.
    pub fn not_before(&self) -> Option<String> {
        let (t, _) = self.validity()?;
        Some(t)
    }

    /// When it expires, as `YYYYMMDDHHMMSSZ` (`getpeercert()["notAfter"]`).
    pub fn not_after(&self) -> Option<String> {
        let (_, t) = self.validity()?;
        Some(t)
    }

    fn validity(&self) -> Option<(String, String)> {
        let validity = self.tbs()?.validity;
        let (tag1, t1, rest) = element(validity)?;
        let (tag2, t2, _) = element(rest)?;
        Some((time(tag1, t1)?, time(tag2, t2)?))
    }

    /// The subject alternative names: `DNS:example.com`, `IP Address:127.0.0.1`
    /// (`getpeercert()["subjectAltName"]`).
    pub fn subject_alt_names(&self) -> Vec<String> {
        self.sans().unwrap_or_default()
    }

    fn sans(&self) -> Option<Vec<String>> {
        let mut exts = self.tbs()?.extensions?;
        while let Some((ext, rest)) = expect(exts, SEQUENCE) {
            exts = rest;
            let (oid, mut value) = expect(ext, OID)?;
            if oid != [0x55, 0x1d, 0x11] {
                continue;
            }
            if value.first() == Some(&0x01) {
                value = element(value)?.2; // critical
            }
            let (octets, _) = expect(value, 0x04)?;
            let (mut names, _) = expect(octets, SEQUENCE)?;
            let mut out = Vec::new();
            while let Some((tag, contents, rest)) = element(names) {
                names = rest;
                match tag {
                    0x82 => out.push(format!("DNS:{}", String::from_utf8_lossy(contents))),
                    0x87 => {
                        let ip = match contents.len() {
                            4 => <[u8; 4]>::try_from(contents)
                                .map(|b| std::net::IpAddr::from(b).to_string())
                                .ok(),
                            16 => <[u8; 16]>::try_from(contents)
                                .map(|b| std::net::IpAddr::from(b).to_string())
                                .ok(),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            out.push(format!("IP Address:{ip}"));
                        }
                    }
                    _ => {}
                }
            }
            return Some(out);
        }
        Some(Vec::new())
    }
}

/// A `Name` as `CN=..., O=...`.
fn name(mut rdns: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (mut set, rest) = expect(rdns, SET)?;
        rdns = rest;
        while !set.is_empty() {
            let (atv, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(atv, OID)?;
            let (tag, text, _) = element(value)?;
            parts.push(format!("{}={}", attribute(oid), string(tag, text)));
        }
    }
    Some(parts.join(", "))
}

/// An attribute type's short name (or its dotted OID).
fn attribute(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".into(),
        [0x55, 0x04, 0x06] => "C".into(),
        [0x55, 0x04, 0x07] => "L".into(),
        [0x55, 0x04, 0x08] => "ST".into(),
        [0x55, 0x04, 0x0a] => "O".into(),
        [0x55, 0x04, 0x0b] => "OU".into(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".into(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut n: u64 = 0;
    for &b in oid {
        n = (n << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (n / 40).min(2);
                arcs.push(first);
                arcs.push(n - first * 40);
            } else {
                arcs.push(n);
            }
            n = 0;
        }
    }
    let arcs: Vec<String> = arcs.iter().map(u64::to_string).collect();
    arcs.join(".")
}

/// A directory string's text (BMPString is UTF-16).
fn string(tag: u8, text: &[u8]) -> String {
    if tag == 0x1e {
        let units: Vec<u16> = text
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(text).into_owned()
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime, as `YYYYMMDDHHMMSSZ`.
fn time(tag: u8, text: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    match tag {
        0x17 if text.len() == 13 => {
            let yy: u32 = text[..2].parse().ok()?;
            let century = if yy < 50 { "20" } else { "19" };
            Some(format!("{century}{text}"))
        }
        0x18 => Some(text.to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_gives_none_not_a_panic() {
        for der in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x03, 0x30, 0x01, 0x02],
            &[0x30, 0x80],
        ] {
            let c = Certificate::from_der(der.to_vec());
            assert_eq!(c.subject(), None);
            assert_eq!(c.not_after(), None);
            assert!(c.subject_alt_names().is_empty());
        }
    }

    #[test]
    fn oids_print_dotted() {
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
        assert_eq!(attribute(&[0x55, 0x04, 0x03]), "CN");
    }

    #[test]
    fn utc_times_get_their_century() {
        assert_eq!(time(0x17, b"300101000000Z").unwrap(), "20300101000000Z");
        assert_eq!(time(0x17, b"991231235959Z").unwrap(), "19991231235959Z");
        assert_eq!(time(0x18, b"20500101000000Z").unwrap(), "20500101000000Z");
    }
}
