//! Signing identities from files: a certificate and its private key as PEM or DER (PKCS#8 key),
//! or one PKCS#12 file (`.p12`/`.pfx`) whose passphrase comes from the profile's secret source.

use std::path::Path;

use ksef_flows::crypto::identity::PrivateKey;
use ksef_flows::crypto::{SecretString, SigningIdentity};

use crate::connect::Target;
use crate::exit::{CliError, CliResult};

fn read(path: &Path, what: &str) -> CliResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read the {what} {}: {e}", path.display())))
}

fn is_pkcs12(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"))
}

fn bad(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("the {what}: {e}"))
}

/// Loads the identity of a `certificate` profile.
pub fn load(t: &Target) -> CliResult<SigningIdentity> {
    let cert = t.profile.certificate.as_deref().ok_or_else(|| {
        CliError::usage(format!(
            "profile {:?} signs with a certificate but names none (--certificate FILE)",
            t.name
        ))
    })?;
    load_files(cert, t.profile.key.as_deref(), || {
        let source = t.profile.secret.as_deref().ok_or_else(|| {
            CliError::usage(format!(
                "profile {:?}: a PKCS#12 file needs a passphrase source (--secret ...)",
                t.name
            ))
        })?;
        crate::secrets::read(source, &t.name, "PKCS#12 passphrase")
    })
}

/// Loads a certificate and key (`key` is `None` for a PKCS#12 file, whose passphrase
/// `passphrase` supplies).
pub fn load_files(
    cert_path: &Path,
    key_path: Option<&Path>,
    passphrase: impl FnOnce() -> CliResult<SecretString>,
) -> CliResult<SigningIdentity> {
    let cert = read(cert_path, "certificate")?;
    if is_pkcs12(cert_path) {
        let pass = passphrase()?;
        return SigningIdentity::from_pkcs12(&cert, &pass)
            .map_err(|e| CliError::auth(format!("{}: {e}", cert_path.display())));
    }
    let key_path = key_path.ok_or_else(|| {
        CliError::usage(format!(
            "{} needs its private key (--key FILE)",
            cert_path.display()
        ))
    })?;
    let key = zeroize::Zeroizing::new(read(key_path, "private key")?);
    let key = if key.starts_with(b"-----BEGIN") {
        let pem = std::str::from_utf8(&key).map_err(|e| bad("private key", e))?;
        PrivateKey::from_pkcs8_pem(pem).map_err(|e| bad("private key", e))?
    } else {
        PrivateKey::from_pkcs8_der(&key).map_err(|e| bad("private key", e))?
    };
    if cert.starts_with(b"-----BEGIN") {
        let pem = std::str::from_utf8(&cert).map_err(|e| bad("certificate", e))?;
        let key_pem = key.to_pkcs8_pem().map_err(|e| bad("private key", e))?;
        SigningIdentity::from_pem(pem, key_pem.expose()).map_err(|e| bad("certificate and key", e))
    } else {
        SigningIdentity::new(&cert, key).map_err(|e| bad("certificate and key", e))
    }
}
