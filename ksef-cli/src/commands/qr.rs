//! `ksef qr kod1|kod2`: verification links as text, PNG or SVG with the label.

use serde_json::json;

use ksef_flows::crypto::qr::{self, EcdsaEncoding, QrEnvironment};
use ksef_flows::crypto::{Nip, SigningIdentity};

use crate::cli::{QrCmd, QrOutput};
use crate::connect::Ctx;
use crate::exit::{CliError, CliResult, Exit};

fn qr_env(ctx: &Ctx, o: &QrOutput) -> CliResult<(QrEnvironment, Option<String>)> {
    let env = match &o.environment {
        Some(e) => crate::config::environment(e)?,
        None => match ctx.target() {
            Ok(t) => return Ok((env_of(&t.environment), Some(t.profile.context.clone()))),
            Err(_) => ksef_api::Environment::Test,
        },
    };
    Ok((env_of(&env), None))
}

fn env_of(e: &ksef_api::Environment) -> QrEnvironment {
    match e {
        ksef_api::Environment::Demo => QrEnvironment::Demo,
        ksef_api::Environment::Production => QrEnvironment::Production,
        _ => QrEnvironment::Test,
    }
}

fn facts(path: &std::path::Path) -> CliResult<ksef_flows::crypto::InvoiceFacts> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    ksef_flows::crypto::preflight(&bytes)
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

fn render(ctx: &Ctx, url: &str, label: &str, o: &QrOutput) -> CliResult {
    let fail = |e: ksef_flows::crypto::CryptoError| CliError::new(Exit::Failure, e);
    let io = |p: &std::path::Path, e: std::io::Error| {
        CliError::new(
            Exit::Failure,
            anyhow::anyhow!("cannot write {}: {e}", p.display()),
        )
    };
    if let Some(p) = &o.png {
        let png = qr::render_png(url, label, 6).map_err(fail)?;
        std::fs::write(p, png).map_err(|e| io(p, e))?;
    }
    if let Some(p) = &o.svg {
        let svg = qr::render_svg(url, label).map_err(fail)?;
        std::fs::write(p, svg).map_err(|e| io(p, e))?;
    }
    ctx.out.json(&json!({
        "url": url,
        "label": label,
        "png": o.png,
        "svg": o.svg,
    }));
    ctx.out.line(url);
    if o.png.is_some() || o.svg.is_some() {
        ctx.out.note(format!("label: {label}"));
    }
    Ok(())
}

pub fn run(ctx: &Ctx, cmd: QrCmd) -> CliResult {
    match cmd {
        QrCmd::Kod1(a) => {
            let f = facts(&a.file)?;
            let (env, _) = qr_env(ctx, &a.output)?;
            let url = qr::kod1_url_for_invoice(&env, &f)
                .map_err(|e| CliError::usage(format!("{}: {e}", a.file.display())))?;
            let label = match &a.ksef_number {
                Some(n) => ksef_flows::crypto::KsefNumber::parse(n)
                    .map_err(|e| CliError::usage(format!("--ksef-number: {e}")))?
                    .as_str()
                    .to_string(),
                None => "OFFLINE".to_string(),
            };
            render(ctx, &url, &label, &a.output)
        }
        QrCmd::Kod2(a) => {
            let f = facts(&a.file)?;
            let (env, profile_context) = qr_env(ctx, &a.output)?;
            let context = a.context.or(profile_context).ok_or_else(|| {
                CliError::usage("KOD II needs the context: --context TYPE:VALUE or a profile")
            })?;
            let context = crate::config::context(&context)?;
            let seller = f
                .seller_nip
                .as_deref()
                .ok_or_else(|| CliError::usage("the invoice has no seller NIP"))
                .and_then(|n| {
                    Nip::parse_pattern_only(n)
                        .map_err(|e| CliError::usage(format!("seller NIP: {e}")))
                })?;
            let identity = load_identity(&a.cert, &a.key)?;
            let url = qr::kod2_url_for_identity(
                &env,
                &context,
                &seller,
                &f.sha256,
                &identity,
                EcdsaEncoding::RawRs,
            )
            .map_err(|e| CliError::usage(format!("KOD II: {e}")))?;
            render(ctx, &url, "CERTYFIKAT", &a.output)
        }
    }
}

fn load_identity(cert: &std::path::Path, key: &std::path::Path) -> CliResult<SigningIdentity> {
    crate::identity::load_files(cert, Some(key), || {
        Err(CliError::usage(
            "KOD II takes a PEM or DER certificate and key",
        ))
    })
}
