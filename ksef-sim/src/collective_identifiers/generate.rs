//! `POST /collective-identifiers`: a collective identifier for at least two invoices of one
//! seller that the context has a role on.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::{CollectiveIdentifier, MAX_IDENTIFIERS_PER_INVOICE, Member, Payment};
use crate::auth::context::AuthContext;
use crate::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::identifiers::{collective_identifier_number, is_ksef_number};
use crate::state::AppState;

/// Longest `description` of one invoice.
const MAX_DESCRIPTION_CHARS: usize = 512;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GenerateRequest {
    invoices: Vec<InvoiceWire>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvoiceWire {
    ksef_number: String,
    #[serde(default)]
    payment: Option<PaymentWire>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentWire {
    amount: f64,
    currency: String,
}

fn error(code: i64, description: &str, detail: String) -> ApiError {
    ApiError::bad_request(code, description, [detail])
}

/// The members of the request, checked for shape (21405) and repetitions (71005).
fn members(req: GenerateRequest, max_invoices: u32) -> Result<Vec<Member>, ApiError> {
    if req.invoices.len() < 2 {
        return Err(ApiError::validation(
            "invoices must list at least 2 invoices.",
        ));
    }
    if req.invoices.len() > usize::try_from(max_invoices).unwrap_or(usize::MAX) {
        return Err(ApiError::validation(format!(
            "invoices must not list more than {max_invoices} invoices (the context's limit)."
        )));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(req.invoices.len());
    for inv in req.invoices {
        if !is_ksef_number(&inv.ksef_number) {
            return Err(ApiError::validation(format!(
                "invoices.ksefNumber '{}' is not a KSeF number.",
                inv.ksef_number
            )));
        }
        if !seen.insert(inv.ksef_number.clone()) {
            return Err(error(
                71005,
                "Powtórzony numer KSeF w żądaniu.",
                format!("Powtórzony numer KSeF {}.", inv.ksef_number),
            ));
        }
        if let Some(d) = &inv.description
            && d.chars().count() > MAX_DESCRIPTION_CHARS
        {
            return Err(ApiError::validation(format!(
                "invoices.description must not be longer than {MAX_DESCRIPTION_CHARS} characters."
            )));
        }
        let payment = match inv.payment {
            None => None,
            Some(p) => {
                if !p.amount.is_finite() {
                    return Err(ApiError::validation(
                        "invoices.payment.amount must be a number.",
                    ));
                }
                if p.currency.len() != 3 || !p.currency.bytes().all(|c| c.is_ascii_uppercase()) {
                    return Err(ApiError::validation(format!(
                        "invoices.payment.currency '{}' is not a currency code.",
                        p.currency
                    )));
                }
                Some(Payment {
                    amount: p.amount,
                    currency: p.currency,
                })
            }
        };
        out.push(Member {
            ksef_number: inv.ksef_number,
            payment,
            description: inv.description,
        });
    }
    Ok(out)
}

/// The seller of every member: each must be an invoice the context's taxpayer has a role on
/// (71001 otherwise), all of one seller (71004).
fn common_seller(
    state: &AppState,
    ctx: &AuthContext,
    members: &[Member],
) -> Result<String, ApiError> {
    let now = state.now();
    let sellers: Vec<Option<String>> = state.invoicing.with(|s| {
        members
            .iter()
            .map(|m| {
                s.invoices.get(&m.ksef_number).and_then(|i| {
                    let visible =
                        now >= i.ready_at && ctx.nip.as_deref().is_some_and(|n| i.has_role(n));
                    visible.then(|| i.facts.seller_nip.clone())
                })
            })
            .collect()
    });
    let mut first: Option<String> = None;
    for (m, seller) in members.iter().zip(sellers) {
        let Some(seller) = seller else {
            return Err(error(
                71001,
                "Faktura o podanym identyfikatorze nie istnieje.",
                format!(
                    "Faktura o numerze KSeF {} nie została znaleziona.",
                    m.ksef_number
                ),
            ));
        };
        match &first {
            None => first = Some(seller),
            Some(f) if *f != seller => {
                return Err(error(
                    71004,
                    "Faktury mają różnych sprzedawców.",
                    format!(
                        "Faktura o numerze KSeF {} ma innego sprzedawcę.",
                        m.ksef_number
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    first.ok_or_else(|| ApiError::validation("invoices must list at least 2 invoices."))
}

/// 71002 when an invoice already belongs to the most identifiers one context may give it.
fn check_room(
    existing: &[CollectiveIdentifier],
    new: &CollectiveIdentifier,
) -> Result<(), ApiError> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for c in existing.iter().filter(|c| c.context_key == new.context_key) {
        for m in &c.members {
            *counts.entry(m.ksef_number.as_str()).or_default() += 1;
        }
    }
    match new.members.iter().find(|m| {
        counts.get(m.ksef_number.as_str()).copied().unwrap_or(0) >= MAX_IDENTIFIERS_PER_INVOICE
    }) {
        Some(m) => Err(error(
            71002,
            "Faktura jest już przypisana do maksymalnej liczby Identyfikatorów Zbiorczych.",
            format!(
                "Faktura o numerze KSeF {} jest już przypisana do maksymalnej liczby Identyfikatorów Zbiorczych.",
                m.ksef_number
            ),
        )),
        None => Ok(()),
    }
}

pub(crate) async fn generate(
    State(state): State<AppState>,
    ctx: AuthContext,
    JsonBody(req): JsonBody<GenerateRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let limits = state.limits.context(&ctx.context_key());
    let members = members(req, limits.collective_identifier.max_invoices)?;
    let seller_nip = common_seller(&state, &ctx, &members)?;
    let now = state.now();
    let id = CollectiveIdentifier {
        number: collective_identifier_number(&seller_nip, now),
        context_key: ctx.context_key(),
        seller_nip,
        created: now,
        members,
    };
    let number = id.number.clone();
    state
        .collective_identifiers
        .insert_checked(id, check_room)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "collectiveIdentifierNumber": number })),
    ))
}
