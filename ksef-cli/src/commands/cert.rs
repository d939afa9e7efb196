//! `ksef cert csr|enroll|list|retrieve|revoke|self-signed`.
//!
//! Private keys are written to new files (never over an existing one) with mode 0600 and never
//! printed; certificates and requests go to new files as PEM, or DER when the name ends with
//! `.der`.

use std::path::Path;

use serde_json::json;

use ksef_flows::certificates::{
    CertificateFilter, CertificateListItemStatus, CertificateRevocationReason, EnrollmentRequest,
    KsefCertificateType,
};
use ksef_flows::crypto::identity::PrivateKey;
use ksef_flows::crypto::pem;
use ksef_flows::crypto::{KeyAlgorithm, Nip, Pesel, SigningIdentity};

use crate::cli::{
    CertCmd, CertCsr, CertEnroll, CertKeyAlgorithm, CertList, CertRevocationReason, CertSelfSigned,
    CertStatus, CertType,
};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};

fn algorithm(a: CertKeyAlgorithm) -> KeyAlgorithm {
    match a {
        CertKeyAlgorithm::Ec => KeyAlgorithm::EcdsaP256,
        CertKeyAlgorithm::Rsa => KeyAlgorithm::Rsa2048,
    }
}

fn kind(t: CertType) -> KsefCertificateType {
    match t {
        CertType::Authentication => KsefCertificateType::Authentication,
        CertType::Offline => KsefCertificateType::Offline,
    }
}

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    ksef_time::format_warsaw_millis(t)
}

fn is_der(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("der"))
}

/// Refuses, before anything is sent, an output file that exists already.
fn check_new(path: &Path, flag: &str) -> CliResult {
    if path.exists() {
        return Err(CliError::usage(format!(
            "{flag} {}: the file exists; it is never overwritten",
            path.display()
        )));
    }
    Ok(())
}

/// Writes a new file (`private`: mode 0600, else 0644).
fn write_new(path: &Path, bytes: &[u8], private: bool) -> CliResult {
    crate::paths::write_new(path, bytes, if private { 0o600 } else { 0o644 }).map_err(|e| {
        CliError::new(
            Exit::Failure,
            anyhow::anyhow!("cannot write {}: {e}", path.display()),
        )
    })
}

/// Writes DER (or its PEM form, per the file name) to a new public file.
fn write_der(path: &Path, label: &str, der: &[u8]) -> CliResult {
    if is_der(path) {
        write_new(path, der, false)
    } else {
        write_new(path, pem::encode(label, der).as_bytes(), false)
    }
}

fn write_key(path: &Path, key: &PrivateKey) -> CliResult {
    let pem = key
        .to_pkcs8_pem()
        .map_err(|e| CliError::new(Exit::Failure, e))?;
    write_new(path, pem.expose().as_bytes(), true)
}

/// A CSR file as DER: DER itself (it starts with 0x30), or a PEM block labelled `CERTIFICATE
/// REQUEST` or `NEW CERTIFICATE REQUEST` anywhere in the file. PEM of any other label is refused.
fn read_csr(path: &Path) -> CliResult<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    // DER is an ASN.1 SEQUENCE (0x30); anything else must hold a PEM block, wherever it
    // starts (`openssl req -text` writes a dump before it)
    if bytes.first() == Some(&0x30) {
        return Ok(bytes);
    }
    let (label, der) = pem::decode(&String::from_utf8_lossy(&bytes))
        .map_err(|e| CliError::usage(format!("--csr {}: {e}", path.display())))?;
    match label.as_str() {
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => Ok(der),
        other => Err(CliError::usage(format!(
            "--csr {}: a PEM {other}, not a CERTIFICATE REQUEST",
            path.display()
        ))),
    }
}

pub async fn run(ctx: &Ctx, cmd: CertCmd) -> CliResult {
    match cmd {
        CertCmd::Csr(a) => csr(ctx, a).await,
        CertCmd::Enroll(a) => enroll(ctx, a).await,
        CertCmd::List(a) => list(ctx, a).await,
        CertCmd::Retrieve { serials, out_dir } => retrieve(ctx, serials, out_dir).await,
        CertCmd::Revoke { serial, reason } => {
            let reason = match reason {
                CertRevocationReason::Unspecified => CertificateRevocationReason::Unspecified,
                CertRevocationReason::Superseded => CertificateRevocationReason::Superseded,
                CertRevocationReason::KeyCompromise => CertificateRevocationReason::KeyCompromise,
            };
            with_session(ctx, |_, _, auth| async move {
                auth.revoke_certificate(&serial, Some(reason.clone()))
                    .await?;
                let serial = serial.trim();
                ctx.out.json(&json!({
                    "serialNumber": serial,
                    "revoked": true,
                    "reason": reason.to_string(),
                }));
                ctx.out.note(format!("certificate {serial} revoked"));
                Ok(())
            })
            .await
        }
        CertCmd::SelfSigned(a) => self_signed(ctx, a),
    }
}

async fn csr(ctx: &Ctx, a: CertCsr) -> CliResult {
    check_new(&a.csr_out, "--csr-out")?;
    check_new(&a.key_out, "--key-out")?;
    with_session(ctx, |_, _, auth| async move {
        let request = auth.certificate_request(algorithm(a.algorithm)).await?;
        let subject = &request.subject;
        write_key(&a.key_out, &request.key)?;
        write_der(&a.csr_out, "CERTIFICATE REQUEST", &request.csr_der)?;
        ctx.out.json(&json!({
            "csr": a.csr_out,
            "key": a.key_out,
            "subject": {
                "commonName": subject.common_name,
                "countryName": subject.country_name,
                "givenName": subject.given_name,
                "surname": subject.surname,
                "serialNumber": subject.serial_number,
                "organizationName": subject.organization_name,
                "organizationIdentifier": subject.organization_identifier,
            },
        }));
        ctx.out.note(format!(
            "request in {}, its key in {} (mode 0600); submit it with `ksef cert enroll --csr {}`",
            a.csr_out.display(),
            a.key_out.display(),
            a.csr_out.display()
        ));
        Ok(())
    })
    .await
}

async fn enroll(ctx: &Ctx, a: CertEnroll) -> CliResult {
    check_new(&a.cert_out, "--cert-out")?;
    if let Some(k) = &a.key_out {
        check_new(k, "--key-out")?;
    }
    let csr_der = a.csr.as_deref().map(read_csr).transpose()?;
    with_session(ctx, |_, _, auth| async move {
        let kind = kind(a.kind);
        let (reference, serial, der, key_written) = match csr_der {
            Some(csr) => {
                let issued = auth
                    .enroll_csr(&a.name, kind.clone(), &csr, a.valid_from)
                    .await?;
                (
                    issued.reference_number,
                    issued.serial_number,
                    issued.certificate.der,
                    None,
                )
            }
            None => {
                let mut request = EnrollmentRequest::new(a.name.clone(), kind.clone());
                if let Some(alg) = a.algorithm {
                    request = request.algorithm(algorithm(alg));
                }
                if let Some(from) = a.valid_from {
                    request = request.valid_from(from);
                }
                let enrolled = auth.enroll_certificate(&request).await?;
                if let Some(k) = &a.key_out {
                    write_key(k, enrolled.identity.private_key())?;
                }
                (
                    enrolled.reference_number,
                    enrolled.serial_number,
                    enrolled.identity.certificate_der().to_vec(),
                    a.key_out.clone(),
                )
            }
        };
        write_der(&a.cert_out, "CERTIFICATE", &der)?;
        ctx.out.json(&json!({
            "referenceNumber": reference,
            "serialNumber": serial,
            "name": a.name,
            "type": kind.to_string(),
            "certificate": a.cert_out,
            "key": key_written,
        }));
        ctx.out.note(format!(
            "certificate {serial} ({kind}) in {}{}",
            a.cert_out.display(),
            key_written
                .as_ref()
                .map(|k| format!(", its key in {} (mode 0600)", k.display()))
                .unwrap_or_default()
        ));
        Ok(())
    })
    .await
}

async fn list(ctx: &Ctx, a: CertList) -> CliResult {
    let mut filter = CertificateFilter::new().page_size(50);
    if let Some(t) = a.kind {
        filter = filter.kind(kind(t));
    }
    if let Some(s) = a.status {
        filter = filter.status(match s {
            CertStatus::Active => CertificateListItemStatus::Active,
            CertStatus::Blocked => CertificateListItemStatus::Blocked,
            CertStatus::Revoked => CertificateListItemStatus::Revoked,
            CertStatus::Expired => CertificateListItemStatus::Expired,
        });
    }
    if let Some(n) = a.name {
        filter = filter.name(n);
    }
    if let Some(s) = a.serial {
        filter = filter.serial_number(s);
    }
    with_session(ctx, |_, _, auth| async move {
        let items = auth.query_all_certificates(&filter).await?;
        let mut rows = Vec::new();
        for c in &items {
            ctx.out.json_line(c);
            rows.push(vec![
                c.certificate_serial_number.clone(),
                c.type_.to_string(),
                c.status.to_string(),
                c.name.clone(),
                c.common_name.clone(),
                time(c.valid_to),
                c.last_use_date.map_or("-".into(), time),
            ]);
        }
        ctx.out.table(
            &[
                "SERIAL", "TYPE", "STATUS", "NAME", "SUBJECT", "VALID TO", "LAST USE",
            ],
            &rows,
        );
        Ok(())
    })
    .await
}

async fn retrieve(
    ctx: &Ctx,
    serials: Vec<String>,
    out_dir: Option<std::path::PathBuf>,
) -> CliResult {
    if let Some(d) = &out_dir
        && !d.is_dir()
    {
        return Err(CliError::usage(format!(
            "--out-dir {}: not a directory",
            d.display()
        )));
    }
    with_session(ctx, |_, _, auth| async move {
        let got = auth.retrieve_certificates(&serials).await?;
        let missing: Vec<&String> = serials
            .iter()
            .filter(|s| {
                !got.iter()
                    .any(|g| g.serial_number.eq_ignore_ascii_case(s.trim()))
            })
            .collect();
        let mut docs = Vec::new();
        let mut text = String::new();
        for c in &got {
            let file = match &out_dir {
                Some(d) => {
                    let p = d.join(format!("{}.pem", c.serial_number));
                    write_der(&p, "CERTIFICATE", &c.der)?;
                    Some(p)
                }
                None => {
                    text.push_str(&pem::encode("CERTIFICATE", &c.der));
                    None
                }
            };
            docs.push(json!({
                "serialNumber": c.serial_number,
                "name": c.name,
                "type": c.kind.to_string(),
                "file": file,
                "certificate": ksef_flows::crypto::b64::encode(&c.der),
            }));
        }
        ctx.out
            .json(&json!({ "certificates": docs, "missing": missing }));
        if !text.is_empty() {
            ctx.out.line(text.trim_end());
        }
        if let Some(d) = &out_dir {
            ctx.out.note(format!(
                "{} certificate(s) written to {}",
                got.len(),
                d.display()
            ));
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(CliError::new(
                Exit::Failure,
                anyhow::anyhow!(
                    "not found: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    })
    .await
}

fn self_signed(ctx: &Ctx, a: CertSelfSigned) -> CliResult {
    check_new(&a.cert_out, "--cert-out")?;
    check_new(&a.key_out, "--key-out")?;
    let alg = algorithm(a.algorithm);
    let (given, surname) = match a.person.as_slice() {
        [g, s] => (g.clone(), s.clone()),
        _ => return Err(CliError::usage("--person takes GIVEN_NAME SURNAME")),
    };
    let fail = |e: ksef_flows::crypto::CryptoError| CliError::new(Exit::Failure, e);
    let identity: SigningIdentity = match (&a.nip, &a.pesel, &a.organization) {
        (Some(nip), _, Some(org)) => {
            let nip = Nip::parse(nip).map_err(|e| CliError::usage(format!("--nip: {e}")))?;
            SigningIdentity::self_signed_seal(&nip, org, alg).map_err(fail)?
        }
        (Some(nip), _, None) => {
            let nip = Nip::parse(nip).map_err(|e| CliError::usage(format!("--nip: {e}")))?;
            SigningIdentity::self_signed_person(&given, &surname, &format!("TINPL-{nip}"), alg)
                .map_err(fail)?
        }
        (None, Some(pesel), _) => {
            let pesel =
                Pesel::parse(pesel).map_err(|e| CliError::usage(format!("--pesel: {e}")))?;
            SigningIdentity::self_signed_person(&given, &surname, &format!("PNOPL-{pesel}"), alg)
                .map_err(fail)?
        }
        (None, None, _) => return Err(CliError::usage("give --nip or --pesel")),
    };
    write_key(&a.key_out, identity.private_key())?;
    write_der(&a.cert_out, "CERTIFICATE", identity.certificate_der())?;
    ctx.out.json(&json!({
        "certificate": a.cert_out,
        "key": a.key_out,
        "subject": identity.subject_name(),
        "fingerprint": identity.fingerprint(),
        "serialNumber": identity.serial_hex(),
    }));
    ctx.out.note(format!(
        "self-signed TEST certificate {} in {}, its key in {} (mode 0600)",
        identity.subject_name(),
        a.cert_out.display(),
        a.key_out.display()
    ));
    Ok(())
}
