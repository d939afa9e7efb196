//! `/testdata/subject`, `/testdata/subject/remove`, `/testdata/person`,
//! `/testdata/person/remove`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::store::{Person, Subject, Subunit};
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::state::AppState;
use crate::validate;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubunitReq {
    subject_nip: String,
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubjectCreateRequest {
    subject_nip: String,
    subject_type: String,
    description: String,
    #[serde(default)]
    subunits: Option<Vec<SubunitReq>>,
}

pub(crate) async fn add_subject(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SubjectCreateRequest>,
) -> Result<StatusCode, ApiError> {
    validate::nip("subjectNip", &req.subject_nip)?;
    validate::description(&req.description)?;
    if !["EnforcementAuthority", "VatGroup", "JST"].contains(&req.subject_type.as_str()) {
        return Err(ApiError::validation(format!(
            "Unknown subjectType '{}'.",
            req.subject_type
        )));
    }
    let mut subunits = Vec::new();
    for s in req.subunits.unwrap_or_default() {
        validate::nip("subunits.subjectNip", &s.subject_nip)?;
        validate::description(&s.description)?;
        if s.subject_nip == req.subject_nip {
            return Err(ApiError::validation(
                "subunits.subjectNip must differ from subjectNip.",
            ));
        }
        subunits.push(Subunit {
            nip: s.subject_nip,
            description: s.description,
        });
    }
    state.testdata.add_subject(
        &req.subject_nip,
        Subject {
            subject_type: req.subject_type,
            subunits,
            created: state.now(),
        },
    );
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubjectRemoveRequest {
    subject_nip: String,
}

pub(crate) async fn remove_subject(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<SubjectRemoveRequest>,
) -> Result<StatusCode, ApiError> {
    validate::nip("subjectNip", &req.subject_nip)?;
    state.testdata.remove_subject(&req.subject_nip);
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PersonCreateRequest {
    nip: String,
    pesel: String,
    is_bailiff: bool,
    description: String,
    #[serde(default)]
    is_deceased: bool,
}

pub(crate) async fn add_person(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<PersonCreateRequest>,
) -> Result<StatusCode, ApiError> {
    validate::nip("nip", &req.nip)?;
    validate::pesel("pesel", &req.pesel)?;
    validate::description(&req.description)?;
    state.testdata.add_person(
        &req.nip,
        Person {
            pesel: req.pesel,
            is_bailiff: req.is_bailiff,
            is_deceased: req.is_deceased,
            created: state.now(),
        },
    );
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NipRequest {
    pub(crate) nip: String,
}

pub(crate) async fn remove_person(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NipRequest>,
) -> Result<StatusCode, ApiError> {
    validate::nip("nip", &req.nip)?;
    state.testdata.remove_person(&req.nip);
    Ok(StatusCode::OK)
}
