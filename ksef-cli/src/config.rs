//! Profiles: `config.toml` in the config directory (see [`crate::paths`]). A profile names an
//! environment, a context and where the credential comes from — never the secret itself.
//!
//! ```toml
//! default = "test"
//!
//! [profiles.test]
//! environment = "test"            # test | demo | prd | https://host/v2
//! context = "Nip:5265877635"      # Nip | InternalId | NipVatUe | PeppolId
//! credential = "token"            # token | certificate | test-identity
//! secret = "env:KSEF_TOKEN"       # env:NAME | file:PATH | prompt | sealed | keyring
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use ksef_api::Environment;
use serde::{Deserialize, Serialize};

use crate::exit::{CliError, CliResult};

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The profile used when `--profile` and `KSEF_PROFILE` are absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// `test`, `demo`, `prd` or a base URL with its `/v2` stem.
    pub environment: String,
    /// `TYPE:VALUE`, e.g. `Nip:5265877635`.
    pub context: String,
    /// How `auth login` authenticates.
    pub credential: Credential,
    /// Where the KSeF token (credential `token`) or the private-key passphrase (credential
    /// `certificate`) comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Certificate file (PEM or DER) for credential `certificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// Private key file (PKCS#8, PEM or DER; encrypted PEM needs `secret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Set when the profile was created for production with `--production`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub production: bool,
}

/// How a profile authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Credential {
    /// A KSeF token.
    Token,
    /// A XAdES signature with a certificate and its private key.
    Certificate,
    /// A self-signed certificate generated at each login (TEST environment and simulators
    /// only): authenticates as the owner of the context NIP.
    TestIdentity,
}

impl Credential {
    pub fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Certificate => "certificate",
            Self::TestIdentity => "test-identity",
        }
    }
}

/// An environment name or URL, parsed.
pub fn environment(s: &str) -> CliResult<Environment> {
    match s.trim().to_ascii_lowercase().as_str() {
        "test" => Ok(Environment::Test),
        "demo" => Ok(Environment::Demo),
        "prd" | "prod" | "production" => Ok(Environment::Production),
        _ => {
            let u = url::Url::parse(s.trim()).map_err(|e| {
                CliError::usage(format!(
                    "environment {s:?} is neither test, demo, prd nor a URL ({e})"
                ))
            })?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(CliError::usage(format!(
                    "environment URL {s:?} must be http or https"
                )));
            }
            if is_production_url(s) {
                return Ok(Environment::Production);
            }
            Ok(Environment::Custom(
                s.trim().trim_end_matches('/').to_string(),
            ))
        }
    }
}

/// Whether `url` points at the production API host, whatever its case, port or trailing dot.
pub fn is_production_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return url.to_ascii_lowercase().contains("api.ksef.mf.gov.pl");
    };
    let production = url::Url::parse(Environment::PRODUCTION_URL)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    let host = parsed
        .host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    host.is_some() && host == production
}

/// A `TYPE:VALUE` context, checked.
pub fn context(s: &str) -> CliResult<ksef_flows::crypto::ContextIdentifier> {
    let (t, v) = s.split_once(':').ok_or_else(|| {
        CliError::usage(format!(
            "context {s:?} must be TYPE:VALUE, e.g. Nip:5265877635"
        ))
    })?;
    ksef_flows::parse_context(t.trim(), v.trim()).map_err(|e| CliError::usage(e.to_string()))
}

/// A secret source string, checked (never holds the secret itself).
pub fn check_secret_source(s: &str) -> CliResult<()> {
    let ok = s == "prompt"
        || s == "sealed"
        || s == "keyring"
        || s.strip_prefix("env:").is_some_and(|n| !n.is_empty())
        || s.strip_prefix("file:").is_some_and(|n| !n.is_empty());
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "secret source {s:?} must be env:NAME, file:PATH, prompt, sealed or keyring"
        )))
    }
}

impl Config {
    /// The path of `config.toml`.
    pub fn path() -> CliResult<PathBuf> {
        Ok(crate::paths::config_dir()?.join("config.toml"))
    }

    /// Reads the configuration (empty when there is no file).
    pub fn load() -> CliResult<Self> {
        let path = Self::path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(CliError::usage(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        toml::from_str(&text)
            .map_err(|e| CliError::usage(format!("{} is not valid: {e}", path.display())))
    }

    /// Writes the configuration.
    pub fn save(&self) -> CliResult<()> {
        let path = Self::path()?;
        let text = toml::to_string_pretty(self)
            .map_err(|e| CliError::new(crate::exit::Exit::Failure, e))?;
        crate::paths::write_private(&path, text.as_bytes()).map_err(|e| {
            CliError::new(
                crate::exit::Exit::Failure,
                anyhow::anyhow!("cannot write {}: {e}", path.display()),
            )
        })
    }

    /// The profile to use: `--profile`/`KSEF_PROFILE`, else the default, else the only one.
    pub fn select(&self, name: Option<&str>) -> CliResult<(String, Profile)> {
        let name = match name {
            Some(n) => n.to_string(),
            None => match (&self.default, self.profiles.len()) {
                (Some(d), _) => d.clone(),
                (None, 1) => self.profiles.keys().next().cloned().unwrap_or_default(),
                (None, 0) => {
                    return Err(CliError::usage(
                        "no profile: create one with `ksef profile add NAME --environment test --context Nip:NIP ...`",
                    ));
                }
                (None, _) => {
                    return Err(CliError::usage(
                        "several profiles and no default: pass --profile NAME or run `ksef profile use NAME`",
                    ));
                }
            },
        };
        self.profiles
            .get(&name)
            .cloned()
            .map(|p| (name.clone(), p))
            .ok_or_else(|| {
                CliError::usage(format!("no profile {name:?} (see `ksef profile list`)"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_and_the_production_guard() {
        assert_eq!(environment("TEST").unwrap(), Environment::Test);
        assert_eq!(environment("prd").unwrap(), Environment::Production);
        assert_eq!(
            environment("https://API.ksef.mf.gov.pl./v2").unwrap(),
            Environment::Production
        );
        assert_eq!(
            environment("http://127.0.0.1:9/v2/").unwrap(),
            Environment::Custom("http://127.0.0.1:9/v2".into())
        );
        assert!(environment("ftp://x").is_err());
        assert!(environment("nowhere").is_err());
    }

    #[test]
    fn contexts_and_secret_sources() {
        assert!(context("Nip:5265877635").is_ok());
        assert!(context("nip:5265877636").is_err(), "bad checksum");
        assert!(context("5265877635").is_err());
        for ok in [
            "env:KSEF_TOKEN",
            "file:/tmp/t",
            "prompt",
            "sealed",
            "keyring",
        ] {
            check_secret_source(ok).unwrap();
        }
        for bad in ["env:", "abcd-token-value", "file:"] {
            assert!(check_secret_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_profile_round_trips_through_toml() {
        let mut c = Config {
            default: Some("t".into()),
            ..Config::default()
        };
        c.profiles.insert(
            "t".into(),
            Profile {
                environment: "test".into(),
                context: "Nip:5265877635".into(),
                credential: Credential::Token,
                secret: Some("env:KSEF_TOKEN".into()),
                certificate: None,
                key: None,
                production: false,
            },
        );
        let text = toml::to_string_pretty(&c).unwrap();
        assert!(text.contains("credential = \"token\""), "{text}");
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.profiles["t"], c.profiles["t"]);
    }
}
