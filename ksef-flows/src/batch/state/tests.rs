//! The state file: round trip, sealing, tamper and wrong-key detection, permissions, atomic
//! replacement, and no secret in clear.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn state() -> BatchState {
    BatchState {
        batch_id: "0123".into(),
        created_at: "2026-11-30T01:02:03.004Z".into(),
        form: FormRecord {
            system_code: "FA (3)".into(),
            schema_version: "1-0E".into(),
            value: "FA".into(),
        },
        compression: "Zip".into(),
        offline_mode: false,
        archive: ArchiveRecord {
            size: 123,
            sha256: "a".repeat(44),
        },
        parts: vec![PartRecord {
            ordinal: 1,
            file: "part-001.aes".into(),
            plain_size: 123,
            size: 128,
            sha256: "b".repeat(44),
        }],
        inputs: InputsRecord {
            file: "inputs.jsonl".into(),
            count: 3,
            packed: 2,
            stopped: 1,
            sha256: "c".repeat(44),
        },
        phase: BatchPhase::Uploading,
        session: Some(SessionRecord {
            reference_number: "20261130-SB-0000000000-0000000000-00".into(),
            environment: "http://127.0.0.1:1/v2".into(),
            context: "Nip:5265877635".into(),
            opened_at: "2026-11-30T01:02:04.000Z".into(),
            confirmed_parts: [1].into_iter().collect(),
        }),
        abandoned_sessions: vec![],
        final_status: None,
    }
}

const URL: &str = "https://blob.example/part/1?se=1900000000&sig=c2VjcmV0LXNpZ25hdHVyZQ";

fn secrets() -> Secrets {
    Secrets {
        key: SymmetricKey::from_parts([0x5a; 32], [0x17; 16]),
        uploads: vec![UploadTarget {
            ordinal: 1,
            method: "PUT".into(),
            url: URL.into(),
            headers: [("x-ms-blob-type".to_string(), "BlockBlob".to_string())]
                .into_iter()
                .collect(),
        }],
    }
}

#[test]
fn round_trip_and_no_secret_in_clear() {
    let d = tempfile::tempdir().unwrap();
    let store = StateStore::new(d.path(), StateKey::from_bytes([9; 32]));
    assert!(store.load().unwrap().is_none());
    store.save(&state(), &secrets()).unwrap();
    let (s, sec) = store.load().unwrap().unwrap();
    assert_eq!(s, state());
    assert_eq!(sec.key, secrets().key);
    assert_eq!(sec.uploads, secrets().uploads);

    let text = std::fs::read(store.path()).unwrap();
    let text_s = String::from_utf8(text.clone()).unwrap();
    let key = [0x5a_u8; 32];
    for needle in [
        ksef_crypto::b64::encode(key),
        ksef_crypto::b64::encode_url(key),
        key.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "c2VjcmV0LXNpZ25hdHVyZQ".to_string(),
        "blob.example".to_string(),
    ] {
        assert!(!text_s.contains(&needle), "{needle} in the state file");
    }
    assert!(!text.windows(32).any(|w| w == key), "raw key bytes");
    // the clear part is readable
    let v: serde_json::Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(v["state"]["phase"], "Uploading");
    assert_eq!(v["sealed"]["algorithm"], "AES-256-GCM");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // every write uses a fresh nonce
    store.save(&state(), &secrets()).unwrap();
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
    assert_ne!(again["sealed"]["nonce"], v["sealed"]["nonce"]);
    // no temporary file left behind
    let names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [STATE_FILE]);
}

#[test]
fn another_key_or_an_altered_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let store = StateStore::new(d.path(), StateKey::from_bytes([9; 32]));
    store.save(&state(), &secrets()).unwrap();
    let other = StateStore::new(d.path(), StateKey::from_bytes([8; 32]));
    let e = other.load().unwrap_err();
    assert!(e.to_string().contains("another state key"), "{e}");

    // change the clear part: mark part 2 confirmed, or the phase
    let original = std::fs::read_to_string(store.path()).unwrap();
    for (from, to) in [
        ("\"Uploading\"", "\"Processing\""),
        ("\"size\": 128", "\"size\": 129"),
    ] {
        assert!(original.contains(from), "{from}");
        std::fs::write(store.path(), original.replacen(from, to, 1)).unwrap();
        let e = store.load().unwrap_err();
        assert!(matches!(e, FlowError::BatchState { .. }), "{e}");
    }
    // a flipped bit in the ciphertext
    let mut v: serde_json::Value = serde_json::from_str(&original).unwrap();
    let c = v["sealed"]["ciphertext"].as_str().unwrap().to_string();
    let mut raw = ksef_crypto::b64::decode("t", &c).unwrap();
    raw[3] ^= 1;
    v["sealed"]["ciphertext"] = ksef_crypto::b64::encode(&raw).into();
    std::fs::write(store.path(), serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(store.load().is_err());
    // not a state file at all
    std::fs::write(store.path(), b"{}").unwrap();
    assert!(store.load().is_err());
}

#[test]
fn state_keys_from_text_env_and_file() {
    let raw = [0xab_u8; 32];
    let b64 = ksef_crypto::b64::encode(raw);
    let hex: String = raw.iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(
        StateKey::from_text(&b64).unwrap(),
        StateKey::from_bytes(raw)
    );
    assert_eq!(
        StateKey::from_text(&format!(" {hex}\n")).unwrap(),
        StateKey::from_bytes(raw)
    );
    assert!(StateKey::from_text("c2hvcnQ=").is_err());
    assert!(StateKey::from_text("not base64 !").is_err());
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("k");
    std::fs::write(&f, raw).unwrap();
    assert_eq!(StateKey::from_file(&f).unwrap(), StateKey::from_bytes(raw));
    std::fs::write(&f, format!("{b64}\n")).unwrap();
    assert_eq!(StateKey::from_file(&f).unwrap(), StateKey::from_bytes(raw));
    assert!(StateKey::from_env("KSEF_RS_TEST_SURELY_UNSET_VARIABLE").is_err());
    assert_eq!(&*StateKey::from_bytes(raw).to_base64(), &b64);
    assert_eq!(
        format!("{:?}", StateKey::from_bytes(raw)),
        "StateKey([redacted])"
    );
    let g = StateKey::generate().unwrap();
    assert_ne!(g, StateKey::generate().unwrap());
}
