//! Answers with a body: JSON with a status, XML with its `x-ms-meta-hash`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// A JSON response with `status`.
pub(crate) fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut resp = (status, Body::from(value.to_string())).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An XML response with the `x-ms-meta-hash` header (Base64 SHA-256 of the body).
pub(crate) fn xml_with_hash(body: Vec<u8>) -> Response {
    let hash = STANDARD.encode(Sha256::digest(&body));
    let mut resp = (StatusCode::OK, Body::from(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    if let Ok(v) = HeaderValue::from_str(&hash) {
        resp.headers_mut().insert("x-ms-meta-hash", v);
    }
    resp
}
