//! XAdES-BES enveloped signature of the `AuthTokenRequest`.
//!
//! We produce the document ourselves, so we serialize every digested node directly in its
//! exclusive-C14N form (no whitespace between elements, attributes in canonical order, namespace
//! declarations exactly where exc-C14N renders them), and embed those same bytes in the document.
//! Three byte strings are hashed or signed:
//!
//! 1. Reference `URI=""` (enveloped-signature + exc-C14N): the root element without the
//!    `ds:Signature` child: `<AuthTokenRequest xmlns="…">…</AuthTokenRequest>`.
//! 2. Reference to `#…SignedProperties` (exc-C14N, `Type=…#SignedProperties`): the
//!    `xades:SignedProperties` element, which declares `xmlns:xades` itself, and on which every
//!    top-most `ds:` element inside re-declares `xmlns:ds` (exc-C14N renders a namespace on the
//!    first output element that visibly uses it).
//! 3. `ds:SignedInfo` in exc-C14N form with its own `xmlns:ds` declaration; this is what the
//!    private key signs (RSA PKCS#1 v1.5 SHA-256, or ECDSA P-256 SHA-256 as raw r||s).

pub(crate) mod c14n;
mod request;

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use self::c14n::{escape_attr, escape_text};
pub use self::request::{
    AllowedIps, AuthNamespace, AuthTokenRequest, ContextIdentifier, SubjectIdentifierType,
};
use crate::b64;
use crate::error::Result;
use crate::identity::SigningIdentity;

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SIGNED_PROPS_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";
const SIG_ID: &str = "Signature-KSeF";
const PROPS_ID: &str = "SignedProperties-KSeF";

/// The canonical `xades:SignedProperties` element.
fn signed_properties(identity: &SigningIdentity, signing_time: DateTime<Utc>) -> String {
    let cert_digest = b64::encode(b64::sha256(identity.certificate_der()));
    let mut s = String::with_capacity(1024);
    let _ = write!(
        s,
        "<xades:SignedProperties xmlns:xades=\"{XADES}\" Id=\"{PROPS_ID}\">\
<xades:SignedSignatureProperties>\
<xades:SigningTime>{}</xades:SigningTime>\
<xades:SigningCertificate><xades:Cert><xades:CertDigest>\
<ds:DigestMethod xmlns:ds=\"{DS}\" Algorithm=\"{SHA256}\"></ds:DigestMethod>\
<ds:DigestValue xmlns:ds=\"{DS}\">{cert_digest}</ds:DigestValue>\
</xades:CertDigest><xades:IssuerSerial>\
<ds:X509IssuerName xmlns:ds=\"{DS}\">{}</ds:X509IssuerName>\
<ds:X509SerialNumber xmlns:ds=\"{DS}\">{}</ds:X509SerialNumber>\
</xades:IssuerSerial></xades:Cert></xades:SigningCertificate>\
</xades:SignedSignatureProperties></xades:SignedProperties>",
        signing_time.to_rfc3339_opts(SecondsFormat::Secs, true),
        escape_text(&identity.issuer_name()),
        identity.serial_decimal(),
    );
    s
}

/// The canonical `ds:SignedInfo` element.
fn signed_info(method: &str, doc_digest: &str, props_digest: &str) -> String {
    format!(
        "<ds:SignedInfo xmlns:ds=\"{DS}\">\
<ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
<ds:SignatureMethod Algorithm=\"{method}\"></ds:SignatureMethod>\
<ds:Reference URI=\"\"><ds:Transforms>\
<ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform>\
<ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform>\
</ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
<ds:DigestValue>{doc_digest}</ds:DigestValue></ds:Reference>\
<ds:Reference Type=\"{SIGNED_PROPS_TYPE}\" URI=\"#{PROPS_ID}\"><ds:Transforms>\
<ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform>\
</ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
<ds:DigestValue>{props_digest}</ds:DigestValue></ds:Reference>\
</ds:SignedInfo>"
    )
}

impl AuthTokenRequest {
    /// Sign with the identity, `SigningTime` = now.
    pub fn sign_xades(&self, identity: &SigningIdentity) -> Result<String> {
        self.sign_xades_at(identity, Utc::now())
    }

    /// Sign with the identity and an explicit `SigningTime`. Returns the signed document (UTF-8),
    /// the body of `POST /auth/xades-signature`.
    pub fn sign_xades_at(
        &self,
        identity: &SigningIdentity,
        signing_time: DateTime<Utc>,
    ) -> Result<String> {
        let ns = self.ns_uri();
        let body = self.canonical_body();
        let root_open = format!("<AuthTokenRequest xmlns=\"{}\">", escape_attr(ns));
        let canonical_doc = format!("{root_open}{body}</AuthTokenRequest>");
        let doc_digest = b64::sha256_b64(canonical_doc.as_bytes());

        let props = signed_properties(identity, signing_time);
        let props_digest = b64::sha256_b64(props.as_bytes());

        let key = identity.private_key();
        let info = signed_info(key.xmldsig_signature_method(), &doc_digest, &props_digest);
        let sig = key.sign_xmldsig(info.as_bytes())?;

        let mut out = String::with_capacity(4096 + identity.certificate_der().len() * 2);
        out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        out.push_str(&root_open);
        out.push_str(&body);
        let _ = write!(
            out,
            "<ds:Signature xmlns:ds=\"{DS}\" Id=\"{SIG_ID}\">{info}\
<ds:SignatureValue>{}</ds:SignatureValue>\
<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
<ds:Object><xades:QualifyingProperties xmlns:xades=\"{XADES}\" Target=\"#{SIG_ID}\">{props}</xades:QualifyingProperties></ds:Object>\
</ds:Signature></AuthTokenRequest>",
            b64::encode(&sig),
            b64::encode(identity.certificate_der()),
        );
        Ok(out)
    }
}
