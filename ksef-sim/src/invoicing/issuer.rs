//! Whose invoices a context may issue: its own (the seller, `Podmiot1`, is the context's NIP —
//! for a subunit or an EU-entity context the NIP it belongs to), or the seller's when the seller
//! authorized the context's entity (`SelfInvoicing`, `TaxRepresentative`, `RRInvoicing` for
//! FA_RR, `PefInvoicing` for PEF), or as the invoice's authorized subject (`PodmiotUpowazniony`)
//! when the context is an enforcement authority or a court bailiff.

use chrono::{DateTime, Utc};

use super::form::FormKind;
use super::rules::InvoiceFacts;
use crate::auth::context::nip_of_context;
use crate::permissions::store::GrantKind;
use crate::state::AppState;

/// `Ok` when the context `context_key` may issue this invoice; otherwise the refusal's detail.
pub(crate) fn may_issue(
    state: &AppState,
    context_key: &str,
    form: FormKind,
    facts: &InvoiceFacts,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let (context_type, context_value) = context_key.split_once(':').unwrap_or(("", context_key));
    let seller = facts.seller_nip.as_str();
    let context_nip = nip_of_context(context_type, context_value);
    if context_nip.as_deref() == Some(seller) {
        return Ok(());
    }
    let scopes: &[&str] = match form {
        FormKind::Fa2 | FormKind::Fa3 => &["SelfInvoicing", "TaxRepresentative"],
        FormKind::FaRr1 => &["RRInvoicing"],
        FormKind::Pef3 | FormKind::PefKor3 => &["PefInvoicing"],
    };
    let authorized = state.permissions.any(now, |g| {
        g.kind == GrantKind::Authorization
            && g.context.kind == "Nip"
            && g.context.value == seller
            && scopes.contains(&g.scope.as_str())
            && ((g.authorized.kind == "Nip" && context_nip.as_deref() == Some(&g.authorized.value))
                || (g.authorized.kind == context_type && g.authorized.value == context_value))
    });
    if authorized {
        return Ok(());
    }
    if let (Some(nip), Some((authorized_nip, _, role))) = (&context_nip, &facts.authorized)
        && authorized_nip == nip
        && matches!(role, 1 | 2)
        && state.testdata.is_enforcement_body(nip)
    {
        return Ok(());
    }
    Err(format!(
        "Brak uprawnień do wystawienia faktury: sprzedawca (Podmiot1) o NIP {seller} nie jest podmiotem \
         kontekstu {context_key} i nie upoważnił go do wystawiania faktur w swoim imieniu."
    ))
}
