//! `ksef profile add|list|use|show|remove|secret`.

use serde_json::json;

use crate::cli::{ProfileAdd, ProfileCmd};
use crate::config::{self, Config, Credential, Profile};
use crate::connect::Ctx;
use crate::exit::{CliError, CliResult};
use crate::seal::{self, Kind};

pub fn run(ctx: &Ctx, cmd: ProfileCmd) -> CliResult {
    match cmd {
        ProfileCmd::Add(a) => add(ctx, a),
        ProfileCmd::List => list(ctx),
        ProfileCmd::Use { name } => {
            let mut c = Config::load()?;
            if !c.profiles.contains_key(&name) {
                return Err(CliError::usage(format!("no profile {name:?}")));
            }
            c.default = Some(name.clone());
            c.save()?;
            ctx.out.json(&json!({ "default": name }));
            ctx.out.note(format!("default profile: {name}"));
            Ok(())
        }
        ProfileCmd::Show { name } => {
            let c = Config::load()?;
            let (name, p) = c.select(name.as_deref().or(ctx.profile.as_deref()))?;
            let is_default = c.default.as_deref() == Some(name.as_str());
            let logged_in = seal::path(Kind::Session, &name)?.exists();
            ctx.out.json(&describe(&name, &p, is_default, logged_in));
            ctx.out.table(
                &["FIELD", "VALUE"],
                &[
                    vec!["profile".into(), name.clone()],
                    vec!["environment".into(), p.environment.clone()],
                    vec!["context".into(), p.context.clone()],
                    vec!["credential".into(), p.credential.name().into()],
                    vec!["secret".into(), p.secret.clone().unwrap_or("-".into())],
                    vec![
                        "certificate".into(),
                        p.certificate
                            .as_ref()
                            .map_or("-".into(), |c| c.display().to_string()),
                    ],
                    vec![
                        "key".into(),
                        p.key
                            .as_ref()
                            .map_or("-".into(), |c| c.display().to_string()),
                    ],
                    vec!["default".into(), is_default.to_string()],
                    vec!["logged in".into(), logged_in.to_string()],
                ],
            );
            Ok(())
        }
        ProfileCmd::Remove { name } => {
            let mut c = Config::load()?;
            if c.profiles.remove(&name).is_none() {
                return Err(CliError::usage(format!("no profile {name:?}")));
            }
            if c.default.as_deref() == Some(name.as_str()) {
                c.default = None;
            }
            c.save()?;
            seal::remove(Kind::Session, &name)?;
            seal::remove(Kind::Secret, &name)?;
            ctx.out.json(&json!({ "removed": name }));
            ctx.out.note(format!("profile {name} removed"));
            Ok(())
        }
        ProfileCmd::Secret { name, keyring } => {
            let mut c = Config::load()?;
            let p = c
                .profiles
                .get_mut(&name)
                .ok_or_else(|| CliError::usage(format!("no profile {name:?}")))?;
            let what = match p.credential {
                Credential::Token => "KSeF token",
                _ => "private-key passphrase",
            };
            let secret = crate::secrets::read_for_storing(what)?;
            if keyring {
                store_in_keyring(&name, &secret)?;
                p.secret = Some("keyring".into());
            } else {
                seal::store(Kind::Secret, &name, secret.expose().as_bytes())?;
                p.secret = Some("sealed".into());
            }
            let source = p.secret.clone();
            c.save()?;
            ctx.out.json(&json!({ "profile": name, "secret": source }));
            ctx.out.note(format!(
                "{what} of profile {name} stored ({})",
                source.unwrap_or_default()
            ));
            Ok(())
        }
    }
}

#[cfg(feature = "keyring")]
fn store_in_keyring(name: &str, secret: &ksef_flows::crypto::SecretString) -> CliResult {
    crate::keyring::store_secret(name, secret)
}

#[cfg(not(feature = "keyring"))]
fn store_in_keyring(_: &str, _: &ksef_flows::crypto::SecretString) -> CliResult {
    Err(CliError::usage(
        "this ksef was built without the `keyring` feature; store the secret sealed instead (without --keyring)",
    ))
}

fn describe(name: &str, p: &Profile, is_default: bool, logged_in: bool) -> serde_json::Value {
    json!({
        "name": name,
        "environment": p.environment,
        "context": p.context,
        "credential": p.credential.name(),
        "secret": p.secret,
        "certificate": p.certificate,
        "key": p.key,
        "production": p.production,
        "default": is_default,
        "loggedIn": logged_in,
    })
}

fn add(ctx: &Ctx, a: ProfileAdd) -> CliResult {
    seal::path(Kind::Session, &a.name)?; // checks the name
    let env = config::environment(&a.environment)?;
    config::context(&a.context)?;
    let production = env == ksef_api::Environment::Production;
    if production && !ctx.production {
        return Err(CliError::usage(
            "this profile points at PRODUCTION: add --production to create it",
        ));
    }
    if let Some(s) = &a.secret {
        config::check_secret_source(s)?;
    }
    match a.credential {
        Credential::Token if a.secret.is_none() => {
            return Err(CliError::usage(
                "credential token needs --secret SOURCE (env:NAME, file:PATH, prompt, sealed, keyring)",
            ));
        }
        Credential::Certificate if a.certificate.is_none() => {
            return Err(CliError::usage(
                "credential certificate needs --certificate FILE (and --key FILE unless PKCS#12)",
            ));
        }
        Credential::TestIdentity
            if !matches!(
                env,
                ksef_api::Environment::Test | ksef_api::Environment::Custom(_)
            ) =>
        {
            return Err(CliError::usage(
                "credential test-identity works on TEST and simulators only",
            ));
        }
        _ => {}
    }
    let abs = |p: Option<std::path::PathBuf>| p.map(|p| std::path::absolute(&p).unwrap_or(p));
    let profile = Profile {
        environment: a.environment.trim().to_string(),
        context: a.context.trim().to_string(),
        credential: a.credential,
        secret: a.secret,
        certificate: abs(a.certificate),
        key: abs(a.key),
        production,
    };
    let mut c = Config::load()?;
    let replaced = c.profiles.insert(a.name.clone(), profile.clone()).is_some();
    if a.default || c.default.is_none() {
        c.default = Some(a.name.clone());
    }
    c.save()?;
    if replaced {
        // The cached session may belong to another environment or context.
        seal::remove(Kind::Session, &a.name)?;
    }
    let is_default = c.default.as_deref() == Some(a.name.as_str());
    ctx.out
        .json(&describe(&a.name, &profile, is_default, false));
    ctx.out.note(format!(
        "profile {} {} ({} {}, credential {}){}",
        a.name,
        if replaced { "replaced" } else { "added" },
        profile.environment,
        profile.context,
        profile.credential.name(),
        if is_default { ", default" } else { "" }
    ));
    Ok(())
}

fn list(ctx: &Ctx) -> CliResult {
    let c = Config::load()?;
    let mut rows = Vec::new();
    for (name, p) in &c.profiles {
        let is_default = c.default.as_deref() == Some(name.as_str());
        let logged_in = seal::path(Kind::Session, name)?.exists();
        ctx.out.json_line(&describe(name, p, is_default, logged_in));
        rows.push(vec![
            if is_default {
                format!("* {name}")
            } else {
                format!("  {name}")
            },
            p.environment.clone(),
            p.context.clone(),
            p.credential.name().to_string(),
            if logged_in { "yes".into() } else { "no".into() },
        ]);
    }
    if rows.is_empty() {
        ctx.out.note("no profiles; add one with `ksef profile add`");
        return Ok(());
    }
    ctx.out.table(
        &[
            "  PROFILE",
            "ENVIRONMENT",
            "CONTEXT",
            "CREDENTIAL",
            "LOGGED IN",
        ],
        &rows,
    );
    Ok(())
}
