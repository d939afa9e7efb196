//! Certificates made by openssl, and XAdES-signed `AuthTokenRequest` documents: signed by
//! xmlsec1 (an independent signer) or assembled by hand in canonical form and signed with
//! RustCrypto primitives.

use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};

use super::b64;

pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XADES: &str = "http://uri.etsi.org/01903/v1.3.2#";
pub const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ec,
}

pub fn person_subject(nip: &str) -> String {
    format!("/GN=Jan/SN=Kowalski/serialNumber=TINPL-{nip}/CN=Jan Kowalski")
}

pub fn pesel_subject(pesel: &str) -> String {
    format!("/GN=Anna/SN=Nowak/serialNumber=PNOPL-{pesel}/CN=Anna Nowak")
}

pub fn seal_subject(nip: &str) -> String {
    format!("/O=Firma Testowa/organizationIdentifier=VATPL-{nip}/CN=Firma Testowa")
}

/// A self-signed certificate and key made by openssl.
pub struct TestCert {
    pub dir: tempfile::TempDir,
    pub kind: KeyKind,
    pub cert_der: Vec<u8>,
    pub key_pkcs8_der: Vec<u8>,
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("run openssl/xmlsec1 (install openssl and xmlsec1)");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCert {
    pub fn new(kind: KeyKind, subject: &str) -> Self {
        Self::with_days(kind, subject, 30)
    }

    pub fn with_days(kind: KeyKind, subject: &str, days: i32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = |f: &str| dir.path().join(f);
        let mut c = Command::new("openssl");
        c.args([
            "req",
            "-x509",
            "-nodes",
            "-days",
            &days.to_string(),
            "-subj",
            subject,
            "-keyout",
        ])
        .arg(p("key.pem"))
        .arg("-out")
        .arg(p("cert.pem"));
        match kind {
            KeyKind::Rsa => c.args(["-newkey", "rsa:2048"]),
            KeyKind::Ec => c.args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        };
        run(&mut c);
        run(Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(p("cert.pem"))
            .arg("-out")
            .arg(p("cert.der")));
        run(Command::new("openssl")
            .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
            .arg(p("key.pem"))
            .arg("-out")
            .arg(p("key.der")));
        let cert_der = std::fs::read(p("cert.der")).unwrap();
        let key_pkcs8_der = std::fs::read(p("key.der")).unwrap();
        Self {
            dir,
            kind,
            cert_der,
            key_pkcs8_der,
        }
    }

    pub fn key_pem(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    pub fn fingerprint(&self) -> String {
        hex::encode_upper(Sha256::digest(&self.cert_der))
    }
}

/// The unsigned AuthTokenRequest in canonical form (no whitespace, explicit end tags).
pub fn auth_request(
    challenge: &str,
    ctx_type: &str,
    ctx_value: &str,
    subject_id_type: &str,
) -> String {
    format!(
        "<AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\"><Challenge>{challenge}</Challenge><ContextIdentifier><{ctx_type}>{ctx_value}</{ctx_type}></ContextIdentifier><SubjectIdentifierType>{subject_id_type}</SubjectIdentifierType></AuthTokenRequest>"
    )
}

#[derive(Clone, Copy, Debug)]
pub enum ManualAlg {
    RsaPkcs1,
    RsaPss,
    EcdsaRawRs,
    EcdsaDer,
}

fn sign_bytes(cert: &TestCert, alg: ManualAlg, data: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
    match alg {
        ManualAlg::RsaPkcs1 => {
            let k = rsa::PrivateKey::from_pkcs8_der(&cert.key_pkcs8_der).unwrap();
            rsa::pkcs1v15::SigningKey::<Sha256>::new(k)
                .sign(data)
                .to_vec()
        }
        ManualAlg::RsaPss => {
            let k = rsa::PrivateKey::from_pkcs8_der(&cert.key_pkcs8_der).unwrap();
            let mut rng = rand::rng();
            rsa::pss::SigningKey::<Sha256>::new(k)
                .sign_with_rng(&mut rng, data)
                .to_vec()
        }
        ManualAlg::EcdsaRawRs | ManualAlg::EcdsaDer => {
            let k = p256::ecdsa::SigningKey::from_pkcs8_der(&cert.key_pkcs8_der).unwrap();
            let s: p256::ecdsa::Signature = k.sign(data);
            if matches!(alg, ManualAlg::EcdsaRawRs) {
                s.to_bytes().to_vec()
            } else {
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

/// Signs `request` (canonical text of an AuthTokenRequest) with an enveloped XAdES-BES signature
/// assembled by hand: every signed part is written directly in its exclusive-C14N form, so the
/// digests are over the exact text written here.
pub fn manual_xades(request: &str, cert: &TestCert, alg: ManualAlg) -> Vec<u8> {
    manual_xades_with(request, cert, alg, |_| {})
}

pub struct ManualParts {
    pub doc_digest: String,
    pub cert_digest: String,
}

pub fn manual_xades_with(
    request: &str,
    cert: &TestCert,
    alg: ManualAlg,
    tweak: impl FnOnce(&mut ManualParts),
) -> Vec<u8> {
    let sig_uri = match alg {
        ManualAlg::RsaPkcs1 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        ManualAlg::RsaPss => "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
        ManualAlg::EcdsaRawRs | ManualAlg::EcdsaDer => {
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
        }
    };
    let mut parts = ManualParts {
        doc_digest: b64(&Sha256::digest(request.as_bytes())),
        cert_digest: b64(&Sha256::digest(&cert.cert_der)),
    };
    tweak(&mut parts);
    let signing_time = "2026-01-01T00:00:00Z";
    // SignedProperties as it appears in the document (namespaces inherited) ...
    let sp_inner = |ds_decl: &str| {
        format!(
            "<xades:SignedSignatureProperties><xades:SigningTime>{signing_time}</xades:SigningTime><xades:SigningCertificate><xades:Cert><xades:CertDigest><ds:DigestMethod{ds_decl} Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue{ds_decl}>{}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties>",
            parts.cert_digest
        )
    };
    let sp_doc = format!(
        "<xades:SignedProperties Id=\"SignedProperties\">{}</xades:SignedProperties>",
        sp_inner("")
    );
    // ... and in exclusive canonical form (visibly used namespaces rendered where first used).
    let ds_decl = format!(" xmlns:ds=\"{DS}\"");
    let sp_c14n = format!(
        "<xades:SignedProperties xmlns:xades=\"{XADES}\" Id=\"SignedProperties\">{}</xades:SignedProperties>",
        sp_inner(&ds_decl)
    );
    let sp_digest = b64(&Sha256::digest(sp_c14n.as_bytes()));
    let si_inner = format!(
        "<ds:CanonicalizationMethod Algorithm=\"{EXC}\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"{sig_uri}\"></ds:SignatureMethod><ds:Reference URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform><ds:Transform Algorithm=\"{EXC}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue>{}</ds:DigestValue></ds:Reference><ds:Reference Type=\"http://uri.etsi.org/01903#SignedProperties\" URI=\"#SignedProperties\"><ds:Transforms><ds:Transform Algorithm=\"{EXC}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue>{sp_digest}</ds:DigestValue></ds:Reference>",
        parts.doc_digest
    );
    let si_c14n = format!("<ds:SignedInfo xmlns:ds=\"{DS}\">{si_inner}</ds:SignedInfo>");
    let sig = sign_bytes(cert, alg, si_c14n.as_bytes());
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DS}\" Id=\"Sig\"><ds:SignedInfo>{si_inner}</ds:SignedInfo><ds:SignatureValue>{}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo><ds:Object><xades:QualifyingProperties xmlns:xades=\"{XADES}\" Target=\"#Sig\">{sp_doc}</xades:QualifyingProperties></ds:Object></ds:Signature>",
        b64(&sig),
        b64(&cert.cert_der)
    );
    let end = "</AuthTokenRequest>";
    let body = request.strip_suffix(end).unwrap();
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}{signature}{end}").into_bytes()
}

/// An enveloping signature assembled by hand: the document element is ds:Signature, the request
/// (with `Id="Req"`) sits in a ds:Object and is referenced as `#Req`.
pub fn manual_xades_enveloping(request: &str, cert: &TestCert) -> Vec<u8> {
    let request = request.replacen(
        "<AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\">",
        "<AuthTokenRequest xmlns=\"http://ksef.mf.gov.pl/auth/token/2.0\" Id=\"Req\">",
        1,
    );
    let doc_digest = b64(&Sha256::digest(request.as_bytes()));
    let cert_digest = b64(&Sha256::digest(&cert.cert_der));
    let sp_inner = |ds_decl: &str| {
        format!(
            "<xades:SignedSignatureProperties><xades:SigningTime>2026-01-01T00:00:00Z</xades:SigningTime><xades:SigningCertificate><xades:Cert><xades:CertDigest><ds:DigestMethod{ds_decl} Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue{ds_decl}>{cert_digest}</ds:DigestValue></xades:CertDigest></xades:Cert></xades:SigningCertificate></xades:SignedSignatureProperties>"
        )
    };
    let sp_doc = format!(
        "<xades:SignedProperties Id=\"SignedProperties\">{}</xades:SignedProperties>",
        sp_inner("")
    );
    let sp_c14n = format!(
        "<xades:SignedProperties xmlns:xades=\"{XADES}\" Id=\"SignedProperties\">{}</xades:SignedProperties>",
        sp_inner(&format!(" xmlns:ds=\"{DS}\""))
    );
    let sp_digest = b64(&Sha256::digest(sp_c14n.as_bytes()));
    let si_inner = format!(
        "<ds:CanonicalizationMethod Algorithm=\"{EXC}\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"></ds:SignatureMethod><ds:Reference URI=\"#Req\"><ds:Transforms><ds:Transform Algorithm=\"{EXC}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue>{doc_digest}</ds:DigestValue></ds:Reference><ds:Reference Type=\"http://uri.etsi.org/01903#SignedProperties\" URI=\"#SignedProperties\"><ds:Transforms><ds:Transform Algorithm=\"{EXC}\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod><ds:DigestValue>{sp_digest}</ds:DigestValue></ds:Reference>"
    );
    let si_c14n = format!("<ds:SignedInfo xmlns:ds=\"{DS}\">{si_inner}</ds:SignedInfo>");
    let sig = sign_bytes(cert, ManualAlg::RsaPkcs1, si_c14n.as_bytes());
    format!(
        "<ds:Signature xmlns:ds=\"{DS}\" Id=\"Sig\"><ds:SignedInfo>{si_inner}</ds:SignedInfo><ds:SignatureValue>{}</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo><ds:Object>{request}</ds:Object><ds:Object><xades:QualifyingProperties xmlns:xades=\"{XADES}\" Target=\"#Sig\">{sp_doc}</xades:QualifyingProperties></ds:Object></ds:Signature>",
        b64(&sig),
        b64(&cert.cert_der)
    )
    .into_bytes()
}

/// Options of an xmlsec1-signed document.
pub struct XmlsecOpts<'a> {
    pub c14n: &'a str,
    pub ref_c14n: &'a str,
    pub digest: &'a str,
    pub sig_alg: &'a str,
}

/// Signs an AuthTokenRequest with xmlsec1 (independent signer): an indented template with a
/// comment, enveloped-signature + `ref_c14n` transforms, a reference to SignedProperties.
pub fn xmlsec_xades(challenge: &str, nip: &str, cert: &TestCert, o: &XmlsecOpts<'_>) -> Vec<u8> {
    let tmpl = format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- signed by xmlsec1 -->
<AuthTokenRequest xmlns="http://ksef.mf.gov.pl/auth/token/2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Challenge>{challenge}</Challenge>
  <ContextIdentifier>
    <Nip>{nip}</Nip>
  </ContextIdentifier>
  <!-- the subject is read from the certificate -->
  <SubjectIdentifierType>certificateSubject</SubjectIdentifierType>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="Sig">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="{c14n}"/>
      <ds:SignatureMethod Algorithm="{sig}"/>
      <ds:Reference URI="">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="{refc}"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="{digest}"/>
        <ds:DigestValue></ds:DigestValue>
      </ds:Reference>
      <ds:Reference URI="#SignedProperties" Type="http://uri.etsi.org/01903#SignedProperties">
        <ds:Transforms>
          <ds:Transform Algorithm="{refc}"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="{digest}"/>
        <ds:DigestValue></ds:DigestValue>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue></ds:SignatureValue>
    <ds:KeyInfo>
      <ds:X509Data>
        <ds:X509Certificate>{cert}</ds:X509Certificate>
      </ds:X509Data>
    </ds:KeyInfo>
    <ds:Object>
      <xades:QualifyingProperties xmlns:xades="http://uri.etsi.org/01903/v1.3.2#" Target="#Sig">
        <xades:SignedProperties Id="SignedProperties">
          <xades:SignedSignatureProperties>
            <xades:SigningTime>2026-01-01T00:00:00Z</xades:SigningTime>
            <xades:SigningCertificate>
              <xades:Cert>
                <xades:CertDigest>
                  <ds:DigestMethod Algorithm="{SHA256}"/>
                  <ds:DigestValue>{cert_digest}</ds:DigestValue>
                </xades:CertDigest>
              </xades:Cert>
            </xades:SigningCertificate>
          </xades:SignedSignatureProperties>
        </xades:SignedProperties>
      </xades:QualifyingProperties>
    </ds:Object>
  </ds:Signature>
</AuthTokenRequest>
"##,
        c14n = o.c14n,
        sig = o.sig_alg,
        refc = o.ref_c14n,
        digest = o.digest,
        cert = b64(&cert.cert_der),
        cert_digest = b64(&Sha256::digest(&cert.cert_der)),
    );
    let dir = cert.dir.path();
    let t = dir.join(format!("tmpl-{}.xml", uuid::Uuid::new_v4()));
    let out = dir.join(format!("signed-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&t, tmpl).unwrap();
    run(Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(cert.key_pem())
        .args(["--id-attr:Id", &format!("{XADES}:SignedProperties")])
        .arg("--output")
        .arg(&out)
        .arg(&t));
    std::fs::read(out).unwrap()
}

pub fn xmlsec_verifies(xml: &[u8], cert: &TestCert) -> bool {
    let p = cert
        .dir
        .path()
        .join(format!("verify-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&p, xml).unwrap();
    let cert_pem = cert.dir.path().join("cert.pem");
    Command::new("xmlsec1")
        .arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(&cert_pem)
        .args(["--id-attr:Id", &format!("{XADES}:SignedProperties")])
        .arg(&p)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
