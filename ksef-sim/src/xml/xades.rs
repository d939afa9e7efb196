//! Verification of a signed `AuthTokenRequest` (XAdES-BES enveloped signature).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::{Decode, Encode};
use roxmltree::{Document, Node};
use sha2::Digest;
use x509_cert::Certificate;

use super::c14n::{self, C14n};
use super::limits::{self, XmlLimits};
use crate::auth::ip_rules::{IpRule, parse_ip_rules};
use crate::error::ApiError;
use crate::signatures::{Hash, rsa_pkcs1_verifies, rsa_pss_verifies};

const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
const AUTH_NS: [&str; 2] = [
    "http://ksef.mf.gov.pl/auth/token/2.0",
    "http://ksef.mf.gov.pl/auth/token/2.1",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const XPATH: &str = "http://www.w3.org/TR/1999/REC-xpath-19991116";
const XPATH2: &str = "http://www.w3.org/2002/06/xmldsig-filter2";

/// What a verified request says.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedAuth {
    pub challenge: String,
    pub context_type: String,
    pub context_value: String,
    pub subject_type: String,
    pub subject_value: String,
    /// `QualifiedSeal` (organizationIdentifier) or `QualifiedSignature`.
    pub method: &'static str,
    pub allowed_ips: Vec<IpRule>,
    /// A certificate problem that makes the authentication end with 460.
    pub certificate_problem: Option<String>,
    /// The certificate subject's common name (CN).
    pub common_name: Option<String>,
    /// The certificate subject's organization (O).
    pub organization: Option<String>,
    /// DER of the signing certificate.
    pub certificate_der: Vec<u8>,
}

fn err(code: i64, desc: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, desc, [detail.into()])
}
fn bad_sig(detail: impl Into<String>) -> ApiError {
    err(9105, "Nieprawidłowy podpis.", detail)
}

fn hash_of_digest_uri(uri: &str) -> Option<Hash> {
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => Hash::Sha1,
        "http://www.w3.org/2001/04/xmlenc#sha256" => Hash::Sha256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => Hash::Sha384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => Hash::Sha512,
        _ => return None,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SigAlg {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
}

fn sig_alg(method: Node<'_, '_>) -> Option<SigAlg> {
    let uri = method.attribute("Algorithm")?;
    const MORE: &str = "http://www.w3.org/2001/04/xmldsig-more#";
    const MORE07: &str = "http://www.w3.org/2007/05/xmldsig-more#";
    Some(match uri {
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => SigAlg::RsaPkcs1(Hash::Sha1),
        u if u == format!("{MORE}rsa-sha256") => SigAlg::RsaPkcs1(Hash::Sha256),
        u if u == format!("{MORE}rsa-sha384") => SigAlg::RsaPkcs1(Hash::Sha384),
        u if u == format!("{MORE}rsa-sha512") => SigAlg::RsaPkcs1(Hash::Sha512),
        u if u == format!("{MORE}ecdsa-sha256") => SigAlg::Ecdsa(Hash::Sha256),
        u if u == format!("{MORE}ecdsa-sha384") => SigAlg::Ecdsa(Hash::Sha384),
        u if u == format!("{MORE}ecdsa-sha512") => SigAlg::Ecdsa(Hash::Sha512),
        u if u == format!("{MORE07}sha256-rsa-MGF1") => SigAlg::RsaPss(Hash::Sha256),
        u if u == format!("{MORE07}sha384-rsa-MGF1") => SigAlg::RsaPss(Hash::Sha384),
        u if u == format!("{MORE07}sha512-rsa-MGF1") => SigAlg::RsaPss(Hash::Sha512),
        u if u == format!("{MORE07}rsa-pss") => {
            // RSASSA-PSS with explicit parameters: DigestMethod inside RSAPSSParams.
            let h = method
                .descendants()
                .find(|n| n.tag_name().name() == "DigestMethod")
                .and_then(|d| d.attribute("Algorithm"))
                .and_then(hash_of_digest_uri)
                .unwrap_or(Hash::Sha256);
            SigAlg::RsaPss(h)
        }
        _ => return None,
    })
}

fn child<'a, 'i>(node: Node<'a, 'i>, ns: &str, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a
where
    'i: 'a,
{
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

fn text_of(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(clean).ok()
}

fn c14n_of(node: Node<'_, '_>) -> Result<C14n, ApiError> {
    let uri = node.attribute("Algorithm").unwrap_or("");
    let prefixes: Vec<String> = node
        .children()
        .find(|c| c.tag_name().name() == "InclusiveNamespaces")
        .and_then(|c| c.attribute("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    C14n::from_uri(uri, prefixes)
        .ok_or_else(|| bad_sig(format!("Unsupported canonicalization algorithm '{uri}'.")))
}

/// Most References one SignedInfo may carry (the request and SignedProperties need two).
const MAX_REFERENCES: usize = 8;

/// The element whose `Id` (`ID`, `id`) is `id`; Ids are unique (see [`reject_duplicate_ids`]).
fn element_by_id<'a, 'i>(doc: &'a Document<'i>, id: &str) -> Option<Node<'a, 'i>> {
    doc.descendants().filter(|n| n.is_element()).find(|n| {
        n.attributes()
            .any(|a| matches!(a.name(), "Id" | "ID" | "id") && a.value() == id)
    })
}

/// A same-document reference must name exactly one element: two elements with one `Id` let a
/// signed copy and a modified copy travel together.
fn reject_duplicate_ids(doc: &Document<'_>) -> Result<(), ApiError> {
    let mut seen = std::collections::HashSet::new();
    for id in doc.descendants().filter(|n| n.is_element()).flat_map(|n| {
        n.attributes()
            .filter(|a| matches!(a.name(), "Id" | "ID" | "id"))
            .map(|a| a.value())
    }) {
        if !seen.insert(id) {
            return Err(bad_sig(format!(
                "The Id '{id}' is used by more than one element."
            )));
        }
    }
    Ok(())
}

/// Digest input of one Reference.
fn reference_bytes(
    doc: &Document<'_>,
    reference: Node<'_, '_>,
    signature: Node<'_, '_>,
) -> Result<Vec<u8>, ApiError> {
    let uri = reference.attribute("URI").unwrap_or("");
    let target = if uri.is_empty() {
        None
    } else if let Some(id) = uri.strip_prefix('#') {
        let t = element_by_id(doc, id)
            .ok_or_else(|| bad_sig(format!("Reference target '#{id}' not found.")))?;
        Some(t)
    } else {
        return Err(bad_sig(format!(
            "Unsupported Reference URI '{uri}' (detached signatures are not accepted)."
        )));
    };
    let mut exclude = None;
    let mut method = C14n {
        method: c14n::Method::Inclusive10,
        with_comments: false,
    };
    if let Some(transforms) = child(reference, DS, "Transforms") {
        for t in children(transforms, DS, "Transform") {
            let alg = t.attribute("Algorithm").unwrap_or("");
            match alg {
                ENVELOPED => exclude = Some(signature.id()),
                XPATH | XPATH2 => {
                    let expr = text_of(t);
                    if expr.contains("Signature") {
                        exclude = Some(signature.id());
                    } else {
                        return Err(bad_sig(format!(
                            "Unsupported XPath transform '{}'.",
                            expr.trim()
                        )));
                    }
                }
                _ => {
                    let mut m = c14n_of(t)?;
                    // Same-document references never carry comments (bare-name/empty URI).
                    m.with_comments = false;
                    method = m;
                }
            }
        }
    }
    Ok(c14n::canonicalize(doc, target, exclude, &method))
}

fn verify_signature_value(
    alg: SigAlg,
    cert: &Certificate,
    signed: &[u8],
    sig: &[u8],
) -> Result<(), ApiError> {
    use rsa::signature::hazmat::PrehashVerifier;
    let spki_der = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|e| err(21115, "Nieprawidłowy certyfikat.", e.to_string()))?;
    let fail = || bad_sig("SignatureValue does not verify.");
    match alg {
        SigAlg::RsaPkcs1(h) | SigAlg::RsaPss(h) => {
            use rsa::pkcs8::DecodePublicKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::PublicKey::from_public_key_der(&spki_der).map_err(|_| {
                bad_sig("The certificate's key does not match the RSA signature method.")
            })?;
            if key.size() < 256 {
                return Err(bad_sig("RSA keys shorter than 2048 bits are not accepted."));
            }
            let ok = if matches!(alg, SigAlg::RsaPkcs1(_)) {
                rsa_pkcs1_verifies(key, h, signed, sig)
            } else {
                rsa_pss_verifies(key, h, signed, sig)
            };
            if ok { Ok(()) } else { Err(fail()) }
        }
        SigAlg::Ecdsa(h) => {
            use p256::pkcs8::DecodePublicKey;
            let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                .map_err(|_| bad_sig("The certificate's key is not an EC P-256 key."))?;
            if sig.len() != 64 {
                return Err(bad_sig(format!(
                    "ECDSA SignatureValue must be r||s (64 bytes for P-256), got {} bytes.",
                    sig.len()
                )));
            }
            let s = p256::ecdsa::Signature::from_slice(sig).map_err(|_| fail())?;
            let digest = h.digest(signed);
            key.verify_prehash(&digest, &s).map_err(|_| fail())
        }
    }
}

/// DN attribute values of the certificate subject by OID.
fn subject_attr(cert: &Certificate, oid: &str) -> Option<String> {
    for atv in cert.tbs_certificate().subject().iter() {
        if atv.oid.to_string() == oid {
            let v = &atv.value;
            if let Ok(s) = v.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                return Some(s.as_str().to_string());
            }
            if let Ok(s) = v.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                return Some(s.as_str().to_string());
            }
            if let Ok(s) = v.decode_as::<der::asn1::Ia5StringRef<'_>>() {
                return Some(s.as_str().to_string());
            }
        }
    }
    None
}

const OID_SERIAL_NUMBER: &str = "2.5.4.5";
const OID_ORG_IDENTIFIER: &str = "2.5.4.97";
const OID_COMMON_NAME: &str = "2.5.4.3";
const OID_ORGANIZATION: &str = "2.5.4.10";

/// Verifies the signed AuthTokenRequest; the signing certificate must be valid at `now`.
/// Errors are the synchronous 400 answers.
pub(crate) fn verify_auth_request(
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<VerifiedAuth, ApiError> {
    if body.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(err(
            21217,
            "Nieprawidłowe kodowanie znaków.",
            "Byte-order mark is not allowed.",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| err(21217, "Nieprawidłowe kodowanie znaków.", e.to_string()))?;
    let doc = limits::parse(text, &XmlLimits::AUTH_REQUEST)
        .map_err(|e| err(21001, "Nieczytelna treść.", e.to_string()))?;
    reject_duplicate_ids(&doc)?;
    let doc_root = doc.root_element();
    // Enveloped: the request is the document element. Enveloping: the document element is
    // ds:Signature and the request is the element child of one of its ds:Object elements.
    let root = if doc_root.tag_name().name() == "Signature"
        && doc_root.tag_name().namespace() == Some(DS)
    {
        let requests: Vec<Node<'_, '_>> = children(doc_root, DS, "Object")
            .flat_map(|o| o.children().filter(|c| c.is_element()))
            .filter(|c| c.tag_name().name() == "AuthTokenRequest")
            .collect();
        match requests.as_slice() {
            [] => doc_root,
            [one] => *one,
            _ => {
                return Err(bad_sig(
                    "More than one AuthTokenRequest in the ds:Object elements.",
                ));
            }
        }
    } else {
        doc_root
    };
    let ns = root.tag_name().namespace().unwrap_or("");
    if root.tag_name().name() != "AuthTokenRequest" || !AUTH_NS.contains(&ns) {
        return Err(err(
            21401,
            "Dokument nie jest zgodny ze schemą (xsd).",
            "The root element must be AuthTokenRequest in http://ksef.mf.gov.pl/auth/token/2.0 or 2.1.",
        ));
    }
    let xsd = |d: &str| {
        err(
            21401,
            "Dokument nie jest zgodny ze schemą (xsd).",
            d.to_string(),
        )
    };
    let challenge = child(root, ns, "Challenge")
        .map(text_of)
        .ok_or_else(|| xsd("Challenge is missing."))?;
    let ctx_el =
        child(root, ns, "ContextIdentifier").ok_or_else(|| xsd("ContextIdentifier is missing."))?;
    let ctx_choice = ctx_el
        .children()
        .find(|c| c.is_element())
        .ok_or_else(|| xsd("ContextIdentifier is empty."))?;
    let context_type = ctx_choice.tag_name().name().to_string();
    if !["Nip", "InternalId", "NipVatUe", "PeppolId"].contains(&context_type.as_str()) {
        return Err(xsd(
            "ContextIdentifier must contain Nip, InternalId, NipVatUe or PeppolId.",
        ));
    }
    let context_value = text_of(ctx_choice).trim().to_string();
    crate::identifiers::validate_context(&context_type, &context_value).map_err(|d| {
        err(
            21117,
            "Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.",
            d,
        )
    })?;
    let subject_id_type = child(root, ns, "SubjectIdentifierType")
        .map(text_of)
        .ok_or_else(|| xsd("SubjectIdentifierType is missing."))?;
    if !["certificateSubject", "certificateFingerprint"].contains(&subject_id_type.trim()) {
        return Err(xsd(
            "SubjectIdentifierType must be certificateSubject or certificateFingerprint.",
        ));
    }
    let mut addrs = Vec::new();
    let mut ranges = Vec::new();
    let mut masks = Vec::new();
    if let Some(ips) =
        child(root, ns, "AuthorizationPolicy").and_then(|p| child(p, ns, "AllowedIps"))
    {
        for c in ips.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "Ip4Address" => addrs.push(text_of(c)),
                "Ip4Range" => ranges.push(text_of(c)),
                "Ip4Mask" => masks.push(text_of(c)),
                _ => {}
            }
        }
    }
    let allowed_ips = parse_ip_rules(&addrs, &ranges, &masks).map_err(|d| xsd(&d))?;

    // The signature.
    let sigs: Vec<Node<'_, '_>> = doc
        .descendants()
        .filter(|n| {
            n.is_element()
                && n.tag_name().name() == "Signature"
                && n.tag_name().namespace() == Some(DS)
        })
        .collect();
    let signature = match sigs.as_slice() {
        [] => return Err(err(9102, "Brak podpisu.", "No ds:Signature element.")),
        [one] => *one,
        _ => {
            return Err(err(
                9103,
                "Przekroczona liczba dozwolonych podpisów.",
                "More than one ds:Signature.",
            ));
        }
    };
    let signed_info =
        child(signature, DS, "SignedInfo").ok_or_else(|| bad_sig("SignedInfo is missing."))?;
    let c14n_method = child(signed_info, DS, "CanonicalizationMethod")
        .ok_or_else(|| bad_sig("CanonicalizationMethod is missing."))
        .and_then(c14n_of)?;
    let alg = child(signed_info, DS, "SignatureMethod")
        .and_then(sig_alg)
        .ok_or_else(|| bad_sig("Unsupported or missing SignatureMethod."))?;
    let sig_value = child(signature, DS, "SignatureValue")
        .map(text_of)
        .and_then(|s| b64(&s))
        .ok_or_else(|| bad_sig("SignatureValue is missing or not Base64."))?;
    let cert_der = child(signature, DS, "KeyInfo")
        .and_then(|k| {
            k.descendants().find(|n| {
                n.tag_name().name() == "X509Certificate" && n.tag_name().namespace() == Some(DS)
            })
        })
        .map(text_of)
        .and_then(|s| b64(&s))
        .ok_or_else(|| {
            err(
                21115,
                "Nieprawidłowy certyfikat.",
                "KeyInfo/X509Data/X509Certificate is missing.",
            )
        })?;
    let cert = Certificate::from_der(&cert_der)
        .map_err(|e| err(21115, "Nieprawidłowy certyfikat.", e.to_string()))?;

    // References: the document (enveloped) and SignedProperties.
    let mut covers_document = false;
    let mut signed_props: Option<Node<'_, '_>> = None;
    if children(signed_info, DS, "Reference").count() > MAX_REFERENCES {
        return Err(bad_sig(format!(
            "More than {MAX_REFERENCES} References in SignedInfo."
        )));
    }
    for reference in children(signed_info, DS, "Reference") {
        let h = child(reference, DS, "DigestMethod")
            .and_then(|d| d.attribute("Algorithm"))
            .and_then(hash_of_digest_uri)
            .ok_or_else(|| bad_sig("Unsupported or missing DigestMethod."))?;
        let expected = child(reference, DS, "DigestValue")
            .map(text_of)
            .and_then(|s| b64(&s))
            .ok_or_else(|| bad_sig("DigestValue is missing."))?;
        let bytes = reference_bytes(&doc, reference, signature)?;
        if h.digest(&bytes) != expected {
            return Err(bad_sig(format!(
                "Digest of Reference URI='{}' does not match.",
                reference.attribute("URI").unwrap_or("")
            )));
        }
        let uri = reference.attribute("URI").unwrap_or("");
        if uri.is_empty() {
            // Only an enveloped signature covers the request with URI="" (in an enveloping one
            // the enveloped-signature transform would leave nothing).
            covers_document |= root == doc_root;
        } else if let Some(target) = uri.strip_prefix('#').and_then(|id| element_by_id(&doc, id)) {
            if target.tag_name().name() == "SignedProperties"
                && target.tag_name().namespace() == Some(XADES)
                && target.ancestors().any(|a| a == signature)
            {
                signed_props = Some(target);
            } else if target == root {
                // An enveloping signature references by Id exactly the request that is read.
                covers_document = true;
            }
        }
    }
    if !covers_document {
        return Err(bad_sig(
            "No Reference covers the AuthTokenRequest document.",
        ));
    }
    let Some(signed_props) = signed_props else {
        return Err(bad_sig(
            "No Reference covers xades:SignedProperties (XAdES-BES required).",
        ));
    };
    let si_bytes = c14n::canonicalize(&doc, Some(signed_info), None, &c14n_method);
    verify_signature_value(alg, &cert, &si_bytes, &sig_value)?;

    // XAdES SigningCertificate(V2) digest, inside the signed SignedProperties.
    let signing_cert = signed_props
        .descendants()
        .find(|n| {
            matches!(
                n.tag_name().name(),
                "SigningCertificate" | "SigningCertificateV2"
            ) && n.tag_name().namespace() == Some(XADES)
        })
        .ok_or_else(|| bad_sig("xades:SigningCertificate is missing."))?;
    let cert_digest_ok = signing_cert
        .descendants()
        .filter(|n| n.tag_name().name() == "CertDigest")
        .any(|cd| {
            let h = cd
                .descendants()
                .find(|n| n.tag_name().name() == "DigestMethod")
                .and_then(|d| d.attribute("Algorithm"))
                .and_then(hash_of_digest_uri);
            let v = cd
                .descendants()
                .find(|n| n.tag_name().name() == "DigestValue")
                .map(text_of)
                .and_then(|s| b64(&s));
            matches!((h, v), (Some(h), Some(v)) if h.digest(&cert_der) == v)
        });
    if !cert_digest_ok {
        return Err(bad_sig(
            "SigningCertificate digest does not match the signing certificate.",
        ));
    }

    // Certificate validity and subject.
    let tbs = cert.tbs_certificate();
    let now = std::time::SystemTime::from(now);
    let mut certificate_problem = None;
    if now < tbs.validity().not_before.to_system_time()
        || now > tbs.validity().not_after.to_system_time()
    {
        certificate_problem = Some("Certyfikat jest nieważny (poza okresem ważności).".to_string());
    }
    let fingerprint = hex::encode_upper(sha2::Sha256::digest(&cert_der));
    let serial = subject_attr(&cert, OID_SERIAL_NUMBER);
    let org_id = subject_attr(&cert, OID_ORG_IDENTIFIER);
    let method = if org_id.is_some() {
        "QualifiedSeal"
    } else {
        "QualifiedSignature"
    };
    let (subject_type, subject_value) = if subject_id_type.trim() == "certificateFingerprint" {
        ("Fingerprint".to_string(), fingerprint)
    } else if let Some(nip) = org_id.as_deref().and_then(|o| o.strip_prefix("VATPL-")) {
        ("Nip".to_string(), nip.to_string())
    } else if let Some(nip) = serial.as_deref().and_then(|s| s.strip_prefix("TINPL-")) {
        ("Nip".to_string(), nip.to_string())
    } else if let Some(pesel) = serial.as_deref().and_then(|s| s.strip_prefix("PNOPL-")) {
        ("Pesel".to_string(), pesel.to_string())
    } else {
        if certificate_problem.is_none() {
            certificate_problem = Some(
                "Certyfikat nie zawiera identyfikatora podmiotu (serialNumber TINPL-/PNOPL- lub organizationIdentifier VATPL-)."
                    .to_string(),
            );
        }
        ("Fingerprint".to_string(), fingerprint)
    };
    if certificate_problem.is_none() {
        let valid = match subject_type.as_str() {
            "Nip" => crate::identifiers::is_valid_nip(&subject_value),
            "Pesel" => crate::identifiers::is_valid_pesel(&subject_value),
            _ => true,
        };
        if !valid {
            certificate_problem = Some(format!(
                "Nieprawidłowy identyfikator w certyfikacie: {subject_value}."
            ));
        }
    }
    Ok(VerifiedAuth {
        challenge: challenge.trim().to_string(),
        context_type,
        context_value,
        subject_type,
        subject_value,
        method,
        allowed_ips,
        certificate_problem,
        common_name: subject_attr(&cert, OID_COMMON_NAME),
        organization: subject_attr(&cert, OID_ORGANIZATION),
        certificate_der: cert_der,
    })
}
