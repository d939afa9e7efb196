//! PEM (RFC 7468) text: one encoder and one decoder for certificates, requests and keys.

use crate::error::{CryptoError, Result};

/// `der` as a PEM block labelled `label` (`-----BEGIN {label}-----`, base64 in lines of 64).
pub fn encode(label: &str, der: &[u8]) -> String {
    let b = crate::b64::encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// The first PEM block of `text`: its label (`CERTIFICATE`, `CERTIFICATE REQUEST`, ...) and
/// its DER. Text before the block is skipped; a text without `-----BEGIN ` is
/// [`CryptoError::ParseCertificate`], bad base64 [`CryptoError::Base64`].
pub fn decode(text: &str) -> Result<(String, Vec<u8>)> {
    let mut label = String::new();
    let mut body = String::new();
    let mut inside = false;
    for line in text.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("-----BEGIN ") {
            label = rest.trim_end_matches('-').to_owned();
            inside = true;
        } else if l.starts_with("-----END ") {
            break;
        } else if inside {
            body.push_str(l);
        }
    }
    if !inside {
        return Err(CryptoError::ParseCertificate {
            index: None,
            detail: "no PEM block".into(),
        });
    }
    let der = crate::b64::decode("PEM", &body)?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_label_and_bytes() {
        let der: Vec<u8> = (0..=200).collect();
        for label in [
            "CERTIFICATE REQUEST",
            "NEW CERTIFICATE REQUEST",
            "CERTIFICATE",
        ] {
            let text = encode(label, &der);
            assert!(text.lines().all(|l| l.len() <= 64));
            assert_eq!(decode(&text).unwrap(), (label.to_owned(), der.clone()));
        }
    }

    #[test]
    fn decodes_the_first_block_after_other_text() {
        let text = format!(
            "Subject: x\r\n{}{}",
            encode("NEW CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x00").replace('\n', "\r\n"),
            encode("CERTIFICATE", b"other")
        );
        let (label, der) = decode(&text).unwrap();
        assert_eq!(label, "NEW CERTIFICATE REQUEST");
        assert_eq!(der, b"\x30\x03\x02\x01\x00");
    }

    #[test]
    fn a_wrong_label_is_reported_not_hidden() {
        let (label, _) = decode(&encode("PRIVATE KEY", b"k")).unwrap();
        assert_eq!(label, "PRIVATE KEY");
    }

    #[test]
    fn refuses_text_without_a_block_and_bad_base64() {
        assert!(matches!(
            decode("\x30\x03\x02\x01\x00"),
            Err(CryptoError::ParseCertificate { .. })
        ));
        assert!(matches!(
            decode("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n"),
            Err(CryptoError::Base64 { .. })
        ));
    }
}
