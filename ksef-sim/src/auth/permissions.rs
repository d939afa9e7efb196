//! Which permissions an authenticated subject holds in a context: the owner's set, test-data
//! grants, and the extra ones of enforcement authorities.

use super::operation::Outcome;
use crate::permissions::store::Ident;
use crate::state::AppState;

/// The permissions a KSeF token can carry and test data can grant (`TokenPermissionType`,
/// `TestDataPermissionType`).
pub(crate) const PERMISSION_TYPES: &[&str] = &[
    "InvoiceRead",
    "InvoiceWrite",
    "CredentialsRead",
    "CredentialsManage",
    "SubunitManage",
    "EnforcementOperations",
    "Introspection",
    "CollectiveIdentifierManage",
];

/// The permissions of a context's owner (role `Owner`): every invoice and administrative
/// permission except `VatUeManage` — the `OwnerPermissionScope` of the API without
/// `EnforcementOperations`, which only an enforcement authority or a bailiff gets on top.
pub(crate) const OWNER_PERMISSIONS: &[&str] = &[
    "InvoiceWrite",
    "InvoiceRead",
    "CredentialsManage",
    "CredentialsRead",
    "Introspection",
    "SubunitManage",
    "CollectiveIdentifierManage",
];

/// Permissions of `subject` in a context: owner, test-data person, test-data grants. 415 when
/// none, 470 for a deceased person.
pub(crate) fn resolve_permissions(
    state: &AppState,
    context_type: &str,
    context_value: &str,
    subject_type: &str,
    subject_value: &str,
) -> Outcome {
    let ctx_nip = super::context::nip_of_context(context_type, context_value);
    if subject_type == "Pesel"
        && state
            .testdata
            .persons_with_pesel(subject_value)
            .iter()
            .any(|(_, p)| p.is_deceased)
    {
        return Outcome::fail(
            470,
            "Próba wykorzystania metod autoryzacyjnych osoby zmarłej.",
        );
    }
    let mut perms: Vec<String> = Vec::new();
    if let Some(nip) = &ctx_nip
        && matches!(context_type, "Nip" | "InternalId")
    {
        let owner = (subject_type == "Nip" && subject_value == nip)
            || (subject_type == "Pesel"
                && state
                    .testdata
                    .person(nip)
                    .is_some_and(|p| p.pesel == subject_value));
        if owner {
            perms.extend(OWNER_PERMISSIONS.iter().map(|s| s.to_string()));
            if state.testdata.is_enforcement_body(nip) {
                perms.push("EnforcementOperations".into());
            }
        }
    }
    let grant_ctx = ctx_nip.clone().unwrap_or_else(|| context_value.to_string());
    for p in state
        .testdata
        .granted(&grant_ctx, subject_type, subject_value)
    {
        if !perms.contains(&p) {
            perms.push(p);
        }
    }
    for p in state.permissions.held(
        &Ident::new(context_type, context_value),
        &Ident::new(subject_type, subject_value),
        state.now(),
    ) {
        if !perms.contains(&p) {
            perms.push(p);
        }
    }
    if perms.is_empty() {
        Outcome::fail(415, "Brak przypisanych uprawnień")
    } else {
        Outcome::ok(perms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of an enum schema of the pinned spec, sorted.
    fn spec_enum(schema: &str) -> Vec<String> {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(env!("KSEF_SIM_SPEC")).unwrap()).unwrap();
        let mut values: Vec<String> = spec["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum schema {schema}"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        values.sort_unstable();
        values
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = list.iter().map(|s| (*s).to_string()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn the_owner_set_is_the_owner_scope_of_the_pinned_api_without_enforcement() {
        let scope: Vec<String> = spec_enum("OwnerPermissionScope")
            .into_iter()
            .filter(|p| p != "EnforcementOperations")
            .collect();
        assert_eq!(sorted(OWNER_PERMISSIONS), scope);
    }

    #[test]
    fn token_and_test_data_permission_types_follow_the_pinned_api() {
        assert_eq!(sorted(PERMISSION_TYPES), spec_enum("TokenPermissionType"));
        assert_eq!(
            sorted(PERMISSION_TYPES),
            spec_enum("TestDataPermissionType")
        );
    }
}
