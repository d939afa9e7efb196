//! Validation of a received invoice against the official XSD of its form (FA (2), FA (3),
//! FA_RR (1), PEF (3), PEF_KOR (3)) with libxml2, as KSeF does before it reads the invoice's
//! content.
//!
//! The schemas pinned in `spec/ksef-form-schemas.lock` are embedded at build time. On first use
//! they are written once per process into a content-addressed folder of the temporary directory
//! (the FA base schemas, imported by `http://crd.gov.pl/...` URLs, are pointed at their local
//! copies, so nothing is fetched). libxml2's compiled schemas are not `Send`: every thread compiles
//! the schemas it needs once and keeps them. Validation is CPU work: callers run it on a blocking
//! thread, never on an async worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libxml::parser::{Parser, ParserOptions, XmlParseFailure};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};

use super::form::FormKind;

include!(concat!(env!("OUT_DIR"), "/form_schemas.rs"));

/// Where the FA schemas import their base types from.
const BASE_URL: &str = "http://crd.gov.pl/xml/schematy/dziedzinowe/mf/2022/01/05/eD/DefinicjeTypy/";
/// The folder of those base types inside the schema folder.
const BASE_DIR: &str = "faktury/schemy/FA/bazowe";
/// How many of libxml2's messages a refusal quotes.
const MAX_MESSAGES: usize = 5;

/// Why an invoice could not be validated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SchemaError {
    /// The invoice does not conform to its form's schema (libxml2's messages).
    #[error("{0}")]
    Invalid(String),
    /// The schema itself could not be prepared (a defect of the simulator's installation).
    #[error("the schema of {form} is unavailable: {reason}")]
    Unavailable { form: &'static str, reason: String },
}

/// Validates `bytes` against the schema of `form`.
pub(crate) fn validate(form: FormKind, bytes: &[u8]) -> Result<(), SchemaError> {
    let code = form.system_code();
    let unavailable = |reason: String| SchemaError::Unavailable { form: code, reason };
    let root = FORM_SCHEMA_ROOTS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, path)| *path)
        .ok_or_else(|| unavailable("no schema is pinned for this form".into()))?;
    let folder = folder().map_err(unavailable)?;
    let options = ParserOptions {
        no_net: true,
        no_error: true,
        no_warning: true,
        ..ParserOptions::default()
    };
    let document = match Parser::default().parse_string_with_diagnostics(bytes, options) {
        Ok((document, _)) => document,
        Err(XmlParseFailure::ParseFailed(errors)) => {
            return Err(SchemaError::Invalid(describe(
                errors.iter().map(|e| (e.line, e.message.clone())),
            )));
        }
        Err(other) => return Err(SchemaError::Invalid(format!("{other:?}"))),
    };
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        if !compiled.contains_key(root) {
            let path = folder.join(root);
            let mut parser = SchemaParserContext::from_file(&path.to_string_lossy());
            let context = SchemaValidationContext::from_parser(&mut parser).map_err(|errors| {
                unavailable(describe(errors.iter().map(|e| (e.line, e.message.clone()))))
            })?;
            compiled.insert(root, context);
        }
        let context = compiled
            .get_mut(root)
            .ok_or_else(|| unavailable("compiled schema lost".into()))?;
        context.validate_document(&document).map_err(|errors| {
            SchemaError::Invalid(describe(errors.iter().map(|e| (e.line, e.message.clone()))))
        })
    })
}

thread_local! {
    /// The schemas this thread compiled, by root path.
    static COMPILED: RefCell<HashMap<&'static str, SchemaValidationContext>> =
        RefCell::new(HashMap::new());
}

/// libxml2's messages, with their lines, the first few of them.
fn describe(errors: impl Iterator<Item = (Option<i32>, Option<String>)>) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut total = 0usize;
    for (line, message) in errors {
        total += 1;
        if lines.len() < MAX_MESSAGES {
            let message = message.unwrap_or_default();
            let message = message.trim();
            lines.push(match line {
                Some(l) if l > 0 => format!("line {l}: {message}"),
                _ => message.to_string(),
            });
        }
    }
    if total > lines.len() {
        lines.push(format!("({} more)", total - lines.len()));
    }
    if lines.is_empty() {
        "the document does not conform to the schema".into()
    } else {
        lines.join("; ")
    }
}

/// The folder holding the embedded schemas, written on first use.
fn folder() -> Result<&'static Path, String> {
    static FOLDER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FOLDER
        .get_or_init(materialize)
        .as_deref()
        .map_err(Clone::clone)
}

fn materialize() -> Result<PathBuf, String> {
    static UNIQUE: AtomicU64 = AtomicU64::new(0);
    let digest = FORM_SCHEMAS_DIGEST.get(..16).unwrap_or(FORM_SCHEMAS_DIGEST);
    let dir = std::env::temp_dir().join(format!("ksef-sim-form-schemas-{digest}"));
    for (path, bytes) in FORM_SCHEMA_FILES {
        let target = dir.join(path);
        let content = local_imports(path, bytes);
        if std::fs::read(&target).ok().as_deref() == Some(content.as_slice()) {
            continue;
        }
        let parent = target
            .parent()
            .ok_or_else(|| format!("{} has no folder", target.display()))?;
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        // Written aside and renamed, so that a concurrent process never reads half a file.
        let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let scratch = parent.join(format!(".{}.{n}.tmp", std::process::id()));
        std::fs::write(&scratch, &content).map_err(|e| format!("{}: {e}", scratch.display()))?;
        std::fs::rename(&scratch, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(dir)
}

/// The schema text with imports from the base-type URL pointed at the local copy (the namespace,
/// the same URL, stays).
fn local_imports(path: &str, bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let remote = format!("schemaLocation=\"{BASE_URL}");
    if !text.contains(&remote) {
        return bytes.to_vec();
    }
    let depth = path.matches('/').count();
    let local = format!("schemaLocation=\"{}{BASE_DIR}/", "../".repeat(depth));
    text.replace(&remote, &local).into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_form_has_a_pinned_schema_that_compiles() {
        for form in [
            FormKind::Fa2,
            FormKind::Fa3,
            FormKind::FaRr1,
            FormKind::Pef3,
            FormKind::PefKor3,
        ] {
            // An empty element of no form: the schema compiles, the document is refused.
            let err = validate(form, b"<x/>").unwrap_err();
            assert!(matches!(err, SchemaError::Invalid(_)), "{form:?}: {err}");
        }
    }

    #[test]
    fn base_url_points_at_the_local_copy() {
        let text = format!("<import namespace=\"{BASE_URL}\" schemaLocation=\"{BASE_URL}S.xsd\"/>");
        let out = local_imports("faktury/schemy/RR/r.xsd", text.as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "<import namespace=\"{BASE_URL}\" schemaLocation=\"../../../faktury/schemy/FA/bazowe/S.xsd\"/>"
            )
        );
    }
}
