//! KSeF certificates of the authenticated subject: limits, enrollment data, enrollment (a CSR
//! built from the enrollment data, submitted, waited for, retrieved), query, retrieve, revoke.
//!
//! Certificates belong to the subject that authenticated (a person or a seal), not to the
//! context of the access token. Enrollment needs a signature authentication (XAdES): KSeF reads
//! the DN the request must carry from the authenticating certificate.

use chrono::{DateTime, Utc};
use ksef_api::KsefHeaders as _;
use ksef_api::operations::op;
use ksef_api::types;
use ksef_crypto::csr::{EnrollmentSubject, build_csr};
use ksef_crypto::identity::{KeyAlgorithm, PrivateKey, SigningIdentity};

use crate::auth::AuthSession;
use crate::error::{FlowError, Result};
use crate::paging::check_page_size;
use crate::retry::Idempotency;
use crate::wait::Polling;

pub use types::{
    CertificateLimitsResponse, CertificateListItem, CertificateListItemStatus,
    CertificateRevocationReason, KsefCertificateType,
};

/// Most serial numbers one `POST /certificates/retrieve` takes.
pub const MAX_RETRIEVE: usize = 10;

/// What to enroll: a name, a type, the key algorithm and optionally the start of validity.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnrollmentRequest {
    /// The certificate's own name (5–100 characters: letters, digits, `_`, `-`, space).
    pub name: String,
    /// `Authentication` (XAdES authentication) or `Offline` (KOD II links).
    pub kind: KsefCertificateType,
    /// Key of the new certificate (EC P-256 is what KSeF recommends).
    pub algorithm: KeyAlgorithm,
    /// Start of validity; from issuance when `None`.
    pub valid_from: Option<DateTime<Utc>>,
}

impl EnrollmentRequest {
    /// A request for a certificate `name` of `kind` with an EC P-256 key, valid from issuance.
    pub fn new(name: impl Into<String>, kind: KsefCertificateType) -> Self {
        Self {
            name: name.into(),
            kind,
            algorithm: KeyAlgorithm::EcdsaP256,
            valid_from: None,
        }
    }

    /// Use a key of `algorithm` (RSA-2048 or EC P-256).
    #[must_use]
    pub fn algorithm(mut self, algorithm: KeyAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Valid from `instant`.
    #[must_use]
    pub fn valid_from(mut self, instant: DateTime<Utc>) -> Self {
        self.valid_from = Some(instant);
        self
    }
}

/// A certificate KSeF issued, with the key made for it.
#[derive(Clone)]
#[non_exhaustive]
pub struct EnrolledCertificate {
    /// Reference number of the enrollment.
    pub reference_number: String,
    /// Serial number (16 uppercase hex digits): the one KOD II links carry.
    pub serial_number: String,
    /// The certificate's own name.
    pub name: String,
    /// `Authentication` or `Offline`.
    pub kind: KsefCertificateType,
    /// The certificate with its private key: signs XAdES (Authentication) or KOD II (Offline).
    pub identity: SigningIdentity,
}

impl std::fmt::Debug for EnrolledCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrolledCertificate")
            .field("reference_number", &self.reference_number)
            .field("serial_number", &self.serial_number)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A PKCS#10 request made by [`AuthSession::certificate_request`], with the key that signed it.
#[derive(Clone)]
#[non_exhaustive]
pub struct CertificateRequest {
    /// The subject KSeF gave (`GET /certificates/enrollments/data`), as put in the request.
    pub subject: EnrollmentSubject,
    /// The new private key; store it safely.
    pub key: PrivateKey,
    /// DER of the request.
    pub csr_der: Vec<u8>,
}

impl std::fmt::Debug for CertificateRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateRequest")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A certificate KSeF issued for a request of [`AuthSession::enroll_csr`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedCertificate {
    /// Reference number of the enrollment.
    pub reference_number: String,
    /// Serial number, as the enrollment status gave it.
    pub serial_number: String,
    /// The certificate as `/certificates/retrieve` returned it.
    pub certificate: RetrievedCertificate,
}

/// One certificate of `POST /certificates/retrieve`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetrievedCertificate {
    /// Serial number.
    pub serial_number: String,
    /// The certificate's own name.
    pub name: String,
    /// `Authentication` or `Offline`.
    pub kind: KsefCertificateType,
    /// DER of the certificate.
    pub der: Vec<u8>,
}

/// Filters of [`AuthSession::query_certificates`] (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateFilter {
    /// Exactly this serial number.
    pub serial_number: Option<String>,
    /// Names containing this text.
    pub name: Option<String>,
    /// Only this type.
    pub kind: Option<KsefCertificateType>,
    /// Only this status.
    pub status: Option<CertificateListItemStatus>,
    /// Only certificates that expire after this instant.
    pub expires_after: Option<DateTime<Utc>>,
    /// Page size (10–50; KSeF's default 10 when `None`).
    pub page_size: Option<u32>,
}

impl CertificateFilter {
    /// No filter.
    pub fn new() -> Self {
        Self::default()
    }
    /// Exactly this serial number.
    #[must_use]
    pub fn serial_number(mut self, serial: impl Into<String>) -> Self {
        self.serial_number = Some(serial.into());
        self
    }
    /// Names containing `text`.
    #[must_use]
    pub fn name(mut self, text: impl Into<String>) -> Self {
        self.name = Some(text.into());
        self
    }
    /// Only `kind`.
    #[must_use]
    pub fn kind(mut self, kind: KsefCertificateType) -> Self {
        self.kind = Some(kind);
        self
    }
    /// Only `status`.
    #[must_use]
    pub fn status(mut self, status: CertificateListItemStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only certificates expiring after `instant`.
    #[must_use]
    pub fn expires_after(mut self, instant: DateTime<Utc>) -> Self {
        self.expires_after = Some(instant);
        self
    }
    /// Page size (10–50).
    #[must_use]
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = Some(n);
        self
    }
}

/// One page of [`AuthSession::query_certificates`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CertificatePage {
    /// The certificates of this page, newest request first.
    pub items: Vec<CertificateListItem>,
    /// Whether the next page (`page_offset + 1`) has more.
    pub has_more: bool,
}

fn certificate_error(e: crate::auth::CallError) -> FlowError {
    e.into_flow(|source| FlowError::Certificate { source })
}

/// Checks a certificate serial number (16 uppercase hex digits) before it is sent.
pub(crate) fn serial(s: &str) -> Result<String> {
    let s = s.trim();
    ksef_crypto::ids::CertificateSerial::parse(s)
        .map(|c| c.to_string())
        .map_err(|e| FlowError::InvalidArgument {
            field: "certificate serial number",
            rule: e.to_string(),
        })
}

fn check_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | ' ')
            || "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ".contains(c)
    };
    if !(5..=100).contains(&len) || !name.chars().all(allowed) {
        return Err(FlowError::InvalidArgument {
            field: "certificate name",
            rule: "5-100 characters: letters (Polish ones too), digits, '_', '-', space".into(),
        });
    }
    Ok(())
}

/// The enrollment data as the CSR subject.
pub fn enrollment_subject(data: &types::CertificateEnrollmentDataResponse) -> EnrollmentSubject {
    EnrollmentSubject {
        common_name: data.common_name.clone(),
        country_name: data.country_name.clone(),
        given_name: data.given_name.clone(),
        surname: data.surname.clone(),
        serial_number: data.serial_number.clone(),
        unique_identifier: data.unique_identifier.clone(),
        organization_name: data.organization_name.clone(),
        organization_identifier: data.organization_identifier.clone(),
    }
}

impl AuthSession {
    /// The subject's certificate limits and whether it may enroll now
    /// (`GET /certificates/limits`).
    pub async fn certificate_limits(&self) -> Result<CertificateLimitsResponse> {
        Ok(self
            .call(op::GET_CERTIFICATES_LIMITS, Idempotency::Safe, |api| {
                api.get_certificates_limits().send()
            })
            .await
            .map_err(certificate_error)?
            .into_inner())
    }

    /// The DN attributes a CSR must carry, read by KSeF from the authenticating certificate
    /// (`GET /certificates/enrollments/data`; 25001 after a KSeF-token authentication).
    pub async fn certificate_enrollment_data(&self) -> Result<EnrollmentSubject> {
        let data = self
            .call(
                op::GET_CERTIFICATES_ENROLLMENTS_DATA,
                Idempotency::Safe,
                |api| api.get_certificates_enrollments_data().send(),
            )
            .await
            .map_err(certificate_error)?
            .into_inner();
        Ok(enrollment_subject(&data))
    }

    /// Submits an enrollment of a ready CSR (DER) and returns its reference number
    /// (`POST /certificates/enrollments`); see [`enroll_certificate`](Self::enroll_certificate)
    /// for the whole workflow.
    pub async fn submit_certificate_enrollment(
        &self,
        name: &str,
        kind: KsefCertificateType,
        csr_der: &[u8],
        valid_from: Option<DateTime<Utc>>,
    ) -> Result<String> {
        check_name(name)?;
        let body = types::EnrollCertificateRequest {
            certificate_name: name.to_string(),
            certificate_type: kind,
            csr: ksef_crypto::b64::encode(csr_der),
            valid_from,
        };
        let body = &body;
        let r = self
            .call(
                op::POST_CERTIFICATES_ENROLLMENTS,
                Idempotency::Unsafe,
                |api| {
                    api.post_certificates_enrollments()
                        .body(body.clone())
                        .send()
                },
            )
            .await
            .map_err(certificate_error)?
            .into_inner();
        let reference = r.reference_number.0;
        tracing::info!(reference_number = %reference, certificate_name = %name, "certificate enrollment submitted");
        Ok(reference)
    }

    /// The status of an enrollment (`GET /certificates/enrollments/{ref}`).
    pub async fn certificate_enrollment_status(
        &self,
        reference_number: &str,
    ) -> Result<types::CertificateEnrollmentStatusResponse> {
        let r = crate::arguments::reference(reference_number)?;
        Ok(self
            .call(
                op::GET_CERTIFICATES_ENROLLMENTS_BY_REFERENCE_NUMBER,
                Idempotency::Safe,
                |api| {
                    api.get_certificates_enrollments_by_reference_number()
                        .reference_number(r.clone())
                        .send()
                },
            )
            .await
            .map_err(certificate_error)?
            .into_inner())
    }

    /// Waits until an enrollment leaves status 100; returns the serial number of the issued
    /// certificate, or [`FlowError::CertificateEnrollment`] with KSeF's status when it was
    /// refused, [`FlowError::Timeout`] when it takes longer than the poll timeout.
    pub async fn wait_for_certificate_enrollment(&self, reference_number: &str) -> Result<String> {
        let r = crate::arguments::reference(reference_number)?;
        let mut polling = Polling::start(self.ksef().poll_schedule());
        loop {
            let answer = self
                .call(
                    op::GET_CERTIFICATES_ENROLLMENTS_BY_REFERENCE_NUMBER,
                    Idempotency::Safe,
                    |api| {
                        api.get_certificates_enrollments_by_reference_number()
                            .reference_number(r.clone())
                            .send()
                    },
                )
                .await
                .map_err(certificate_error)?;
            let retry_after = answer.retry_after();
            let status = answer.into_inner();
            match status.status.code {
                100 => {}
                200 => {
                    return status.certificate_serial_number.ok_or_else(|| {
                        FlowError::CertificateEnrollment {
                            reference_number: r.clone(),
                            code: 200,
                            description: "issued without a certificateSerialNumber".into(),
                            details: Vec::new(),
                        }
                    });
                }
                code => {
                    return Err(FlowError::CertificateEnrollment {
                        reference_number: r,
                        code,
                        description: status.status.description,
                        details: status.status.details.unwrap_or_default(),
                    });
                }
            }
            if !polling.pause(retry_after).await {
                return Err(FlowError::Timeout("the certificate enrollment"));
            }
        }
    }

    /// The first half of [`enroll_certificate`](Self::enroll_certificate): reads the
    /// enrollment data (`GET /certificates/enrollments/data`), makes a key of `algorithm` (on a
    /// blocking thread: RSA key generation takes a while) and a PKCS#10 request for exactly that
    /// subject, signed by the key. Nothing is submitted; hand the DER to
    /// [`enroll_csr`](Self::enroll_csr), and store the key safely.
    pub async fn certificate_request(&self, algorithm: KeyAlgorithm) -> Result<CertificateRequest> {
        let subject = self.certificate_enrollment_data().await?;
        let for_csr = subject.clone();
        let (csr_der, key) = tokio::task::spawn_blocking(move || {
            let key = PrivateKey::generate(algorithm)?;
            let csr = build_csr(&for_csr, &key)?;
            Ok::<_, ksef_crypto::CryptoError>((csr, key))
        })
        .await
        .map_err(|e| FlowError::InvalidArgument {
            field: "key generation",
            rule: e.to_string(),
        })?
        .map_err(|source| FlowError::Crypto {
            step: "building the certificate request",
            source,
        })?;
        Ok(CertificateRequest {
            subject,
            key,
            csr_der,
        })
    }

    /// The second half of [`enroll_certificate`](Self::enroll_certificate): submits the
    /// PKCS#10 request `csr_der` (DER) for a certificate `name` of `kind`
    /// ([`submit_certificate_enrollment`](Self::submit_certificate_enrollment)), waits until it
    /// is issued ([`wait_for_certificate_enrollment`](Self::wait_for_certificate_enrollment)) and
    /// retrieves it. A certificate that is issued but not returned by `/certificates/retrieve` is
    /// [`FlowError::CertificateEnrollment`] (code 200).
    pub async fn enroll_csr(
        &self,
        name: &str,
        kind: KsefCertificateType,
        csr_der: &[u8],
        valid_from: Option<DateTime<Utc>>,
    ) -> Result<IssuedCertificate> {
        let reference = self
            .submit_certificate_enrollment(name, kind, csr_der, valid_from)
            .await?;
        let serial_number = self.wait_for_certificate_enrollment(&reference).await?;
        let certificate = self
            .retrieve_certificates(std::slice::from_ref(&serial_number))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| FlowError::CertificateEnrollment {
                reference_number: reference.clone(),
                code: 200,
                description: format!("certificate {serial_number} could not be retrieved"),
                details: Vec::new(),
            })?;
        tracing::info!(reference_number = %reference, serial_number = %serial_number, "certificate enrolled");
        Ok(IssuedCertificate {
            reference_number: reference,
            serial_number,
            certificate,
        })
    }

    /// The whole enrollment: reads the enrollment data, makes a key of `request.algorithm` and
    /// a CSR for exactly that subject ([`certificate_request`](Self::certificate_request)),
    /// submits it, waits for the certificate and retrieves it ([`enroll_csr`](Self::enroll_csr)).
    /// The returned identity holds the new private key; store it safely.
    pub async fn enroll_certificate(
        &self,
        request: &EnrollmentRequest,
    ) -> Result<EnrolledCertificate> {
        check_name(&request.name)?;
        let CertificateRequest { key, csr_der, .. } =
            self.certificate_request(request.algorithm).await?;
        let issued = self
            .enroll_csr(
                &request.name,
                request.kind.clone(),
                &csr_der,
                request.valid_from,
            )
            .await?;
        let identity = SigningIdentity::new(&issued.certificate.der, key).map_err(|source| {
            FlowError::Crypto {
                step: "reading the issued certificate",
                source,
            }
        })?;
        Ok(EnrolledCertificate {
            reference_number: issued.reference_number,
            serial_number: issued.serial_number,
            name: issued.certificate.name,
            kind: issued.certificate.kind,
            identity,
        })
    }

    /// Certificates by serial number (`POST /certificates/retrieve`, at most
    /// [`MAX_RETRIEVE`] a call); unknown ones are left out.
    pub async fn retrieve_certificates(
        &self,
        serial_numbers: &[String],
    ) -> Result<Vec<RetrievedCertificate>> {
        if serial_numbers.is_empty() || serial_numbers.len() > MAX_RETRIEVE {
            return Err(FlowError::InvalidArgument {
                field: "certificate serial numbers",
                rule: format!("1 to {MAX_RETRIEVE} in one call"),
            });
        }
        let serials = serial_numbers
            .iter()
            .map(|s| serial(s))
            .collect::<Result<Vec<_>>>()?;
        let body = types::RetrieveCertificatesRequest {
            certificate_serial_numbers: serials,
        };
        let body = &body;
        let r = self
            .call(op::POST_CERTIFICATES_RETRIEVE, Idempotency::Safe, |api| {
                api.post_certificates_retrieve().body(body.clone()).send()
            })
            .await
            .map_err(certificate_error)?
            .into_inner();
        r.certificates
            .into_iter()
            .map(|c| {
                let der =
                    ksef_crypto::b64::decode("certificate", &c.certificate).map_err(|source| {
                        FlowError::Crypto {
                            step: "decoding a retrieved certificate",
                            source,
                        }
                    })?;
                Ok(RetrievedCertificate {
                    serial_number: c.certificate_serial_number,
                    name: c.certificate_name,
                    kind: c.certificate_type,
                    der,
                })
            })
            .collect()
    }

    /// One page (`page_offset`, from 0) of the subject's certificates matching `filter`
    /// (`POST /certificates/query`), newest request first.
    pub async fn query_certificates(
        &self,
        filter: &CertificateFilter,
        page_offset: u32,
    ) -> Result<CertificatePage> {
        let page_size = check_page_size("page size", filter.page_size, 10, 50)?;
        let serial_number = filter.serial_number.as_deref().map(serial).transpose()?;
        let body = types::QueryCertificatesRequest {
            certificate_serial_number: serial_number,
            expires_after: filter.expires_after,
            name: filter.name.clone(),
            status: filter.status.clone(),
            type_: filter.kind.clone(),
        };
        let body = &body;
        let offset = i32::try_from(page_offset).map_err(|_| FlowError::InvalidArgument {
            field: "page offset",
            rule: "too large".into(),
        })?;
        let r = self
            .call(op::POST_CERTIFICATES_QUERY, Idempotency::Safe, |api| {
                let mut b = api
                    .post_certificates_query()
                    .page_offset(offset)
                    .body(body.clone());
                if let Some(n) = page_size {
                    b = b.page_size(n);
                }
                b.send()
            })
            .await
            .map_err(certificate_error)?
            .into_inner();
        Ok(CertificatePage {
            items: r.certificates,
            has_more: r.has_more,
        })
    }

    /// Every certificate matching `filter`, page after page (at most 1 000 pages).
    pub async fn query_all_certificates(
        &self,
        filter: &CertificateFilter,
    ) -> Result<Vec<CertificateListItem>> {
        let mut all = Vec::new();
        for offset in 0..1000u32 {
            let page = self.query_certificates(filter, offset).await?;
            let empty = page.items.is_empty();
            all.extend(page.items);
            if !page.has_more || empty {
                return Ok(all);
            }
        }
        Err(FlowError::EndlessPaging {
            operation: op::POST_CERTIFICATES_QUERY.name,
            pages: 1000,
            reason: "more than 1000 pages of certificates",
        })
    }

    /// Revokes a certificate (`POST /certificates/{serial}/revoke`); it can no longer
    /// authenticate nor sign KOD II links. Not available after a KSeF-token authentication.
    pub async fn revoke_certificate(
        &self,
        serial_number: &str,
        reason: Option<CertificateRevocationReason>,
    ) -> Result<()> {
        let s = serial(serial_number)?;
        let body = types::RevokeCertificateRequest {
            revocation_reason: reason,
        };
        let body = &body;
        self.call(
            op::POST_CERTIFICATES_BY_CERTIFICATE_SERIAL_NUMBER_REVOKE,
            Idempotency::Safe,
            |api| {
                api.post_certificates_by_certificate_serial_number_revoke()
                    .certificate_serial_number(s.clone())
                    .body(body.clone())
                    .send()
            },
        )
        .await
        .map_err(certificate_error)?;
        tracing::info!(serial_number = %s, "certificate revoked");
        Ok(())
    }
}
