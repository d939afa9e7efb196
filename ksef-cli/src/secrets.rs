//! Reading secrets (a KSeF token, a private-key passphrase) from the source a profile names:
//! `env:NAME`, `file:PATH`, `prompt` (no echo, on the terminal), `sealed` (the CLI's sealed
//! store, see [`crate::seal`]) or `keyring` (feature `keyring`). Never from argv; the value is
//! zeroized when dropped and never printed or logged.

use std::io::IsTerminal as _;

use ksef_flows::crypto::SecretString;

use crate::exit::{CliError, CliResult};
use crate::seal::{self, Kind};

/// Reads the secret of `profile` from `source`; `what` names it in messages.
pub fn read(source: &str, profile: &str, what: &str) -> CliResult<SecretString> {
    let value = if let Some(name) = source.strip_prefix("env:") {
        std::env::var(name).map_err(|_| {
            CliError::auth(format!(
                "the {what} of profile {profile:?} comes from ${name}, which is not set"
            ))
        })?
    } else if let Some(path) = source.strip_prefix("file:") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::auth(format!("cannot read the {what} from {path}: {e}")))?;
        let value = text.trim().to_string();
        let mut text = text;
        zeroize::Zeroize::zeroize(&mut text);
        value
    } else if source == "prompt" {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::auth(format!(
                "the {what} of profile {profile:?} is asked on a terminal, and there is none; use env:NAME or file:PATH in scripts"
            )));
        }
        rpassword::prompt_password(format!("{what} for profile {profile}: "))
            .map_err(|e| CliError::auth(format!("cannot read the {what}: {e}")))?
    } else if source == "sealed" {
        let plain = seal::load(Kind::Secret, profile)?.ok_or_else(|| {
            CliError::auth(format!(
                "no sealed {what} for profile {profile:?}; store one with `ksef profile secret {profile}`"
            ))
        })?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| CliError::auth(format!("the sealed {what} is not text")))?
    } else if source == "keyring" {
        return keyring_secret(profile, what);
    } else {
        return Err(CliError::usage(format!(
            "secret source {source:?} must be env:NAME, file:PATH, prompt, sealed or keyring"
        )));
    };
    if value.is_empty() {
        return Err(CliError::auth(format!("the {what} is empty")));
    }
    Ok(SecretString::new(value))
}

#[cfg(feature = "keyring")]
fn keyring_secret(profile: &str, what: &str) -> CliResult<SecretString> {
    crate::keyring::secret(profile)?.ok_or_else(|| {
        CliError::auth(format!(
            "the OS keyring holds no {what} for profile {profile:?}"
        ))
    })
}

#[cfg(not(feature = "keyring"))]
fn keyring_secret(profile: &str, what: &str) -> CliResult<SecretString> {
    Err(CliError::usage(format!(
        "the {what} of profile {profile:?} is in the OS keyring, but this ksef was built without the `keyring` feature; use sealed, env:NAME, file:PATH or prompt"
    )))
}

/// Reads a secret from stdin for storing: a prompt without echo on a terminal, else one line.
pub fn read_for_storing(what: &str) -> CliResult<SecretString> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{what}: "))
            .map_err(|e| CliError::usage(format!("cannot read the {what}: {e}")))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::usage(format!("cannot read the {what} from stdin: {e}")))?;
        let v = line.trim().to_string();
        zeroize::Zeroize::zeroize(&mut line);
        v
    };
    if value.is_empty() {
        return Err(CliError::usage(format!("the {what} is empty")));
    }
    Ok(SecretString::new(value))
}
