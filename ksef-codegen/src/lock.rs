//! `spec/ksef-openapi.lock`: which official document the workspace is generated from.
//!
//! The format is deliberately tiny (`key = "value"` lines, `#` comments) so that build scripts
//! need no TOML parser and a reviewer reads a change at a glance.

use sha2::{Digest, Sha256};

use crate::SpecError;

/// The official endpoint that publishes the TEST environment's document.
pub const OFFICIAL_SPEC_URL: &str = "https://api-test.ksef.mf.gov.pl/docs/v2/openapi.json";

/// The pin of the OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecLock {
    /// API version read from `info.description` (e.g. `2.7.0`).
    pub version: String,
    /// Where the document was taken from (URL or path as given to `regen-spec`).
    pub source: String,
    /// Lower-case hex SHA-256 of the document's bytes.
    pub sha256: String,
}

impl SpecLock {
    /// Parses the lock file's text.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let mut version = None;
        let mut source = None;
        let mut sha256 = None;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                SpecError::Lock(format!("line {}: expected `key = \"value\"`", i + 1))
            })?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| {
                    SpecError::Lock(format!("line {}: the value must be quoted", i + 1))
                })?
                .to_string();
            match key.trim() {
                "version" => version = Some(value),
                "source" => source = Some(value),
                "sha256" => sha256 = Some(value),
                other => {
                    return Err(SpecError::Lock(format!(
                        "line {}: unknown key `{other}`",
                        i + 1
                    )));
                }
            }
        }
        let sha256 = sha256.ok_or_else(|| SpecError::Lock("missing `sha256`".into()))?;
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(SpecError::Lock(
                "`sha256` must be 64 lower-case hex digits".into(),
            ));
        }
        Ok(Self {
            version: version.ok_or_else(|| SpecError::Lock("missing `version`".into()))?,
            source: source.ok_or_else(|| SpecError::Lock("missing `source`".into()))?,
            sha256,
        })
    }

    /// Renders the lock file's text.
    pub fn render(&self) -> String {
        format!(
            "# The official KSeF OpenAPI document this workspace is generated from.\n\
             # Written by `cargo xtask regen-spec`; checked by ksef-api's build script and by\n\
             # `cargo xtask regen-spec --check`. The document itself is not in git: see spec/README.md.\n\
             version = \"{}\"\nsource = \"{}\"\nsha256 = \"{}\"\n",
            self.version, self.source, self.sha256
        )
    }

    /// Builds the lock of a document's bytes.
    pub fn of_document(bytes: &[u8], source: &str) -> Result<Self, SpecError> {
        let doc = crate::parse_document(bytes)?;
        Ok(Self {
            version: api_version(&doc)?,
            source: source.to_string(),
            sha256: sha256_hex(bytes),
        })
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads the API version from `info.description` (`**Wersja API:** 2.7.0 (build ...)`), falling back
/// to the first `X.Y.Z` of `info.version`.
pub fn api_version(doc: &serde_json::Value) -> Result<String, SpecError> {
    let info = doc
        .get("info")
        .ok_or_else(|| SpecError::Invalid("no `info` object".into()))?;
    let from_description = info
        .get("description")
        .and_then(|d| d.as_str())
        .and_then(|d| {
            let start = d.find("Wersja API")?;
            first_semver(&d[start..])
        });
    from_description
        .or_else(|| {
            info.get("version")
                .and_then(|v| v.as_str())
                .and_then(first_semver)
        })
        .ok_or_else(|| {
            SpecError::Invalid("no API version (X.Y.Z) in info.description or info.version".into())
        })
}

fn first_semver(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            let mut dots = 0;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || (bytes[i] == b'.' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit()))
            {
                if bytes[i] == b'.' {
                    dots += 1;
                }
                i += 1;
            }
            if dots == 2 {
                return Some(text[start..i].to_string());
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_round_trips() {
        let lock = SpecLock {
            version: "2.7.0".into(),
            source: OFFICIAL_SPEC_URL.into(),
            sha256: "a".repeat(64),
        };
        assert_eq!(SpecLock::parse(&lock.render()).unwrap(), lock);
    }

    #[test]
    fn lock_rejects_bad_input() {
        assert!(SpecLock::parse("version = \"2.7.0\"\nsource = \"x\"\n").is_err());
        assert!(SpecLock::parse("version = 2.7.0\n").is_err());
        assert!(SpecLock::parse("version = \"1\"\nsource = \"x\"\nsha256 = \"ABC\"\n").is_err());
        assert!(SpecLock::parse("colour = \"red\"\n").is_err());
    }

    #[test]
    fn version_comes_from_the_description() {
        let doc = serde_json::json!({"info": {"version": "v2", "description": "**Wersja API:** 2.7.0 (build 2.7.0-te)<br>"}});
        assert_eq!(api_version(&doc).unwrap(), "2.7.0");
        let doc = serde_json::json!({"info": {"version": "2.6.1"}});
        assert_eq!(api_version(&doc).unwrap(), "2.6.1");
        let doc = serde_json::json!({"info": {"version": "v2"}});
        assert!(api_version(&doc).is_err());
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
