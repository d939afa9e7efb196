//! The `AuthTokenRequest` document (schemat_auth_v2-0.xsd / v2-1.xsd).

use std::fmt::Write as _;

use super::c14n::escape_text;
use crate::error::{CryptoError, Result};
use crate::ids::{InternalId, Nip, NipVatUe, PeppolId};

/// Namespace version of `AuthTokenRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AuthNamespace {
    /// `http://ksef.mf.gov.pl/auth/token/2.0`
    #[default]
    V2_0,
    /// `http://ksef.mf.gov.pl/auth/token/2.1` (relaxed IP patterns, same structure)
    V2_1,
}

impl AuthNamespace {
    /// The namespace URI.
    pub fn uri(&self) -> &'static str {
        match self {
            Self::V2_0 => "http://ksef.mf.gov.pl/auth/token/2.0",
            Self::V2_1 => "http://ksef.mf.gov.pl/auth/token/2.1",
        }
    }
}

/// The context the client authenticates into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContextIdentifier {
    /// `Nip`
    Nip(Nip),
    /// `InternalId`
    InternalId(InternalId),
    /// `NipVatUe`
    NipVatUe(NipVatUe),
    /// `PeppolId`
    PeppolId(PeppolId),
}

impl ContextIdentifier {
    /// Element name / API `type` value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Nip(_) => "Nip",
            Self::InternalId(_) => "InternalId",
            Self::NipVatUe(_) => "NipVatUe",
            Self::PeppolId(_) => "PeppolId",
        }
    }

    /// The identifier value.
    pub fn value(&self) -> &str {
        match self {
            Self::Nip(v) => v.as_str(),
            Self::InternalId(v) => v.as_str(),
            Self::NipVatUe(v) => v.as_str(),
            Self::PeppolId(v) => v.as_str(),
        }
    }
}

/// How KSeF identifies the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SubjectIdentifierType {
    /// From the certificate subject (NIP/PESEL attributes).
    #[default]
    CertificateSubject,
    /// By SHA-256 fingerprint of the certificate.
    CertificateFingerprint,
}

impl SubjectIdentifierType {
    /// XML value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::CertificateSubject => "certificateSubject",
            Self::CertificateFingerprint => "certificateFingerprint",
        }
    }
}

fn field_err(field: &'static str, reason: impl Into<String>) -> CryptoError {
    CryptoError::AuthTokenRequest {
        field,
        reason: reason.into(),
    }
}

/// Validate `\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}` (36 chars).
fn challenge_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |r: &[u8]| r.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F'));
    b.len() == 36
        && b[..8].iter().all(u8::is_ascii_digit)
        && &b[8..12] == b"-CR-"
        && hex(&b[12..22])
        && b[22] == b'-'
        && hex(&b[23..33])
        && b[33] == b'-'
        && hex(&b[34..])
}

/// One octet per the XSD: `25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9]` (no leading zeros).
fn octet_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && !(s.len() > 1 && s.starts_with('0'))
        && s.parse::<u16>().is_ok_and(|v| v <= 255)
}

fn ip4_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| octet_ok(p))
}

fn ip4_range_ok(s: &str) -> bool {
    s.split_once('-')
        .is_some_and(|(a, b)| ip4_ok(a) && ip4_ok(b))
}

fn ip4_mask_ok(s: &str) -> bool {
    s.split_once('/').is_some_and(|(a, m)| {
        ip4_ok(a)
            && !m.is_empty()
            && m.len() <= 2
            && m.bytes().all(|b| b.is_ascii_digit())
            && !(m.len() > 1 && m.starts_with('0'))
            && m.parse::<u8>().is_ok_and(|v| v <= 32)
    })
}

/// `AuthorizationPolicy/AllowedIps` (0–10 of each kind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedIps {
    ip4_addresses: Vec<String>,
    ip4_ranges: Vec<String>,
    ip4_masks: Vec<String>,
}

impl AllowedIps {
    fn is_empty(&self) -> bool {
        self.ip4_addresses.is_empty() && self.ip4_ranges.is_empty() && self.ip4_masks.is_empty()
    }
}

/// Builder for the XAdES `AuthTokenRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthTokenRequest {
    namespace: AuthNamespace,
    challenge: String,
    context: ContextIdentifier,
    subject_type: SubjectIdentifierType,
    allowed_ips: AllowedIps,
}

impl AuthTokenRequest {
    /// New request for `challenge` (from `POST /auth/challenge`) into `context`.
    pub fn new(challenge: &str, context: ContextIdentifier) -> Result<Self> {
        if !challenge_ok(challenge) {
            return Err(field_err(
                "Challenge",
                "must match \\d{8}-CR-[A-F0-9]{10}-[A-F0-9]{10}-[A-F0-9]{2}",
            ));
        }
        Ok(Self {
            namespace: AuthNamespace::default(),
            challenge: challenge.to_owned(),
            context,
            subject_type: SubjectIdentifierType::default(),
            allowed_ips: AllowedIps::default(),
        })
    }

    /// Choose the namespace version (default 2.0).
    pub fn namespace(mut self, ns: AuthNamespace) -> Self {
        self.namespace = ns;
        self
    }

    /// Choose the subject identifier type (default `certificateSubject`).
    pub fn subject_identifier_type(mut self, t: SubjectIdentifierType) -> Self {
        self.subject_type = t;
        self
    }

    fn push(list: &mut Vec<String>, field: &'static str, v: &str, ok: bool) -> Result<()> {
        if !ok {
            return Err(field_err(
                field,
                format!("{v:?} does not match the XSD pattern"),
            ));
        }
        if list.len() >= 10 {
            return Err(field_err(field, "at most 10 entries"));
        }
        list.push(v.to_owned());
        Ok(())
    }

    /// Allow one IPv4 address (`Ip4Address`).
    pub fn allow_ip4_address(mut self, ip: &str) -> Result<Self> {
        Self::push(
            &mut self.allowed_ips.ip4_addresses,
            "Ip4Address",
            ip,
            ip4_ok(ip),
        )?;
        Ok(self)
    }

    /// Allow an IPv4 range `a.b.c.d-e.f.g.h` (`Ip4Range`).
    pub fn allow_ip4_range(mut self, range: &str) -> Result<Self> {
        Self::push(
            &mut self.allowed_ips.ip4_ranges,
            "Ip4Range",
            range,
            ip4_range_ok(range),
        )?;
        Ok(self)
    }

    /// Allow an IPv4 network `a.b.c.d/n` (`Ip4Mask`).
    pub fn allow_ip4_mask(mut self, mask: &str) -> Result<Self> {
        Self::push(
            &mut self.allowed_ips.ip4_masks,
            "Ip4Mask",
            mask,
            ip4_mask_ok(mask),
        )?;
        Ok(self)
    }

    /// The challenge.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// The context.
    pub fn context(&self) -> &ContextIdentifier {
        &self.context
    }

    /// Namespace URI.
    pub(crate) fn ns_uri(&self) -> &'static str {
        self.namespace.uri()
    }

    /// The children of the root element, in exclusive-canonical form (no whitespace).
    pub(crate) fn canonical_body(&self) -> String {
        let mut s = String::with_capacity(512);
        let _ = write!(
            s,
            "<Challenge>{}</Challenge><ContextIdentifier><{t}>{}</{t}></ContextIdentifier><SubjectIdentifierType>{}</SubjectIdentifierType>",
            escape_text(&self.challenge),
            escape_text(self.context.value()),
            self.subject_type.as_str(),
            t = self.context.type_name(),
        );
        if !self.allowed_ips.is_empty() {
            s.push_str("<AuthorizationPolicy><AllowedIps>");
            for (tag, list) in [
                ("Ip4Address", &self.allowed_ips.ip4_addresses),
                ("Ip4Range", &self.allowed_ips.ip4_ranges),
                ("Ip4Mask", &self.allowed_ips.ip4_masks),
            ] {
                for v in list {
                    let _ = write!(s, "<{tag}>{}</{tag}>", escape_text(v));
                }
            }
            s.push_str("</AllowedIps></AuthorizationPolicy>");
        }
        s
    }

    /// The unsigned document (with XML declaration), e.g. for schema validation.
    pub fn to_xml(&self) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<AuthTokenRequest xmlns=\"{}\">{}</AuthTokenRequest>",
            self.ns_uri(),
            self.canonical_body()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(challenge_ok("20250625-CR-20F5EE4000-DA48AE4124-46"));
        assert!(!challenge_ok("20250625-CR-20F5EE4000-DA48AE4124-4"));
        assert!(!challenge_ok("20250625-CR-20f5EE4000-DA48AE4124-46"));
        assert!(ip4_ok("192.168.0.1"));
        assert!(!ip4_ok("192.168.00.1"));
        assert!(!ip4_ok("256.1.1.1"));
        assert!(!ip4_ok("1.1.1"));
        assert!(ip4_range_ok("10.0.0.1-10.0.0.9"));
        assert!(ip4_mask_ok("10.0.0.0/8"));
        assert!(!ip4_mask_ok("10.0.0.0/33"));
        assert!(!ip4_mask_ok("10.0.0.0/08"));
    }

    #[test]
    fn too_many_ips() {
        let nip = Nip::parse("5265877635").unwrap();
        let mut r = AuthTokenRequest::new(
            "20250625-CR-20F5EE4000-DA48AE4124-46",
            ContextIdentifier::Nip(nip),
        )
        .unwrap();
        for i in 0..10 {
            r = r.allow_ip4_address(&format!("10.0.0.{i}")).unwrap();
        }
        assert!(r.clone().allow_ip4_address("10.0.0.10").is_err());
        assert!(r.allow_ip4_range("1.2.3.4").is_err());
    }
}
