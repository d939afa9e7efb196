//! The OS keyring (feature `keyring`): the sealing key and stored secrets under the service
//! `ksef-cli`. Where no keyring service answers (a headless machine), the callers fall back to
//! the sealed files.

use ksef_flows::crypto::SecretString;
use zeroize::Zeroizing;

use crate::exit::{CliError, CliResult};

const SERVICE: &str = "ksef-cli";

fn entry(user: &str) -> Option<keyring::Entry> {
    keyring::Entry::new(SERVICE, user).ok()
}

/// The sealing key kept in the keyring (created there on first use); `None` when no keyring
/// service is available.
pub fn seal_key() -> CliResult<Option<Zeroizing<[u8; 32]>>> {
    use base64::Engine as _;
    let Some(e) = entry("seal-key") else {
        return Ok(None);
    };
    match e.get_password() {
        Ok(b64) => {
            let b64 = Zeroizing::new(b64);
            let raw = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| CliError::usage("the keyring's sealing key is not Base64"))?,
            );
            let mut k = Zeroizing::new([0u8; 32]);
            if raw.len() != 32 {
                return Err(CliError::usage("the keyring's sealing key is not 32 bytes"));
            }
            k.copy_from_slice(&raw);
            Ok(Some(k))
        }
        Err(keyring::Error::NoEntry) => {
            use rand::TryRng as _;
            let mut k = Zeroizing::new([0u8; 32]);
            if rand::rngs::SysRng.try_fill_bytes(k.as_mut()).is_err() {
                return Ok(None);
            }
            let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(k.as_ref()));
            match e.set_password(&b64) {
                Ok(()) => Ok(Some(k)),
                Err(err) => {
                    tracing::debug!(error = %err, "no usable keyring; using the key file");
                    Ok(None)
                }
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, "no usable keyring; using the key file");
            Ok(None)
        }
    }
}

/// The secret of `profile` in the keyring.
pub fn secret(profile: &str) -> CliResult<Option<SecretString>> {
    let Some(e) = entry(&format!("secret:{profile}")) else {
        return Ok(None);
    };
    match e.get_password() {
        Ok(s) => Ok(Some(SecretString::new(s))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(err) => Err(CliError::auth(format!("the OS keyring failed: {err}"))),
    }
}

/// Stores the secret of `profile` in the keyring.
pub fn store_secret(profile: &str, value: &SecretString) -> CliResult<()> {
    let e = entry(&format!("secret:{profile}"))
        .ok_or_else(|| CliError::usage("no OS keyring is available"))?;
    e.set_password(value.expose())
        .map_err(|err| CliError::usage(format!("the OS keyring refused the secret: {err}")))
}
