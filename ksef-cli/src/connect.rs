//! From the global options to a KSeF client and an authenticated session: profile selection,
//! the production guard, login credentials and the sealed session cache.

use std::io::Write as _;

use ksef_api::Environment;
use ksef_flows::crypto::{ContextIdentifier, KeyAlgorithm, SigningIdentity};
use ksef_flows::{AuthSession, Credentials, Ksef, SavedSession};

use crate::config::{self, Config, Credential, Profile};
use crate::exit::{CliError, CliResult, Exit};
use crate::output::{Out, interactive};
use crate::seal::{self, Kind};

/// What every command receives: output settings and the global options.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub out: Out,
    /// `--profile` / `KSEF_PROFILE`.
    pub profile: Option<String>,
    /// `--production`: confirms a production profile without a question.
    pub production: bool,
}

/// The selected profile, parsed.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub profile: Profile,
    pub environment: Environment,
    pub context: ContextIdentifier,
}

impl Target {
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// The environment for display (`TEST`, `DEMO`, `PRODUCTION` or the URL).
    pub fn environment_label(&self) -> String {
        match &self.environment {
            Environment::Test => "TEST".into(),
            Environment::Demo => "DEMO".into(),
            Environment::Production => "PRODUCTION".into(),
            Environment::Custom(u) => u.clone(),
        }
    }
}

impl Ctx {
    /// The selected profile, with the production guard applied.
    pub fn target(&self) -> CliResult<Target> {
        let config = Config::load()?;
        let (name, profile) = config.select(self.profile.as_deref())?;
        let environment = config::environment(&profile.environment)?;
        let context = config::context(&profile.context)?;
        let t = Target {
            name,
            profile,
            environment,
            context,
        };
        if t.is_production() {
            self.guard_production(&t)?;
        }
        Ok(t)
    }

    fn guard_production(&self, t: &Target) -> CliResult<()> {
        if !t.profile.production {
            return Err(CliError::usage(format!(
                "profile {:?} points at PRODUCTION but was not created with --production; recreate it with `ksef profile add {} --production ...`",
                t.name, t.name
            )));
        }
        if self.production {
            return Ok(());
        }
        if !interactive() {
            return Err(CliError::usage(format!(
                "profile {:?} is PRODUCTION: pass --production to confirm (no terminal to ask on)",
                t.name
            )));
        }
        let question = format!(
            "Profile {} acts in PRODUCTION KSeF for {}:{}. Type the context value to go on: ",
            t.name,
            t.context.type_name(),
            t.context.value()
        );
        crate::output::write_stderr(&question);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| CliError::usage(format!("cannot read the answer: {e}")))?;
        if answer.trim() != t.context.value() {
            return Err(CliError::usage(
                "production not confirmed; nothing was sent",
            ));
        }
        Ok(())
    }

    /// A client for the target's environment.
    pub fn client(&self, t: &Target) -> CliResult<Ksef> {
        Ksef::builder(t.environment.clone())
            .user_agent(format!("ksef-cli/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(CliError::from)
    }

    /// The credentials `auth login` uses for the target.
    pub fn credentials(&self, t: &Target, ksef: &Ksef) -> CliResult<Credentials> {
        match t.profile.credential {
            Credential::Token => {
                let source = t.profile.secret.as_deref().ok_or_else(|| {
                    CliError::usage(format!(
                        "profile {:?} authenticates with a KSeF token but names no secret source (--secret env:NAME|file:PATH|prompt|sealed|keyring)",
                        t.name
                    ))
                })?;
                let token = crate::secrets::read(source, &t.name, "KSeF token")?;
                Ok(Credentials::ksef_token(token, t.context.clone()))
            }
            Credential::Certificate => {
                let identity = crate::identity::load(t)?;
                Ok(Credentials::xades(identity, t.context.clone()))
            }
            Credential::TestIdentity => {
                if matches!(t.environment, Environment::Production | Environment::Demo) {
                    return Err(CliError::usage(
                        "a generated test identity works on TEST and simulators only",
                    ));
                }
                let ContextIdentifier::Nip(nip) = &t.context else {
                    return Err(CliError::usage(
                        "a generated test identity needs a Nip context",
                    ));
                };
                let identity = SigningIdentity::self_signed_personal_at(
                    nip,
                    KeyAlgorithm::EcdsaP256,
                    ksef.now(),
                )
                .map_err(|e| CliError::new(Exit::Failure, e))?;
                Ok(Credentials::xades(identity, t.context.clone()))
            }
        }
    }

    /// The cached session of the target, resumed (nothing is sent yet).
    pub fn session(&self, t: &Target, ksef: &Ksef) -> CliResult<AuthSession> {
        let Some(plain) = seal::load(Kind::Session, &t.name)? else {
            return Err(CliError::auth(format!(
                "not logged in with profile {:?}: run `ksef auth login`",
                t.name
            )));
        };
        let saved = SavedSession::from_json(&plain)
            .map_err(|e| CliError::new(Exit::Auth, anyhow::anyhow!("the session cache: {e}")))?;
        if saved.context != t.context {
            return Err(CliError::auth(format!(
                "the cached session of profile {:?} belongs to another context; run `ksef auth login`",
                t.name
            )));
        }
        Ok(ksef.resume(&saved))
    }

    /// Seals the session's current tokens into the cache of the target.
    pub fn save_session(&self, t: &Target, session: &AuthSession) -> CliResult<()> {
        let saved = session.save()?;
        let json = saved.to_json()?;
        seal::store(Kind::Session, &t.name, json.expose())
    }
}

/// Runs `f` with the resumed session of the selected profile and seals the (possibly refreshed)
/// tokens back afterwards.
pub async fn with_session<T, F, Fut>(ctx: &Ctx, f: F) -> CliResult<T>
where
    F: FnOnce(Target, Ksef, AuthSession) -> Fut,
    Fut: std::future::Future<Output = CliResult<T>>,
{
    let t = ctx.target()?;
    let ksef = ctx.client(&t)?;
    let session = ctx.session(&t, &ksef)?;
    let before = session.access_token_expires();
    let result = f(t.clone(), ksef, session.clone()).await;
    if session.access_token().is_some() && session.access_token_expires() != before {
        ctx.save_session(&t, &session)?;
    }
    result
}
