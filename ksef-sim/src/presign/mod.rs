//! Presigned URLs: HMAC-signed, expiring URLs served by the simulator itself without
//! `Authorization` (like the blob-storage URLs of the real system).
//!
//! Routes for presigned URLs live under `/__presigned/` (relative to `/v2`), one kind per
//! [`PresignedRoute`]; they are not rate limited. Issue a URL with
//! [`signer::Presigner::url`], accept it with the [`extractor::Presigned`] extractor as a
//! handler's first argument.

pub(crate) mod extractor;
pub(crate) mod signer;

/// Path prefix (below `/v2`) of presigned routes.
pub const PRESIGNED_PREFIX: &str = "/__presigned/";

/// The kinds of presigned URL the simulator issues. Each is also a fault-injection key
/// ([`crate::FaultKey`]) for the requests to such URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresignedRoute {
    /// `PUT` of one batch part (issued by `POST /sessions/batch`).
    BatchPart,
    /// `GET` of one page of a session UPO.
    SessionUpo,
    /// `GET` of one invoice's UPO.
    InvoiceUpo,
    /// `GET` of one encrypted export part.
    ExportPart,
}

impl PresignedRoute {
    const ALL: [Self; 4] = [
        Self::BatchPart,
        Self::SessionUpo,
        Self::InvoiceUpo,
        Self::ExportPart,
    ];

    /// The HTTP method of such URLs.
    pub fn method(self) -> &'static str {
        match self {
            Self::BatchPart => "PUT",
            Self::SessionUpo | Self::InvoiceUpo | Self::ExportPart => "GET",
        }
    }

    /// The path segment after [`PRESIGNED_PREFIX`].
    pub fn segment(self) -> &'static str {
        match self {
            Self::BatchPart => "batch-part",
            Self::SessionUpo => "upo",
            Self::InvoiceUpo => "invoice-upo",
            Self::ExportPart => "export-part",
        }
    }

    /// The route template the router serves (below `/v2`).
    pub(crate) fn template(self) -> &'static str {
        match self {
            Self::BatchPart => "/__presigned/batch-part/{referenceNumber}/{ordinal}",
            Self::SessionUpo => "/__presigned/upo/{referenceNumber}/{upoReferenceNumber}",
            Self::InvoiceUpo => {
                "/__presigned/invoice-upo/{referenceNumber}/{invoiceReferenceNumber}"
            }
            Self::ExportPart => "/__presigned/export-part/{referenceNumber}/{ordinal}",
        }
    }

    /// The path (below `/v2`) of one URL: the segment followed by `params`.
    pub(crate) fn path(self, params: &[&str]) -> String {
        let mut p = format!("{PRESIGNED_PREFIX}{}", self.segment());
        for param in params {
            p.push('/');
            p.push_str(param);
        }
        p
    }

    /// The route of a path below `/v2`, when it is a presigned one.
    pub(crate) fn of_path(path: &str) -> Option<Self> {
        let segment = path.strip_prefix(PRESIGNED_PREFIX)?.split('/').next()?;
        Self::ALL.into_iter().find(|r| r.segment() == segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_templates_and_segments_agree() {
        for r in PresignedRoute::ALL {
            let path = r.path(&["a", "b"]);
            assert_eq!(PresignedRoute::of_path(&path), Some(r));
            let template_params = r.template().matches('{').count();
            assert_eq!(template_params, 2, "{r:?}");
            assert!(r.template().starts_with(&r.path(&[])));
        }
        assert_eq!(PresignedRoute::of_path("/__presigned/nope/x"), None);
        assert_eq!(PresignedRoute::of_path("/sessions"), None);
    }
}
