//! Runs every committed seed (`corpus/<target>/`) and every reproducer of a past crash
//! (`regressions/<target>/`) through its target's harness, in plain `cargo test`: a fixed crash
//! stays fixed, and the seeds still reach the deep parts of each parser (the checks below make
//! sure they are not all refused at the first byte).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn read(kind: &str, target: &str, name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target)
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_seed_and_regression_runs_through_its_harness() {
    let mut total = 0;
    for (target, run) in ksef_fuzz::TARGETS {
        let seeds = files("corpus", target);
        assert!(seeds.len() >= 3, "{target}: {} seeds", seeds.len());
        for path in seeds.iter().chain(&files("regressions", target)) {
            let data = std::fs::read(path).unwrap();
            run(&data);
            total += 1;
        }
    }
    assert!(total >= 30, "{total}");
}

#[test]
fn every_target_has_a_binary_and_a_seed_folder() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    for (target, _) in ksef_fuzz::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} has no [[bin]]"
        );
        let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz_targets")
            .join(format!("{target}.rs"));
        assert!(bin.is_file(), "{}", bin.display());
    }
}

#[test]
fn the_signed_seeds_pass_the_simulators_verification() {
    for name in [
        "enveloped-ecdsa.xml",
        "enveloped-rsa.xml",
        "namespace-2-1-fingerprint.xml",
        "allowed-ips.xml",
    ] {
        let body = read("corpus", "sim_xades", name);
        let ctx = ksef_sim::fuzzing::verify_xades_auth_request(&body, ksef_fuzz::seed_instant())
            .unwrap_or_else(|code| panic!("{name}: refused with {code}"));
        assert_eq!(ctx, "Nip:5265877635", "{name}");
    }
    // one byte of the signed part changed: the digest no longer matches (9105)
    let mut body = read("corpus", "sim_xades", "enveloped-ecdsa.xml");
    let i = body.windows(11).position(|w| w == b"-CR-0123456").unwrap();
    body[i + 4] = b'9';
    assert_eq!(
        ksef_sim::fuzzing::verify_xades_auth_request(&body, ksef_fuzz::seed_instant()),
        Err(9105)
    );
}

#[test]
fn the_archive_seeds_unpack_to_their_invoices() {
    for (name, tar_gz) in [
        ("zip-three-invoices", false),
        ("tar-gz-three-invoices", true),
    ] {
        let data = read("corpus", "sim_batch_archive", name);
        let files = ksef_sim::fuzzing::unpack_batch_archive(&data[1..], tar_gz, 10).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["invoice-1.xml", "invoice-2.xml", "invoice-3.xml"],
            "{name}"
        );
        // the count limit is enforced before any file is handed out
        assert!(ksef_sim::fuzzing::unpack_batch_archive(&data[1..], tar_gz, 2).is_err());
    }
}

#[test]
fn the_other_seeds_are_accepted_by_their_parsers() {
    for name in ["fa3-sample.xml", "fa2-sample.xml", "pef3-minimal.xml"] {
        let data = read("corpus", "invoice_preflight", name);
        ksef_crypto::preflight(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let upo =
        ksef_flows::Upo::parse(read("corpus", "upo_parse", "three-invoices.xml").into()).unwrap();
    assert_eq!(upo.documents.len(), 3);
    for name in [
        "nip",
        "ksef-number",
        "ksef-number-legacy",
        "reference-number",
    ] {
        let text = String::from_utf8(read("corpus", "identifiers", name)).unwrap();
        let ok = match name {
            "nip" => ksef_crypto::Nip::parse(&text).is_ok(),
            "reference-number" => ksef_crypto::ReferenceNumber::parse_strict(&text).is_ok(),
            _ => ksef_crypto::KsefNumber::parse(&text).is_ok(),
        };
        assert!(ok, "{name}: {text}");
    }
}
