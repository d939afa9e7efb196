//! `ksef auth login|status|refresh|logout|sessions`.

use futures::TryStreamExt as _;
use serde_json::json;

use crate::cli::{AuthCmd, AuthSessionsCmd};
use crate::connect::{Ctx, with_session};
use crate::exit::{CliError, CliResult};
use crate::seal::{self, Kind};

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    ksef_time::format_warsaw_millis(t)
}

pub async fn run(ctx: &Ctx, cmd: AuthCmd) -> CliResult {
    match cmd {
        AuthCmd::Login => login(ctx).await,
        AuthCmd::Status => status(ctx),
        AuthCmd::Refresh => {
            with_session(ctx, |t, _, session| async move {
                session.refresh().await?;
                ctx.save_session(&t, &session)?;
                ctx.out.json(&json!({
                    "profile": t.name,
                    "accessTokenExpires": session.access_token_expires(),
                }));
                ctx.out.note(format!(
                    "access token refreshed, valid until {}",
                    time(session.access_token_expires())
                ));
                Ok(())
            })
            .await
        }
        AuthCmd::Logout => {
            let t = ctx.target()?;
            let ksef = ctx.client(&t)?;
            let revoked = match ctx.session(&t, &ksef) {
                Ok(session) => match session.revoke().await {
                    Ok(()) => true,
                    Err(e) => {
                        // The cache goes anyway: a refused revoke means the tokens are dead.
                        tracing::warn!(error = %e, "revoking the session failed");
                        false
                    }
                },
                Err(_) => false,
            };
            let removed = seal::remove(Kind::Session, &t.name)?;
            ctx.out.json(&json!({
                "profile": t.name,
                "revoked": revoked,
                "cacheRemoved": removed,
            }));
            ctx.out.note(match (revoked, removed) {
                (true, _) => format!("logged out of profile {} (session revoked)", t.name),
                (false, true) => format!(
                    "session cache of profile {} deleted (KSeF did not confirm the revoke)",
                    t.name
                ),
                (false, false) => format!("profile {} was not logged in", t.name),
            });
            Ok(())
        }
        AuthCmd::Sessions(AuthSessionsCmd::List) => {
            with_session(ctx, |_, _, session| async move {
                let mut rows = Vec::new();
                let mut sessions = session.all_auth_sessions(Some(100));
                while let Some(s) = sessions.try_next().await? {
                    ctx.out.json_line(&s);
                    rows.push(vec![
                        s.reference_number.0.clone(),
                        s.authentication_method.to_string(),
                        time(s.start_date),
                        s.refresh_token_valid_until.map_or("-".into(), time),
                        if s.is_current == Some(true) {
                            "*".into()
                        } else {
                            String::new()
                        },
                    ]);
                }
                ctx.out.table(
                    &["REFERENCE", "METHOD", "STARTED", "REFRESH UNTIL", "CURRENT"],
                    &rows,
                );
                Ok(())
            })
            .await
        }
        AuthCmd::Sessions(AuthSessionsCmd::Revoke { reference }) => {
            with_session(ctx, |_, _, session| async move {
                session.revoke_auth_session(&reference).await?;
                ctx.out
                    .json(&json!({ "referenceNumber": reference.trim(), "revoked": true }));
                ctx.out.note(format!(
                    "authentication session {} revoked",
                    reference.trim()
                ));
                Ok(())
            })
            .await
        }
    }
}

async fn login(ctx: &Ctx) -> CliResult {
    let t = ctx.target()?;
    let ksef = ctx.client(&t)?;
    let credentials = ctx.credentials(&t, &ksef)?;
    let session = ksef.authenticate(&credentials).await?;
    ctx.save_session(&t, &session)?;
    let saved = session.save()?;
    ctx.out.json(&json!({
        "profile": t.name,
        "environment": t.environment_label(),
        "context": { "type": t.context.type_name(), "value": t.context.value() },
        "referenceNumber": session.reference_number(),
        "accessTokenExpires": saved.access_token_expires,
        "refreshTokenExpires": saved.refresh_token_expires,
    }));
    ctx.out.note(format!(
        "logged in to {} as {}:{} (profile {}, operation {}); access token valid until {}",
        t.environment_label(),
        t.context.type_name(),
        t.context.value(),
        t.name,
        session.reference_number(),
        time(saved.access_token_expires)
    ));
    Ok(())
}

fn status(ctx: &Ctx) -> CliResult {
    let t = ctx.target()?;
    let ksef = ctx.client(&t)?;
    let session = ctx.session(&t, &ksef)?;
    let saved = session.save()?;
    let now = ksef.now();
    let refresh_ok = saved.refresh_token_expires.is_none_or(|e| e > now);
    ctx.out.json(&json!({
        "profile": t.name,
        "environment": t.environment_label(),
        "context": { "type": t.context.type_name(), "value": t.context.value() },
        "referenceNumber": saved.reference_number,
        "accessTokenExpires": saved.access_token_expires,
        "accessTokenValid": saved.access_token_expires > now,
        "refreshTokenExpires": saved.refresh_token_expires,
        "refreshTokenValid": refresh_ok,
    }));
    ctx.out.table(
        &["FIELD", "VALUE"],
        &[
            vec!["profile".into(), t.name.clone()],
            vec!["environment".into(), t.environment_label()],
            vec![
                "context".into(),
                format!("{}:{}", t.context.type_name(), t.context.value()),
            ],
            vec!["operation".into(), saved.reference_number.clone()],
            vec![
                "access token".into(),
                format!(
                    "{} until {}",
                    if saved.access_token_expires > now {
                        "valid"
                    } else {
                        "expired"
                    },
                    time(saved.access_token_expires)
                ),
            ],
            vec![
                "refresh token".into(),
                match saved.refresh_token_expires {
                    Some(e) => format!(
                        "{} until {}",
                        if refresh_ok { "valid" } else { "expired" },
                        time(e)
                    ),
                    None => "valid (no expiry in the token)".into(),
                },
            ],
        ],
    );
    if !refresh_ok {
        return Err(CliError::auth(
            "the refresh token has expired: run `ksef auth login`",
        ));
    }
    Ok(())
}
