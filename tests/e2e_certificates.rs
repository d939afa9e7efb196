//! End-to-end: the certificate workflow of ksef-flows against ksef-sim — limits, enrollment of
//! an `Authentication` certificate that then authenticates (with the chain verified), an
//! `Offline` certificate whose KOD II link openssl verifies (and whose chain openssl verifies
//! against the simulator's CA), query and revocation, after which the certificate no longer
//! authenticates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod e2e_common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e_common::*;
use ksef_flows::certificates::{
    CertificateFilter, CertificateListItemStatus, CertificateRevocationReason, EnrollmentRequest,
    KsefCertificateType,
};
use ksef_flows::crypto::KeyAlgorithm;
use ksef_flows::crypto::qr::{self, EcdsaEncoding, QrEnvironment};
use ksef_flows::crypto::xades::ContextIdentifier;
use ksef_flows::{AuthFailure, Credentials, FlowError};
use ksef_sim::{CertificatesConfig, SimConfig};

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn enrolled_certificates_authenticate_sign_kod2_and_stop_when_revoked() {
    let sim = Sim::start(SimConfig::default().with_certificates(
        CertificatesConfig::default().with_enrollment_delay(Duration::from_millis(300)),
    ));
    let ca_pem = sim.control().certificate_authority_pem();
    client_rt().block_on(async {
        let ksef = ksef(&sim);
        let (nip, auth) = xades_auth(&ksef).await;
        let ctx = ContextIdentifier::Nip(nip.clone());

        let before = auth.certificate_limits().await.unwrap();
        assert!(before.can_request);
        let data = auth.certificate_enrollment_data().await.unwrap();
        assert_eq!(
            data.serial_number.as_deref(),
            Some(format!("TINPL-{nip}").as_str())
        );

        // Authentication certificate (EC P-256): enrolled, counted, listed.
        let auth_cert = auth
            .enroll_certificate(&EnrollmentRequest::new(
                "e2e Authentication",
                KsefCertificateType::Authentication,
            ))
            .await
            .unwrap();
        assert_eq!(auth_cert.serial_number.len(), 16);
        assert_eq!(auth_cert.identity.serial_hex(), auth_cert.serial_number);
        let after = auth.certificate_limits().await.unwrap();
        assert_eq!(after.enrollment.remaining, before.enrollment.remaining - 1);
        assert_eq!(
            after.certificate.remaining,
            before.certificate.remaining - 1
        );
        let listed = auth
            .query_all_certificates(
                &CertificateFilter::new()
                    .kind(KsefCertificateType::Authentication)
                    .status(CertificateListItemStatus::Active),
            )
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].certificate_serial_number, auth_cert.serial_number);

        // It authenticates its owner, with the chain verified against the simulator's CA.
        let by_cert = ksef
            .authenticate(
                &Credentials::xades(auth_cert.identity.clone(), ctx.clone())
                    .verify_certificate_chain(true),
            )
            .await
            .unwrap();
        assert!(by_cert.access_token().is_some());
        // A self-signed certificate does not pass that check.
        let (_, self_signed) = taxpayer();
        let refused = ksef
            .authenticate(
                &Credentials::xades(self_signed, ctx.clone()).verify_certificate_chain(true),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                FlowError::AuthRejected {
                    reason: AuthFailure::Certificate,
                    ..
                }
            ),
            "{refused:?}"
        );

        // Offline certificate (RSA-2048): a KOD II link signed with it verifies in openssl.
        let offline = auth
            .enroll_certificate(
                &EnrollmentRequest::new("e2e Offline", KsefCertificateType::Offline)
                    .algorithm(KeyAlgorithm::Rsa2048),
            )
            .await
            .unwrap();
        let invoice_hash = ksef_flows::crypto::b64::sha256(b"<Faktura>offline</Faktura>");
        let url = qr::kod2_url_for_identity(
            &QrEnvironment::Test,
            &ctx,
            &nip,
            &invoice_hash,
            &offline.identity,
            EcdsaEncoding::RawRs,
        )
        .unwrap();
        assert!(
            url.contains(&format!("/{}/", offline.serial_number)),
            "{url}"
        );
        let signed = url.strip_prefix("https://").unwrap();
        let (signed, sig) = signed.rsplit_once('/').unwrap();
        let sig = ksef_flows::crypto::b64::decode_url("sig", sig).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let f = |n: &str| dir.path().join(n);
        std::fs::write(f("ca.pem"), &ca_pem).unwrap();
        std::fs::write(f("offline.pem"), offline.identity.certificate_pem()).unwrap();
        std::fs::write(f("data"), signed.as_bytes()).unwrap();
        std::fs::write(f("sig"), &sig).unwrap();
        let chain = openssl(&["verify", "-CAfile", p(&f("ca.pem")), p(&f("offline.pem"))]);
        assert!(
            chain.status.success(),
            "openssl verify: {}",
            String::from_utf8_lossy(&chain.stderr)
        );
        let text = openssl(&["x509", "-in", p(&f("offline.pem")), "-noout", "-text"]);
        assert!(String::from_utf8_lossy(&text.stdout).contains("Non Repudiation"));
        let pubkey = openssl(&["x509", "-in", p(&f("offline.pem")), "-pubkey", "-noout"]);
        std::fs::write(f("pub.pem"), &pubkey.stdout).unwrap();
        let verify = openssl(&[
            "dgst",
            "-sha256",
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
            "-verify",
            p(&f("pub.pem")),
            "-signature",
            p(&f("sig")),
            p(&f("data")),
        ]);
        assert!(
            verify.status.success(),
            "openssl rejected the KOD II signature: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        // An Offline certificate cannot authenticate.
        let e = ksef
            .authenticate(&Credentials::xades(offline.identity.clone(), ctx.clone()))
            .await
            .unwrap_err();
        assert!(matches!(e, FlowError::AuthRejected { .. }), "{e:?}");

        // Retrieve gives both back; revoked, the Authentication certificate no longer works.
        let got = auth
            .retrieve_certificates(&[
                auth_cert.serial_number.clone(),
                offline.serial_number.clone(),
            ])
            .await
            .unwrap();
        assert_eq!(got.len(), 2);
        auth.revoke_certificate(
            &auth_cert.serial_number,
            Some(CertificateRevocationReason::KeyCompromise),
        )
        .await
        .unwrap();
        let e = ksef
            .authenticate(&Credentials::xades(auth_cert.identity.clone(), ctx.clone()))
            .await
            .unwrap_err();
        match e {
            FlowError::AuthRejected {
                reason: AuthFailure::Certificate,
                details,
                ..
            } => assert!(
                details.iter().any(|d| d.contains("odwołany")),
                "{details:?}"
            ),
            other => panic!("expected a 460, got {other:?}"),
        }
        let revoked = auth
            .query_all_certificates(
                &CertificateFilter::new().status(CertificateListItemStatus::Revoked),
            )
            .await
            .unwrap();
        assert_eq!(revoked.len(), 1);
        // Revoking twice: 25009.
        let again = auth
            .revoke_certificate(&auth_cert.serial_number, None)
            .await
            .unwrap_err();
        assert!(again.has_code(25009), "{again:?}");
        // Bad input is refused before anything is sent.
        let bad = auth
            .revoke_certificate("not-a-serial", None)
            .await
            .unwrap_err();
        assert!(matches!(bad, FlowError::InvalidArgument { .. }), "{bad:?}");
    });
}
