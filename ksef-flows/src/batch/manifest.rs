//! The inputs file of a prepared batch: one JSON line per input, in input order, with its name,
//! its archive entry and invoice hash, or why it was left out. Written once while the archive is
//! built (memory does not grow with the batch); its SHA-256 is recorded in the sealed state.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, BufWriter, Write};
use std::path::Path;

use ksef_crypto::error::Position;
use ksef_crypto::{CryptoError, PreflightRule};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::FlowError;

/// File name of the inputs file in the work directory.
pub(crate) const INPUTS_FILE: &str = "inputs.jsonl";

/// One input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InputRecord {
    /// Position (0-based).
    pub(crate) index: usize,
    /// The caller's name.
    pub(crate) name: String,
    /// Archive entry name, when packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) entry: Option<String>,
    /// Base64 SHA-256 of the exact bytes, when packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) hash: Option<String>,
    /// Size in bytes, when packed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    /// Why it was left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stopped: Option<Stopped>,
}

/// Why an input was left out of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum Stopped {
    /// It could not be read.
    Read { detail: String },
    /// A pre-flight rule failed.
    Preflight {
        rule: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        position: Option<(usize, u32, u32)>,
        detail: String,
    },
    /// Its form is not the batch's.
    FormMismatch { expected: String, found: String },
}

const RULES: [(PreflightRule, &str); 10] = [
    (PreflightRule::Empty, "Empty"),
    (PreflightRule::SizeLimit, "SizeLimit"),
    (PreflightRule::Utf8Bom, "Utf8Bom"),
    (PreflightRule::Utf8, "Utf8"),
    (PreflightRule::PrologEncoding, "PrologEncoding"),
    (
        PreflightRule::ProcessingInstruction,
        "ProcessingInstruction",
    ),
    (PreflightRule::DiscouragedCodePoint, "DiscouragedCodePoint"),
    (PreflightRule::WellFormed, "WellFormed"),
    (PreflightRule::UnknownForm, "UnknownForm"),
    (PreflightRule::RequiredField, "RequiredField"),
];

const FORMS: [&str; 5] = ["FA (2)", "FA (3)", "FA_RR (1)", "PEF (3)", "PEF_KOR (3)"];

fn static_form(s: &str) -> &'static str {
    FORMS
        .iter()
        .find(|f| **f == s)
        .copied()
        .unwrap_or("unknown form")
}

impl Stopped {
    /// From a pre-flight error.
    pub(crate) fn from_crypto(e: &CryptoError) -> Self {
        match e {
            CryptoError::Preflight {
                rule,
                position,
                detail,
            } => Self::Preflight {
                rule: RULES
                    .iter()
                    .find(|(r, _)| r == rule)
                    .map_or_else(|| format!("{rule:?}"), |(_, n)| (*n).to_string()),
                position: position.map(|p| (p.offset, p.line, p.column)),
                detail: detail.clone(),
            },
            other => Self::Read {
                detail: other.to_string(),
            },
        }
    }

    /// The typed error of input `index`.
    pub(crate) fn to_error(&self, index: usize) -> FlowError {
        match self {
            Self::Read { detail } => FlowError::ReadInput {
                index,
                source: io::Error::other(detail.clone()),
            },
            Self::Preflight {
                rule,
                position,
                detail,
            } => match RULES.iter().find(|(_, n)| n == rule) {
                Some((rule, _)) => FlowError::Preflight {
                    index,
                    source: CryptoError::Preflight {
                        rule: *rule,
                        position: position.map(|(offset, line, column)| Position {
                            offset,
                            line,
                            column,
                        }),
                        detail: detail.clone(),
                    },
                },
                None => FlowError::ReadInput {
                    index,
                    source: io::Error::other(format!("pre-flight {rule}: {detail}")),
                },
            },
            Self::FormMismatch { expected, found } => FlowError::FormMismatch {
                index,
                expected: static_form(expected),
                found: static_form(found),
            },
        }
    }
}

/// Writes the inputs file, hashing it.
pub(crate) struct ManifestWriter {
    out: BufWriter<File>,
    hash: Sha256,
    count: usize,
    line: Vec<u8>,
}

impl std::fmt::Debug for ManifestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestWriter")
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl ManifestWriter {
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(128 * 1024, File::create(dir.join(INPUTS_FILE))?),
            hash: Sha256::new(),
            count: 0,
            line: Vec::with_capacity(256),
        })
    }

    pub(crate) fn write(&mut self, r: &InputRecord) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, r).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.hash.update(&self.line);
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs the file; returns its SHA-256 and the number of records.
    pub(crate) fn finish(self) -> io::Result<([u8; 32], usize)> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((self.hash.finalize().into(), self.count))
    }
}

/// Reads the inputs file, checking its SHA-256 and that the records are the positions 0..n.
pub(crate) fn read_all(dir: &Path, sha256: &[u8; 32]) -> io::Result<Vec<InputRecord>> {
    let mut reader = BufReader::new(File::open(dir.join(INPUTS_FILE))?);
    let mut hash = Sha256::new();
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        hash.update(line.as_bytes());
        let r: InputRecord = serde_json::from_str(&line).map_err(io::Error::other)?;
        if r.index != out.len() {
            return Err(io::Error::other(format!(
                "{INPUTS_FILE}: record {} has position {}",
                out.len(),
                r.index
            )));
        }
        out.push(r);
    }
    let got: [u8; 32] = hash.finalize().into();
    if &got != sha256 {
        return Err(io::Error::other(format!(
            "{INPUTS_FILE} does not match the SHA-256 recorded in the state file"
        )));
    }
    Ok(out)
}
