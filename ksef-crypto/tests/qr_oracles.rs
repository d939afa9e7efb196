#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! KOD I / KOD II links; KOD II signatures verified by openssl; PNG/SVG rendering.

mod common;

use common::{have, p, run, run_ok};
use ksef_crypto::identity::KeyAlgorithm;
use ksef_crypto::ids::{CertificateSerial, InternalId, Nip, NipVatUe, PeppolId};
use ksef_crypto::qr::{self, EcdsaEncoding, QrEnvironment};
use ksef_crypto::xades::ContextIdentifier;
use ksef_crypto::{TestIdentity, b64};

fn hash() -> [u8; 32] {
    b64::sha256(b"<Faktura>...</Faktura>")
}

#[test]
fn kod1_url_format() {
    let nip = Nip::parse("5265877635").unwrap();
    let d = chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
    let h = [0xfbu8; 32];
    let url = qr::kod1_url(&QrEnvironment::Test, &nip, d, &h);
    assert_eq!(
        url,
        "https://qr-test.ksef.mf.gov.pl/invoice/5265877635/01-02-2026/-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s"
    );
    assert_eq!(b64::encode_url(h).len(), 43);
    assert!(
        qr::kod1_url(&QrEnvironment::Production, &nip, d, &h)
            .starts_with("https://qr.ksef.mf.gov.pl/invoice/")
    );
}

fn der_from_raw(raw: &[u8]) -> Vec<u8> {
    // independent minimal DER encoder for ECDSA-Sig-Value (test helper)
    fn int(b: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|&x| x == 0).collect();
        if v.is_empty() || v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut o = vec![0x02, v.len() as u8];
        o.extend(v);
        o
    }
    let mut body = int(&raw[..32]);
    body.extend(int(&raw[32..]));
    let mut o = vec![0x30, body.len() as u8];
    o.extend(body);
    o
}

#[test]
fn kod2_signatures_verified_by_openssl() {
    if !have("openssl") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nip = Nip::random();
    let serial = CertificateSerial::parse("01F20A5D352AE590").unwrap();
    let contexts = [
        ContextIdentifier::Nip(nip.clone()),
        ContextIdentifier::InternalId(InternalId::from_nip(&nip, 7).unwrap()),
        ContextIdentifier::NipVatUe(NipVatUe::parse(&format!("{nip}-ATU12345678")).unwrap()),
        ContextIdentifier::PeppolId(PeppolId::parse("PPL000001").unwrap()),
    ];
    let cases = [
        (KeyAlgorithm::Rsa2048, EcdsaEncoding::RawRs),
        (KeyAlgorithm::EcdsaP256, EcdsaEncoding::RawRs),
        (KeyAlgorithm::EcdsaP256, EcdsaEncoding::Der),
    ];
    for (alg, enc) in cases {
        let id = TestIdentity::self_signed_personal(&nip, alg).unwrap();
        let certf = dir.path().join("c.pem");
        std::fs::write(&certf, id.certificate_pem()).unwrap();
        let pubf = dir.path().join("pub.pem");
        let pubpem = run_ok("openssl", &["x509", "-in", p(&certf), "-pubkey", "-noout"]).stdout;
        std::fs::write(&pubf, pubpem).unwrap();
        for ctx in &contexts {
            let url = qr::kod2_url(
                &QrEnvironment::Test,
                ctx,
                &nip,
                &serial,
                &hash(),
                id.private_key(),
                enc,
            )
            .unwrap();
            let signed = qr::kod2_signed_part(&QrEnvironment::Test, ctx, &nip, &serial, &hash());
            assert!(url.starts_with(&format!("https://{signed}/")), "{url}");
            assert!(signed.starts_with(&format!(
                "qr-test.ksef.mf.gov.pl/certificate/{}/{}/{nip}/01F20A5D352AE590/",
                ctx.type_name(),
                ctx.value()
            )));
            let sig = b64::decode_url("sig", url.rsplit('/').next().unwrap()).unwrap();
            let data = dir.path().join("data.txt");
            std::fs::write(&data, signed.as_bytes()).unwrap();
            let sigf = dir.path().join("sig.bin");
            let verify = |sig: &[u8], extra: &[&str]| {
                std::fs::write(&sigf, sig).unwrap();
                let mut args = vec!["dgst", "-sha256"];
                args.extend_from_slice(extra);
                args.extend_from_slice(&["-verify", p(&pubf), "-signature", p(&sigf), p(&data)]);
                run("openssl", &args)
            };
            match (alg, enc) {
                (KeyAlgorithm::Rsa2048, _) => {
                    let pss = [
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:32",
                        "-sigopt",
                        "rsa_mgf1_md:sha256",
                    ];
                    let o = verify(&sig, &pss);
                    assert!(
                        o.status.success(),
                        "openssl rejected PSS: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                    // salt length must be exactly 32: verifying with saltlen 20 fails
                    let o = verify(
                        &sig,
                        &[
                            "-sigopt",
                            "rsa_padding_mode:pss",
                            "-sigopt",
                            "rsa_pss_saltlen:20",
                        ],
                    );
                    assert!(!o.status.success());
                }
                (_, EcdsaEncoding::RawRs) => {
                    assert_eq!(sig.len(), 64);
                    let o = verify(&der_from_raw(&sig), &[]);
                    assert!(
                        o.status.success(),
                        "openssl rejected ECDSA r||s: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
                _ => {
                    assert_eq!(sig[0], 0x30);
                    let o = verify(&sig, &[]);
                    assert!(
                        o.status.success(),
                        "openssl rejected ECDSA DER: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            }
            // tampered data is rejected
            std::fs::write(&data, format!("{signed}x")).unwrap();
            let o = match alg {
                KeyAlgorithm::Rsa2048 => verify(
                    &sig,
                    &[
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:32",
                    ],
                ),
                _ if enc == EcdsaEncoding::RawRs => verify(&der_from_raw(&sig), &[]),
                _ => verify(&sig, &[]),
            };
            assert!(!o.status.success());
        }
    }
}

#[test]
fn png_and_svg_rendering() {
    let url = "https://qr-test.ksef.mf.gov.pl/invoice/5265877635/01-02-2026/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let label = "5265877635-20250826-0100001AF629-AF";
    let m = 4u32;
    let png_bytes = qr::render_png(url, label, m).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let (n, modules) = qr::modules(url).unwrap();
    let side = (n + 8) * m as usize;
    assert!(h > side, "label area below the code");
    let x0 = (w - side) / 2;
    // every module centre has the module's colour
    for y in 0..n {
        for x in 0..n {
            let px = x0 + (4 + x) * m as usize + m as usize / 2;
            let py = (4 + y) * m as usize + m as usize / 2;
            let v = buf[py * w + px];
            assert_eq!(v == 0, modules[y * n + x], "module ({x},{y})");
        }
    }
    // quiet zone is white, label area has ink
    assert!(buf[..w * 4 * m as usize].iter().all(|&v| v == 255));
    assert!(buf[side * w..].contains(&0), "label not drawn");
    // no label -> no label area
    let plain = qr::render_png(url, "", m).unwrap();
    let mut r2 = png::Decoder::new(std::io::Cursor::new(&plain))
        .read_info()
        .unwrap();
    let mut b2 = vec![0; r2.output_buffer_size().unwrap()];
    let i2 = r2.next_frame(&mut b2).unwrap();
    assert_eq!(i2.height as usize, side);

    let svg = qr::render_svg(url, qr::LABEL_CERTIFICATE).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.contains(">CERTYFIKAT</text>"));
    assert_eq!(
        svg.matches("h1v1h-1z").count(),
        modules.iter().filter(|&&d| d).count()
    );
    assert!(qr::render_png(url, &"X".repeat(65), 4).is_err());
    assert!(qr::render_svg(url, &"X".repeat(65)).is_err());
    assert!(
        qr::render_png(&"A".repeat(5000), "", 4).is_err(),
        "too much data for a QR code"
    );
    let svg2 = qr::render_svg(url, "<&>").unwrap();
    assert!(svg2.contains("&lt;&amp;&gt;"));
}
