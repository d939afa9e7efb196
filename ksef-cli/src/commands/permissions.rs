//! `ksef permissions grant|list|revoke|status`.
//!
//! `--json` shapes:
//! * grant: `{"kind": "person"|"entity"|"authorization", "subject": {"type", "value"},
//!   "permissions": [...], "referenceNumber", "status": {"code", "description"}}`;
//! * revoke: `{"permissionId", "kind": "common"|"authorization", "referenceNumber",
//!   "status": {"code", "description"}}`;
//! * list: JSON Lines, one object per permission as the API returns it (`PersonPermission`,
//!   `EntityPermissionItem`, `EntityAuthorizationGrant`, `PersonalPermission`);
//! * status: the API's `PermissionsOperationStatusResponse` (`{"status": {"code",
//!   "description", "details"}}`).

use ksef_api::types;
use ksef_flows::permissions::PermissionOperation;
use serde_json::json;

use crate::cli::{
    AuthorizationArg, EntityPermissionArg, GrantAuthorization, GrantCmd, GrantEntity, GrantPerson,
    PermissionStateArg, PermissionsCmd, PermissionsListCmd, PersonPermissionArg,
};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    ksef_time::format_warsaw_millis(t)
}

/// `TYPE:VALUE` with TYPE one of `allowed` (case-insensitive), as (canonical type, value).
fn typed_id<'a>(flag: &str, text: &str, allowed: &[&'a str]) -> CliResult<(&'a str, String)> {
    let usage = || {
        CliError::usage(format!(
            "{flag} {text:?}: expected TYPE:VALUE with TYPE one of {}",
            allowed.join(", ")
        ))
    };
    let (kind, value) = text.split_once(':').ok_or_else(usage)?;
    let kind = allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(kind.trim()))
        .ok_or_else(usage)?;
    let value = value.trim();
    if value.is_empty() {
        return Err(usage());
    }
    Ok((kind, value.to_string()))
}

fn check_nip(flag: &str, value: &str) -> CliResult<()> {
    ksef_flows::crypto::Nip::parse(value)
        .map(|_| ())
        .map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

fn check_pesel(flag: &str, value: &str) -> CliResult<()> {
    ksef_flows::crypto::Pesel::parse(value)
        .map(|_| ())
        .map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

fn check_fingerprint(flag: &str, value: &str) -> CliResult<()> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "{flag}: a certificate fingerprint is the SHA-256 of the certificate in 64 hex digits"
        )))
    }
}

fn check_name(flag: &str, value: &str, min: usize, max: usize) -> CliResult<()> {
    let n = value.trim().chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "{flag} must have {min} to {max} characters"
        )))
    }
}

fn person_permission(p: PersonPermissionArg) -> types::PersonPermissionType {
    use types::PersonPermissionType as T;
    match p {
        PersonPermissionArg::InvoiceRead => T::InvoiceRead,
        PersonPermissionArg::InvoiceWrite => T::InvoiceWrite,
        PersonPermissionArg::CredentialsRead => T::CredentialsRead,
        PersonPermissionArg::CredentialsManage => T::CredentialsManage,
        PersonPermissionArg::Introspection => T::Introspection,
        PersonPermissionArg::SubunitManage => T::SubunitManage,
        PersonPermissionArg::EnforcementOperations => T::EnforcementOperations,
        PersonPermissionArg::CollectiveIdentifierManage => T::CollectiveIdentifierManage,
    }
}

fn entity_permission(p: EntityPermissionArg) -> types::EntityPermissionType {
    use types::EntityPermissionType as T;
    match p {
        EntityPermissionArg::InvoiceRead => T::InvoiceRead,
        EntityPermissionArg::InvoiceWrite => T::InvoiceWrite,
        EntityPermissionArg::CollectiveIdentifierManage => T::CollectiveIdentifierManage,
    }
}

fn authorization(p: AuthorizationArg) -> types::EntityAuthorizationPermissionType {
    use types::EntityAuthorizationPermissionType as T;
    match p {
        AuthorizationArg::SelfInvoicing => T::SelfInvoicing,
        AuthorizationArg::RrInvoicing => T::RRInvoicing,
        AuthorizationArg::TaxRepresentative => T::TaxRepresentative,
        AuthorizationArg::PefInvoicing => T::PefInvoicing,
    }
}

/// Repeated permissions once each, in the order given.
fn dedup<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if !out.contains(i) {
            out.push(*i);
        }
    }
    out
}

pub async fn run(ctx: &Ctx, cmd: PermissionsCmd) -> CliResult {
    match cmd {
        PermissionsCmd::Grant(GrantCmd::Person(a)) => grant_person(ctx, a).await,
        PermissionsCmd::Grant(GrantCmd::Entity(a)) => grant_entity(ctx, a).await,
        PermissionsCmd::Grant(GrantCmd::Authorization(a)) => grant_authorization(ctx, a).await,
        PermissionsCmd::List(l) => list(ctx, l).await,
        PermissionsCmd::Revoke { id, authorization } => revoke(ctx, &id, authorization).await,
        PermissionsCmd::Status { reference } => {
            with_session(ctx, |_, _, auth| async move {
                let s = auth.permission_operation_status(&reference).await?;
                ctx.out.json(&s);
                ctx.out.table(
                    &["FIELD", "VALUE"],
                    &[
                        vec!["reference".into(), reference.trim().to_string()],
                        vec!["code".into(), s.status.code.to_string()],
                        vec!["description".into(), s.status.description.clone()],
                        vec![
                            "details".into(),
                            s.status.details.clone().unwrap_or_default().join("; "),
                        ],
                    ],
                );
                Ok(())
            })
            .await
        }
    }
}

/// Prints the outcome of a grant.
fn granted(
    ctx: &Ctx,
    kind: &str,
    subject: (&str, &str),
    permissions: &[String],
    op: &PermissionOperation,
) {
    ctx.out.json(&json!({
        "kind": kind,
        "subject": { "type": subject.0, "value": subject.1 },
        "permissions": permissions,
        "referenceNumber": op.reference_number,
        "status": { "code": op.code, "description": op.description },
    }));
    ctx.out.note(format!(
        "granted {} to {}:{} (operation {}: {} {}); it counts from their next login",
        permissions.join(", "),
        subject.0,
        subject.1,
        op.reference_number,
        op.code,
        op.description
    ));
}

async fn grant_person(ctx: &Ctx, a: GrantPerson) -> CliResult {
    let (kind, value) = typed_id("--subject", &a.subject, &["Nip", "Pesel", "Fingerprint"])?;
    match kind {
        "Nip" => check_nip("--subject", &value)?,
        "Pesel" => check_pesel("--subject", &value)?,
        _ => check_fingerprint("--subject", &value)?,
    }
    check_name("--first-name", &a.first_name, 2, 30)?;
    check_name("--last-name", &a.last_name, 2, 81)?;
    let first_name = a.first_name.trim().to_string();
    let last_name = a.last_name.trim().to_string();
    let details = if kind == "Fingerprint" {
        let id = a.person_id.as_deref().ok_or_else(|| {
            CliError::usage(
                "a Fingerprint subject needs the person's --person-id Nip:VALUE or Pesel:VALUE",
            )
        })?;
        let (id_kind, id_value) = typed_id("--person-id", id, &["Nip", "Pesel"])?;
        if id_kind == "Nip" {
            check_nip("--person-id", &id_value)?;
        } else {
            check_pesel("--person-id", &id_value)?;
        }
        types::PersonPermissionSubjectDetails {
            subject_details_type:
                types::PersonPermissionSubjectDetailsType::PersonByFingerprintWithIdentifier,
            person_by_id: None,
            person_by_fp_with_id: Some(types::PersonByFingerprintWithIdentifierDetails {
                first_name,
                last_name,
                identifier: types::PersonIdentifier {
                    type_: if id_kind == "Nip" {
                        types::PersonIdentifierType::Nip
                    } else {
                        types::PersonIdentifierType::Pesel
                    },
                    value: id_value,
                },
            }),
            person_by_fp_no_id: None,
        }
    } else {
        if a.person_id.is_some() {
            return Err(CliError::usage(
                "--person-id goes with a Fingerprint subject only",
            ));
        }
        types::PersonPermissionSubjectDetails {
            subject_details_type: types::PersonPermissionSubjectDetailsType::PersonByIdentifier,
            person_by_id: Some(types::PersonDetails {
                first_name,
                last_name,
            }),
            person_by_fp_with_id: None,
            person_by_fp_no_id: None,
        }
    };
    let permissions: Vec<_> = dedup(&a.permissions)
        .into_iter()
        .map(person_permission)
        .collect();
    let names: Vec<String> = permissions.iter().map(ToString::to_string).collect();
    let request = types::PersonPermissionsGrantRequest {
        subject_identifier: types::PersonPermissionsSubjectIdentifier {
            type_: match kind {
                "Nip" => types::PersonPermissionsSubjectIdentifierType::Nip,
                "Pesel" => types::PersonPermissionsSubjectIdentifierType::Pesel,
                _ => types::PersonPermissionsSubjectIdentifierType::Fingerprint,
            },
            value: value.clone(),
        },
        permissions,
        description: a.description.clone(),
        subject_details: details,
    };
    with_session(ctx, |_, _, auth| async move {
        let op = auth.grant_person_permissions(&request).await?;
        granted(ctx, "person", (kind, &value), &names, &op);
        Ok(())
    })
    .await
}

async fn grant_entity(ctx: &Ctx, a: GrantEntity) -> CliResult {
    let nip = a.nip.trim().to_string();
    check_nip("--nip", &nip)?;
    check_name("--name", &a.name, 5, 90)?;
    let permissions: Vec<_> = dedup(&a.permissions)
        .into_iter()
        .map(|p| types::EntityPermission {
            type_: entity_permission(p),
            can_delegate: Some(a.can_delegate),
        })
        .collect();
    let names: Vec<String> = permissions.iter().map(|p| p.type_.to_string()).collect();
    let request = types::EntityPermissionsGrantRequest {
        subject_identifier: types::EntityPermissionsSubjectIdentifier {
            type_: types::EntityPermissionsSubjectIdentifierType::Nip,
            value: nip.clone(),
        },
        permissions,
        description: a.description.clone(),
        subject_details: types::EntityDetails {
            full_name: a.name.trim().to_string(),
        },
    };
    with_session(ctx, |_, _, auth| async move {
        let op = auth.grant_entity_permissions(&request).await?;
        granted(ctx, "entity", ("Nip", &nip), &names, &op);
        Ok(())
    })
    .await
}

async fn grant_authorization(ctx: &Ctx, a: GrantAuthorization) -> CliResult {
    let (kind, value) = typed_id("--subject", &a.subject, &["Nip", "PeppolId"])?;
    if kind == "Nip" {
        check_nip("--subject", &value)?;
    }
    check_name("--name", &a.name, 5, 90)?;
    let permission = authorization(a.permission);
    let names = vec![permission.to_string()];
    let request = types::EntityAuthorizationPermissionsGrantRequest {
        subject_identifier: types::EntityAuthorizationPermissionsSubjectIdentifier {
            type_: if kind == "Nip" {
                types::EntityAuthorizationPermissionsSubjectIdentifierType::Nip
            } else {
                types::EntityAuthorizationPermissionsSubjectIdentifierType::PeppolId
            },
            value: value.clone(),
        },
        permission,
        description: a.description.clone(),
        subject_details: types::EntityDetails {
            full_name: a.name.trim().to_string(),
        },
    };
    with_session(ctx, |_, _, auth| async move {
        let op = auth.grant_entity_authorization(&request).await?;
        granted(ctx, "authorization", (kind, &value), &names, &op);
        Ok(())
    })
    .await
}

async fn revoke(ctx: &Ctx, id: &str, authorization: bool) -> CliResult {
    let id = id.trim().to_string();
    with_session(ctx, |_, _, auth| async move {
        let op = if authorization {
            auth.revoke_entity_authorization(&id).await?
        } else {
            auth.revoke_permission(&id).await?
        };
        ctx.out.json(&json!({
            "permissionId": id,
            "kind": if authorization { "authorization" } else { "common" },
            "referenceNumber": op.reference_number,
            "status": { "code": op.code, "description": op.description },
        }));
        ctx.out.note(format!(
            "permission {id} revoked (operation {}: {} {})",
            op.reference_number, op.code, op.description
        ));
        Ok(())
    })
    .await
}

/// `TYPE:VALUE` of an identifier; `TYPE` alone when the value is empty (`AllPartners`,
/// `System`).
fn ident(kind: impl std::fmt::Display, value: &str) -> String {
    if value.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}:{value}")
    }
}

async fn list(ctx: &Ctx, cmd: PermissionsListCmd) -> CliResult {
    with_session(ctx, |_, _, auth| async move {
        match cmd {
            PermissionsListCmd::Persons {
                granted,
                state,
                permissions,
            } => {
                let query = types::PersonPermissionsQueryRequest {
                    query_type: if granted {
                        types::PersonPermissionsQueryType::PermissionsGrantedInCurrentContext
                    } else {
                        types::PersonPermissionsQueryType::PermissionsInCurrentContext
                    },
                    permission_state: state.map(|s| match s {
                        PermissionStateArg::Active => types::PermissionState::Active,
                        PermissionStateArg::Inactive => types::PermissionState::Inactive,
                    }),
                    permission_types: (!permissions.is_empty()).then(|| {
                        dedup(&permissions)
                            .into_iter()
                            .map(person_permission)
                            .collect()
                    }),
                    author_identifier: None,
                    authorized_identifier: None,
                    context_identifier: None,
                    target_identifier: None,
                };
                let items = auth.list_person_permissions(&query).await?;
                let headers = [
                    "ID",
                    "SUBJECT",
                    "NAME",
                    "PERMISSION",
                    "STATE",
                    "SINCE",
                    "DESCRIPTION",
                ];
                ctx.out.listing(&headers, &items, "permissions", |p| {
                    let name = match (&p.subject_person_details, &p.subject_entity_details) {
                        (Some(d), _) => format!("{} {}", d.first_name, d.last_name),
                        (None, Some(d)) => d.full_name.clone(),
                        (None, None) => String::new(),
                    };
                    vec![
                        p.id.0.clone(),
                        ident(
                            &p.authorized_identifier.type_,
                            &p.authorized_identifier.value,
                        ),
                        name,
                        p.permission_scope.to_string(),
                        p.permission_state.to_string(),
                        time(p.start_date),
                        p.description.clone(),
                    ]
                });
            }
            PermissionsListCmd::Entities => {
                let query = types::EntityPermissionsQueryRequest {
                    context_identifier: None,
                };
                let items = auth.list_entity_permissions(&query).await?;
                let headers = [
                    "ID",
                    "CONTEXT",
                    "PERMISSION",
                    "DELEGABLE",
                    "SINCE",
                    "DESCRIPTION",
                ];
                ctx.out.listing(&headers, &items, "permissions", |p| {
                    vec![
                        p.id.0.clone(),
                        ident(&p.context_identifier.type_, &p.context_identifier.value),
                        p.permission_scope.to_string(),
                        if p.can_delegate { "yes" } else { "no" }.to_string(),
                        time(p.start_date),
                        p.description.clone(),
                    ]
                });
            }
            PermissionsListCmd::Authorizations { received } => {
                let query = types::EntityAuthorizationPermissionsQueryRequest {
                    query_type: if received {
                        types::QueryType::Received
                    } else {
                        types::QueryType::Granted
                    },
                    authorized_identifier: None,
                    authorizing_identifier: None,
                    permission_types: None,
                };
                let items = auth.list_entity_authorizations(&query).await?;
                let headers = [
                    "ID",
                    "AUTHORIZING",
                    "AUTHORIZED",
                    "NAME",
                    "AUTHORIZATION",
                    "SINCE",
                    "DESCRIPTION",
                ];
                ctx.out.listing(&headers, &items, "authorizations", |g| {
                    vec![
                        g.id.0.clone(),
                        ident(
                            &g.authorizing_entity_identifier.type_,
                            &g.authorizing_entity_identifier.value,
                        ),
                        ident(
                            &g.authorized_entity_identifier.type_,
                            &g.authorized_entity_identifier.value,
                        ),
                        g.subject_entity_details
                            .as_ref()
                            .map(|d| d.full_name.clone())
                            .unwrap_or_default(),
                        g.authorization_scope.to_string(),
                        time(g.start_date),
                        g.description.clone(),
                    ]
                });
            }
            PermissionsListCmd::Mine => {
                let query = types::PersonalPermissionsQueryRequest {
                    context_identifier: None,
                    permission_state: None,
                    permission_types: None,
                    target_identifier: None,
                };
                let items = auth.list_personal_permissions(&query).await?;
                let headers = [
                    "ID",
                    "CONTEXT",
                    "PERMISSION",
                    "STATE",
                    "SINCE",
                    "DESCRIPTION",
                ];
                ctx.out.listing(&headers, &items, "permissions", |p| {
                    vec![
                        p.id.0.clone(),
                        p.context_identifier
                            .as_ref()
                            .map(|c| ident(&c.type_, &c.value))
                            .unwrap_or_default(),
                        p.permission_scope.to_string(),
                        p.permission_state.to_string(),
                        time(p.start_date),
                        p.description.clone(),
                    ]
                });
            }
        }
        Ok(())
    })
    .await
}
