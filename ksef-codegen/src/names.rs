//! N1: operation names. The KSeF document has no `operationId`; progenitor needs one.
//!
//! The synthesised name is `{method}_{segments}` in snake case, a `{param}` segment becoming
//! `by_{param}`: `DELETE /auth/sessions/{referenceNumber}` → `delete_auth_sessions_by_reference_number`.
//! `spec/operation-names.txt` overrides the names of the operations people call most.

use std::collections::BTreeMap;

use crate::SpecError;

/// `METHOD /path` → name.
pub type Overrides = BTreeMap<String, String>;

/// The key of an operation in the override map and in messages: `POST /auth/challenge`.
pub fn operation_key(method: &str, path: &str) -> String {
    format!("{} {}", method.to_ascii_uppercase(), path)
}

/// Parses the override map (`METHOD /path name` lines, `#` comments).
pub fn parse_overrides(text: &str) -> Result<Overrides, SpecError> {
    let mut out = Overrides::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [method, path, name] = parts[..] else {
            return Err(SpecError::Overrides {
                line: i + 1,
                reason: "expected `METHOD /path name`".into(),
            });
        };
        if !path.starts_with('/') {
            return Err(SpecError::Overrides {
                line: i + 1,
                reason: format!("`{path}` is not a path"),
            });
        }
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(SpecError::Overrides {
                line: i + 1,
                reason: format!("`{name}` is not a snake_case name"),
            });
        }
        if out
            .insert(operation_key(method, path), name.to_string())
            .is_some()
        {
            return Err(SpecError::Overrides {
                line: i + 1,
                reason: format!("{method} {path} is named twice"),
            });
        }
    }
    Ok(out)
}

/// The synthesised name of an operation (before overrides).
pub fn synthesize(method: &str, path: &str) -> String {
    let mut out = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('_');
        if let Some(param) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            out.push_str("by_");
            out.push_str(&snake_case(param));
        } else {
            out.push_str(&snake_case(seg));
        }
    }
    out
}

/// `referenceNumber` → `reference_number`, `ksef-token` → `ksef_token`, `eu-entities` → `eu_entities`.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev_lower_or_digit = false;
    for c in s.chars() {
        if c == '-' || c == '.' || c == ' ' || c == '_' {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower_or_digit = false;
        } else if c.is_ascii_uppercase() {
            if prev_lower_or_digit {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower_or_digit = false;
        } else {
            out.push(c);
            prev_lower_or_digit = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out
}

/// The final name of an operation: the override if there is one, else the synthesised name.
pub fn operation_name(method: &str, path: &str, overrides: &Overrides) -> String {
    overrides
        .get(&operation_key(method, path))
        .cloned()
        .unwrap_or_else(|| synthesize(method, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesised_names_are_readable_and_deterministic() {
        assert_eq!(synthesize("get", "/auth/sessions"), "get_auth_sessions");
        assert_eq!(
            synthesize("delete", "/auth/sessions/{referenceNumber}"),
            "delete_auth_sessions_by_reference_number"
        );
        assert_eq!(
            synthesize("post", "/permissions/eu-entities/administration/grants"),
            "post_permissions_eu_entities_administration_grants"
        );
        assert_eq!(
            synthesize(
                "GET",
                "/sessions/{referenceNumber}/invoices/ksef/{ksefNumber}/upo"
            ),
            "get_sessions_by_reference_number_invoices_ksef_by_ksef_number_upo"
        );
        assert_eq!(
            synthesize("put", "/testdata/certificates/{serialNumber}"),
            "put_testdata_certificates_by_serial_number"
        );
    }

    #[test]
    fn overrides_parse_and_apply() {
        let o =
            parse_overrides("# c\nPOST /auth/challenge  auth_challenge # trailing\n\n").unwrap();
        assert_eq!(
            operation_name("post", "/auth/challenge", &o),
            "auth_challenge"
        );
        assert_eq!(
            operation_name("get", "/auth/sessions", &o),
            "get_auth_sessions"
        );
    }

    #[test]
    fn overrides_reject_bad_lines() {
        assert!(parse_overrides("POST /auth/challenge").is_err());
        assert!(parse_overrides("POST auth/challenge x").is_err());
        assert!(parse_overrides("POST /a Bad-Name").is_err());
        assert!(parse_overrides("POST /a x\nPOST /a y").is_err());
    }

    #[test]
    fn the_committed_override_map_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../spec/operation-names.txt"
        ))
        .unwrap();
        let o = parse_overrides(&text).unwrap();
        assert!(o.len() >= 30);
    }
}
