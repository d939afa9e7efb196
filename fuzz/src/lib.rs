//! The harnesses of the fuzz targets: one module per target, each with `run(data)`, which feeds
//! arbitrary bytes to one parser of untrusted input and checks what must hold whatever the
//! input. A panic here is a finding: the fuzz target crashes and libFuzzer keeps the input.
//!
//! The binaries in `fuzz_targets/` only call these functions (feature `libfuzzer`); the replay
//! test (`tests/replay.rs`) runs every committed seed (`corpus/`) and every reproducer of a past
//! crash (`regressions/`) through them in plain `cargo test`.
//!
//! Run one target with `cargo xtask fuzz TARGET --time SECONDS` (see `README.md`).
#![allow(
    clippy::panic,
    reason = "a broken invariant must crash the fuzz target"
)]

use chrono::{DateTime, TimeZone as _, Utc};

/// The harness of one target: feeds it one input.
pub type Harness = fn(&[u8]);

/// Every target, by name (the name of its binary, of its `corpus/` and `regressions/` folders).
pub const TARGETS: &[(&str, Harness)] = &[
    ("sim_xades", sim_xades::run),
    ("sim_batch_archive", sim_batch_archive::run),
    ("invoice_preflight", invoice_preflight::run),
    ("upo_parse", upo_parse::run),
    ("error_body", error_body::run),
    ("identifiers", identifiers::run),
];

/// The instant the XAdES seeds were signed at and are verified at: a fixed one, so that whether
/// a seed's certificate is valid never depends on the day the fuzzer runs.
pub fn seed_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 15, 10, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// The simulator's verification of `POST /auth/xades-signature` bodies: XML parsing, the
/// request's checks, C14N of the signed parts, digests, signature and certificate.
pub mod sim_xades {
    /// Verifies `data` as a signed `AuthTokenRequest` at [`seed_instant`](crate::seed_instant).
    pub fn run(data: &[u8]) {
        if let Err(code) = ksef_sim::fuzzing::verify_xades_auth_request(data, crate::seed_instant())
        {
            // every refusal is one of the documented submit codes
            assert!(
                matches!(
                    code,
                    9101 | 9102 | 9103 | 9105 | 21001 | 21115 | 21117 | 21217 | 21401 | 21406
                ),
                "undocumented code {code}"
            );
        }
    }
}

/// The simulator's unpacking of a batch archive (Zip or TarGz).
pub mod sim_batch_archive {
    /// Most files accepted by the harness (small, so that the count limit is reached too).
    pub const MAX_ENTRIES: usize = 64;

    /// The first byte chooses the format (even: Zip, odd: TarGz), the rest is the archive.
    pub fn run(data: &[u8]) {
        let Some((&format, archive)) = data.split_first() else {
            return;
        };
        if let Ok(files) =
            ksef_sim::fuzzing::unpack_batch_archive(archive, format % 2 == 1, MAX_ENTRIES)
        {
            assert!(files.len() <= MAX_ENTRIES, "{} files", files.len());
        }
    }
}

/// The client's pre-flight of an invoice (encoding, well-formedness, schema, seller, date).
pub mod invoice_preflight {
    use ksef_crypto::{CryptoError, PreflightRule};

    /// Runs pre-flight; accepted bytes must be described exactly (size and hash of the input),
    /// and its XML verdict must be roxmltree's (an independent parser): what it accepts is
    /// well-formed, what it calls malformed is (bar its own cap on namespace declarations).
    pub fn run(data: &[u8]) {
        let verdict = ksef_crypto::preflight(data);
        if let Ok(facts) = &verdict {
            assert_eq!(facts.size, data.len());
            assert_eq!(facts.sha256, ksef_crypto::b64::sha256(data));
            assert!(!data.starts_with(&[0xEF, 0xBB, 0xBF]), "a BOM was accepted");
            assert!(std::str::from_utf8(data).is_ok(), "non-UTF-8 was accepted");
        }
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let options = roxmltree::ParsingOptions {
            allow_dtd: false,
            ..Default::default()
        };
        let tree = roxmltree::Document::parse_with_options(text, options);
        match &verdict {
            Ok(_) => assert!(
                tree.is_ok(),
                "pre-flight accepted what roxmltree rejects: {:?}",
                tree.err()
            ),
            Err(CryptoError::Preflight {
                rule: PreflightRule::WellFormed,
                detail,
                ..
            }) if !detail.contains("namespace declarations in scope") => assert!(
                tree.is_err(),
                "pre-flight called malformed what roxmltree reads: {detail}"
            ),
            _ => {}
        }
    }
}

/// The client's UPO parser.
pub mod upo_parse {
    /// Parses `data` as a UPO; a parsed UPO keeps the exact bytes.
    pub fn run(data: &[u8]) {
        let raw = bytes::Bytes::copy_from_slice(data);
        if let Ok(upo) = ksef_flows::Upo::parse(raw) {
            assert_eq!(&upo.raw[..], data);
            // a document has seven required elements: far more than 20 bytes each
            assert!(upo.documents.len() * 20 <= data.len());
        }
    }
}

/// The client's decoder of KSeF error answers (problem+json, `ExceptionResponse`, the legacy
/// 429 body, gateway pages) and of `Retry-After`.
pub mod error_body {
    use reqwest::StatusCode;
    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};

    const CONTENT_TYPES: [&str; 4] = [
        "application/problem+json",
        "application/json",
        "text/html",
        "text/plain; charset=utf-8",
    ];

    /// Byte 0 chooses the status (400 + n), byte 1 the content type; the text up to the first
    /// newline is the `Retry-After` header, the rest the body.
    pub fn run(data: &[u8]) {
        let [status, content_type, rest @ ..] = data else {
            return;
        };
        let status =
            StatusCode::from_u16(400 + u16::from(*status)).unwrap_or(StatusCode::BAD_REQUEST);
        let mut headers = HeaderMap::new();
        if let Some(ct) = CONTENT_TYPES.get(usize::from(*content_type) % 5) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        let (retry_after, body) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (&[][..], rest),
        };
        if let Ok(v) = HeaderValue::from_bytes(retry_after) {
            headers.insert(RETRY_AFTER, v);
        }
        let truncated = body.len() > ksef_api::error::MAX_ERROR_BODY;
        let r = ksef_api::ErrorResponse::decode(
            status,
            headers,
            bytes::Bytes::copy_from_slice(body),
            truncated,
        );
        let summary = r.summary();
        assert!(!summary.is_empty());
        for code in r.codes() {
            let _ = r.details_of(code);
        }
        let _ = r.retry_after();
        let e = ksef_api::KsefError::Api(Box::new(r));
        let _ = e.to_string();
    }
}

/// The identifier parsers: NIP, PESEL, InternalId, NipVatUe, PeppolId, certificate serial,
/// KSeF number, reference number.
pub mod identifiers {
    use ksef_crypto::ids::CertificateSerial;
    use ksef_crypto::{InternalId, KsefNumber, Nip, NipVatUe, PeppolId, Pesel, ReferenceNumber};

    /// Whatever parses prints back as the input and parses again; the KSeF number's 35-character
    /// form is a KSeF number with the same NIP and date; a strict reference number is a
    /// reference number.
    pub fn run(data: &[u8]) {
        let Ok(s) = std::str::from_utf8(data) else {
            return;
        };
        macro_rules! round_trip {
            ($t:ty) => {
                if let Ok(v) = <$t>::parse(s) {
                    assert_eq!(v.to_string(), s);
                    assert_eq!(<$t>::parse(&v.to_string()).ok().as_ref(), Some(&v));
                }
            };
        }
        round_trip!(Nip);
        round_trip!(Pesel);
        round_trip!(InternalId);
        round_trip!(NipVatUe);
        round_trip!(PeppolId);
        round_trip!(CertificateSerial);
        round_trip!(KsefNumber);
        round_trip!(ReferenceNumber);
        if let Ok(n) = Nip::parse(s) {
            assert!(Nip::parse_pattern_only(n.as_str()).is_ok());
        }
        if let Ok(k) = KsefNumber::parse(s) {
            let short = KsefNumber::parse(&k.normalized())
                .unwrap_or_else(|e| panic!("{s}: the 35-character form does not parse: {e}"));
            assert_eq!(short.nip(), k.nip());
            assert_eq!(short.date(), k.date());
            assert!(Nip::parse_pattern_only(k.nip()).is_ok());
        }
        if ReferenceNumber::parse_strict(s).is_ok() {
            let r = ReferenceNumber::parse(s)
                .unwrap_or_else(|e| panic!("{s}: strict but not lax: {e}"));
            let _ = r.kind();
        }
        if let Ok(id) = InternalId::parse(s) {
            assert!(Nip::parse_pattern_only(id.nip_part()).is_ok());
        }
    }
}
