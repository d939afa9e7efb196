//! `ksef token create|list|status|revoke`.

use futures::TryStreamExt as _;
use ksef_api::types::{AuthenticationTokenStatus, TokenPermissionType};
use ksef_flows::TokenFilter;
use serde_json::json;

use crate::cli::{TokenCmd, TokenCreate, TokenPermission, TokenState};
use crate::config::{Config, Credential};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult, Exit};
use crate::seal::{self, Kind};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    ksef_time::format_warsaw_millis(t)
}

fn permission(p: TokenPermission) -> TokenPermissionType {
    match p {
        TokenPermission::InvoiceRead => TokenPermissionType::InvoiceRead,
        TokenPermission::InvoiceWrite => TokenPermissionType::InvoiceWrite,
        TokenPermission::CredentialsRead => TokenPermissionType::CredentialsRead,
        TokenPermission::CredentialsManage => TokenPermissionType::CredentialsManage,
        TokenPermission::SubunitManage => TokenPermissionType::SubunitManage,
        TokenPermission::EnforcementOperations => TokenPermissionType::EnforcementOperations,
        TokenPermission::Introspection => TokenPermissionType::Introspection,
    }
}

pub async fn run(ctx: &Ctx, cmd: TokenCmd) -> CliResult {
    match cmd {
        TokenCmd::Create(a) => create(ctx, a).await,
        TokenCmd::List { status } => {
            let mut filter = TokenFilter::new().page_size(100);
            for s in status {
                filter = filter.status(match s {
                    TokenState::Pending => AuthenticationTokenStatus::Pending,
                    TokenState::Active => AuthenticationTokenStatus::Active,
                    TokenState::Revoking => AuthenticationTokenStatus::Revoking,
                    TokenState::Revoked => AuthenticationTokenStatus::Revoked,
                    TokenState::Failed => AuthenticationTokenStatus::Failed,
                });
            }
            with_session(ctx, |_, _, auth| async move {
                let mut rows = Vec::new();
                let mut tokens = auth.all_ksef_tokens(&filter);
                while let Some(t) = tokens.try_next().await? {
                    ctx.out.json_line(&t);
                    rows.push(vec![
                        t.reference_number.0.clone(),
                        t.status.to_string(),
                        time(t.date_created),
                        t.requested_permissions
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(","),
                        t.description.clone(),
                    ]);
                }
                ctx.out.table(
                    &[
                        "REFERENCE",
                        "STATUS",
                        "CREATED",
                        "PERMISSIONS",
                        "DESCRIPTION",
                    ],
                    &rows,
                );
                Ok(())
            })
            .await
        }
        TokenCmd::Status { reference } => {
            with_session(ctx, |_, _, auth| async move {
                let t = auth.ksef_token_status(&reference).await?;
                ctx.out.json(&t);
                ctx.out.table(
                    &["FIELD", "VALUE"],
                    &[
                        vec!["reference".into(), t.reference_number.0.clone()],
                        vec!["status".into(), t.status.to_string()],
                        vec!["created".into(), time(t.date_created)],
                        vec!["last used".into(), t.last_use_date.map_or("-".into(), time)],
                        vec![
                            "permissions".into(),
                            t.requested_permissions
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(","),
                        ],
                        vec!["description".into(), t.description.clone()],
                    ],
                );
                Ok(())
            })
            .await
        }
        TokenCmd::Revoke { reference } => {
            with_session(ctx, |_, _, auth| async move {
                auth.revoke_ksef_token(&reference).await?;
                ctx.out
                    .json(&json!({ "referenceNumber": reference.trim(), "revoked": true }));
                ctx.out
                    .note(format!("KSeF token {} revoked", reference.trim()));
                Ok(())
            })
            .await
        }
    }
}

async fn create(ctx: &Ctx, a: TokenCreate) -> CliResult {
    let len = a.description.chars().count();
    if !(5..=256).contains(&len) {
        return Err(CliError::usage(
            "--description must have 5 to 256 characters",
        ));
    }
    if let Some(p) = &a.output
        && p.exists()
    {
        return Err(CliError::usage(format!(
            "{} exists; the token is never written over a file",
            p.display()
        )));
    }
    if let Some(p) = &a.to_profile {
        seal::path(Kind::Secret, p)?;
    }
    let permissions: Vec<TokenPermissionType> =
        a.permissions.iter().map(|p| permission(*p)).collect();
    with_session(ctx, |t, _, auth| async move {
        let (reference, token) = auth.create_ksef_token(&permissions, &a.description).await?;
        let mut stored = serde_json::Map::new();
        if let Some(path) = &a.output {
            crate::paths::write_new(path, token.expose().as_bytes(), 0o600).map_err(|e| {
                CliError::new(
                    Exit::Failure,
                    anyhow::anyhow!(
                        "token {reference} was created but cannot be written to {}: {e}; revoke it with `ksef token revoke {reference}`",
                        path.display()
                    ),
                )
            })?;
            stored.insert("file".into(), json!(path));
        }
        if let Some(name) = &a.to_profile {
            seal::store(Kind::Secret, name, token.expose().as_bytes())?;
            let mut c = Config::load()?;
            let mut p = t.profile.clone();
            p.credential = Credential::Token;
            p.secret = Some("sealed".into());
            p.certificate = None;
            p.key = None;
            c.profiles.insert(name.clone(), p);
            c.save()?;
            seal::remove(Kind::Session, name)?;
            stored.insert("profile".into(), json!(name));
        }
        ctx.out.json(&json!({
            "referenceNumber": reference,
            "status": "Active",
            "stored": stored,
        }));
        ctx.out.note(format!(
            "KSeF token {reference} is active; stored {}",
            [
                a.output.as_ref().map(|p| format!("in {} (mode 0600)", p.display())),
                a.to_profile.as_ref().map(|n| format!("sealed for profile {n}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ")
        ));
        Ok(())
    })
    .await
}
