//! KSeF verification QR codes: KOD I (invoice) and KOD II (offline certificate) links,
//! the KOD II signature, and rendering to PNG and SVG with the label under the code.

mod font;

use chrono::NaiveDate;
use qrcode::{Color, EcLevel, QrCode};

use crate::b64;
use crate::error::{CryptoError, Result};
use crate::identity::{PrivateKey, SigningIdentity};
use crate::ids::{CertificateSerial, Nip};
use crate::xades::ContextIdentifier;

/// Label under a KOD II code.
pub const LABEL_CERTIFICATE: &str = "CERTYFIKAT";
/// Label under a KOD I code of an invoice that has no KSeF number yet.
pub const LABEL_OFFLINE: &str = "OFFLINE";

/// QR verification host of an environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QrEnvironment {
    /// `qr-test.ksef.mf.gov.pl`
    Test,
    /// `qr-demo.ksef.mf.gov.pl`
    Demo,
    /// `qr.ksef.mf.gov.pl`
    Production,
    /// Another host (e.g. a local simulator), without scheme.
    Custom(String),
}

impl QrEnvironment {
    /// Host name.
    pub fn host(&self) -> &str {
        match self {
            Self::Test => "qr-test.ksef.mf.gov.pl",
            Self::Demo => "qr-demo.ksef.mf.gov.pl",
            Self::Production => "qr.ksef.mf.gov.pl",
            Self::Custom(h) => h,
        }
    }
}

/// KOD I: `https://{host}/invoice/{sellerNIP}/{DD-MM-YYYY}/{base64url(SHA-256(invoice))}`.
///
/// `issue_date` is the invoice's `P_1`; `invoice_sha256` the hash of the exact invoice bytes.
pub fn kod1_url(
    env: &QrEnvironment,
    seller_nip: &Nip,
    issue_date: NaiveDate,
    invoice_sha256: &[u8; 32],
) -> String {
    format!(
        "https://{}/invoice/{}/{}/{}",
        env.host(),
        seller_nip,
        issue_date.format("%d-%m-%Y"),
        b64::encode_url(invoice_sha256)
    )
}

/// KOD I from pre-flight facts (seller NIP, `P_1`, hash of the exact bytes).
pub fn kod1_url_for_invoice(
    env: &QrEnvironment,
    facts: &crate::invoice::InvoiceFacts,
) -> Result<String> {
    let nip = facts
        .seller_nip
        .as_deref()
        .ok_or_else(|| CryptoError::QrUrl("invoice has no seller NIP".into()))
        .and_then(Nip::parse_pattern_only)?;
    let date = facts
        .issue_date
        .ok_or_else(|| CryptoError::QrUrl("invoice has no issue date (P_1)".into()))?;
    Ok(kod1_url(env, &nip, date, &facts.sha256))
}

/// ECDSA signature encoding in KOD II.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum EcdsaEncoding {
    /// IEEE P1363 r||s, 64 bytes (recommended).
    #[default]
    RawRs,
    /// ASN.1 DER.
    Der,
}

/// The part of a KOD II link that is signed: the URL without `https://`, up to and including the
/// invoice hash, without a trailing `/`.
pub fn kod2_signed_part(
    env: &QrEnvironment,
    context: &ContextIdentifier,
    seller_nip: &Nip,
    certificate_serial: &CertificateSerial,
    invoice_sha256: &[u8; 32],
) -> String {
    format!(
        "{}/certificate/{}/{}/{}/{}/{}",
        env.host(),
        context.type_name(),
        context.value(),
        seller_nip,
        certificate_serial,
        b64::encode_url(invoice_sha256)
    )
}

/// KOD II link: the signed part, signed with the offline certificate's key (RSA-PSS SHA-256 salt
/// 32, or ECDSA P-256 SHA-256 in `ecdsa` encoding), signature appended as base64url.
pub fn kod2_url(
    env: &QrEnvironment,
    context: &ContextIdentifier,
    seller_nip: &Nip,
    certificate_serial: &CertificateSerial,
    invoice_sha256: &[u8; 32],
    key: &PrivateKey,
    ecdsa: EcdsaEncoding,
) -> Result<String> {
    let signed = kod2_signed_part(env, context, seller_nip, certificate_serial, invoice_sha256);
    let sig = kod2_sign(key, signed.as_bytes(), ecdsa)?;
    Ok(format!("https://{signed}/{}", b64::encode_url(sig)))
}

/// KOD II link signed by an identity; the certificate serial is taken from the identity's
/// certificate (it must be a 16-hex-digit KSeF serial).
pub fn kod2_url_for_identity(
    env: &QrEnvironment,
    context: &ContextIdentifier,
    seller_nip: &Nip,
    invoice_sha256: &[u8; 32],
    identity: &SigningIdentity,
    ecdsa: EcdsaEncoding,
) -> Result<String> {
    let serial = CertificateSerial::parse(&identity.serial_hex())?;
    kod2_url(
        env,
        context,
        seller_nip,
        &serial,
        invoice_sha256,
        identity.private_key(),
        ecdsa,
    )
}

/// Sign the KOD II bytes.
pub fn kod2_sign(key: &PrivateKey, signed_part: &[u8], ecdsa: EcdsaEncoding) -> Result<Vec<u8>> {
    match key {
        PrivateKey::Rsa(_) => key.sign_pss(signed_part),
        PrivateKey::P256(_) => key.sign_ecdsa(signed_part, ecdsa == EcdsaEncoding::Der),
    }
}

fn code(data: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| CryptoError::QrRender(e.to_string()))
}

const QUIET: usize = 4;
/// Longest label accepted by the renderers (a KSeF number has 35–36 characters).
pub const MAX_LABEL: usize = 64;

/// Render `data` as a PNG (8-bit grayscale) with `label` under the code. `module_px` is the size of
/// one module in pixels (clamped to 1–64; 4–8 is typical for print). Labels are limited to
/// [`MAX_LABEL`] characters.
pub fn render_png(data: &str, label: &str, module_px: u32) -> Result<Vec<u8>> {
    if label.chars().count() > MAX_LABEL {
        return Err(CryptoError::QrRender(format!(
            "label longer than {MAX_LABEL} characters"
        )));
    }
    let qr = code(data)?;
    let m = module_px.clamp(1, 64) as usize;
    let w = qr.width();
    let colors = qr.to_colors();
    let side = (w + 2 * QUIET) * m;
    let glyph_scale = (m / 2).max(1);
    let label = font::sanitize(label);
    let text_w = font::text_width(&label) * glyph_scale;
    let width = side.max(text_w + 2 * QUIET * m);
    let text_h = font::HEIGHT * glyph_scale;
    let label_h = if label.is_empty() { 0 } else { text_h + 2 * m };
    let height = side + label_h;
    let mut img = vec![255u8; width * height];
    let x0 = (width - side) / 2;
    for y in 0..w {
        for x in 0..w {
            if colors[y * w + x] == Color::Dark {
                for dy in 0..m {
                    let row = (QUIET + y) * m + dy;
                    let start = row * width + x0 + (QUIET + x) * m;
                    img[start..start + m].fill(0);
                }
            }
        }
    }
    if !label.is_empty() {
        let tx = (width - text_w) / 2;
        let ty = side + m / 2;
        font::draw(&mut img, width, tx, ty, &label, glyph_scale);
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width as u32, height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut wr = enc
            .write_header()
            .map_err(|e| CryptoError::QrRender(e.to_string()))?;
        wr.write_image_data(&img)
            .map_err(|e| CryptoError::QrRender(e.to_string()))?;
        wr.finish()
            .map_err(|e| CryptoError::QrRender(e.to_string()))?;
    }
    Ok(out)
}

/// Render `data` as an SVG with `label` as text under the code (module = 1 user unit).
pub fn render_svg(data: &str, label: &str) -> Result<String> {
    if label.chars().count() > MAX_LABEL {
        return Err(CryptoError::QrRender(format!(
            "label longer than {MAX_LABEL} characters"
        )));
    }
    let qr = code(data)?;
    let w = qr.width();
    let colors = qr.to_colors();
    let side = w + 2 * QUIET;
    let label_h = if label.is_empty() { 0 } else { 6 };
    let mut path = String::new();
    for y in 0..w {
        for x in 0..w {
            if colors[y * w + x] == Color::Dark {
                path.push_str(&format!("M{} {}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 {side} {}\" width=\"{}\" height=\"{}\" shape-rendering=\"crispEdges\">\
<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/>",
        side + label_h,
        side * 4,
        (side + label_h) * 4
    );
    if !label.is_empty() {
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"3\" text-anchor=\"middle\" fill=\"#000\">{}</text>",
            side as f32 / 2.0,
            side + 3,
            crate::xades::c14n::escape_text(label).replace('"', "&quot;")
        ));
    }
    s.push_str("</svg>");
    Ok(s)
}

/// The module matrix of the QR code for `data` (true = dark), for tests and custom renderers.
pub fn modules(data: &str) -> Result<(usize, Vec<bool>)> {
    let qr = code(data)?;
    Ok((
        qr.width(),
        qr.to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    ))
}
