//! The certificate of a XAdES authentication, judged against the KSeF certificates: one the
//! simulator's authority issued authenticates its owner (method `InternalCertificate`) while it is
//! known, active, unexpired and of type `Authentication`; with `verifyCertificateChain=true` a
//! certificate must chain to the simulator's authority or a configured trusted root.

use chrono::{DateTime, Utc};
use der::Decode;
use x509_cert::Certificate;

use super::authority::{CertificateKind, serial_hex};
use crate::state::AppState;

/// What the certificate means for the authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Judgement {
    /// For a KSeF certificate: its serial number and the subject it was issued to
    /// (`(type, value)`), which authenticates instead of what the DN says.
    pub ksef_certificate: Option<(String, (String, String))>,
    /// Why the authentication ends with 460, if it does.
    pub problem: Option<String>,
}

/// Judges the signing certificate `cert_der` at `now`.
pub(crate) fn judge(
    state: &AppState,
    cert_der: &[u8],
    verify_chain: bool,
    now: DateTime<Utc>,
) -> Judgement {
    let Ok(cert) = Certificate::from_der(cert_der) else {
        return Judgement {
            ksef_certificate: None,
            problem: Some("Niepoprawny certyfikat.".into()),
        };
    };
    let authority = &state.certificates.authority;
    if authority.issued(&cert) {
        let serial = serial_hex(&cert);
        let problem = match state.certificates.store.certificate(&serial, now) {
            None => Some(format!(
                "Niepoprawny certyfikat: certyfikat KSeF {serial} nie jest znany."
            )),
            Some(c) if c.revoked.is_some() => Some(format!("Certyfikat odwołany ({serial}).")),
            Some(c) if c.status(now) == "Expired" || now < c.valid_from => {
                Some(format!("Nieważny certyfikat ({serial})."))
            }
            Some(c) if c.kind == CertificateKind::Offline => Some(format!(
                "Niepoprawny certyfikat: certyfikat KSeF typu Offline ({serial}) nie służy do uwierzytelnienia."
            )),
            Some(c) => {
                return Judgement {
                    ksef_certificate: Some((serial, (c.subject_type, c.subject_value))),
                    problem: None,
                };
            }
        };
        return Judgement {
            ksef_certificate: None,
            problem,
        };
    }
    if verify_chain && !authority.trusts(&cert) {
        let tbs = cert.tbs_certificate();
        let detail = if tbs.issuer() == tbs.subject() {
            "Niezaufany łańcuch certyfikatów (certyfikat samopodpisany)."
        } else {
            "Niezaufany łańcuch certyfikatów: wystawca nie jest zaufany."
        };
        return Judgement {
            ksef_certificate: None,
            problem: Some(detail.into()),
        };
    }
    Judgement::default()
}

/// Records the successful use of a KSeF certificate (`lastUseDate`).
pub(crate) fn record_use(state: &AppState, serial: &str, now: DateTime<Utc>) {
    state
        .certificates
        .store
        .update(serial, |c| c.last_use = Some(now));
}
