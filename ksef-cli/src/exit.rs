//! Exit codes and the error every command returns.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | failure (anything not listed below) |
//! | 2 | usage: bad arguments or configuration, detected before anything is sent |
//! | 3 | partial: some invoices were rejected or not sent |
//! | 4 | authentication: not logged in, credentials refused, token expired or revoked, 401/403 |
//! | 5 | KSeF unavailable or limits hit: transport failure, 5xx, 429, maintenance, timeouts |
//! | 130 | interrupted (Ctrl-C, SIGINT or SIGTERM); `send batch` and `sync` keep their state and continue with `--resume` or the next run |

use std::fmt;

use ksef_flows::FlowError;

/// The class of a failure, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Failure = 1,
    Usage = 2,
    Partial = 3,
    Auth = 4,
    Unavailable = 5,
    Interrupted = 130,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Stable name used in `--json` error documents.
    pub fn name(self) -> &'static str {
        match self {
            Exit::Failure => "failure",
            Exit::Usage => "usage",
            Exit::Partial => "partial",
            Exit::Auth => "auth",
            Exit::Unavailable => "unavailable",
            Exit::Interrupted => "interrupted",
        }
    }
}

/// A command's failure: the error chain and its exit class.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub error: anyhow::Error,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(&self.error))
    }
}

/// The error and its causes on one line (`outer: cause: cause`), leaving out a cause whose
/// text the line already carries: the library errors name their source in their own message
/// and also return it as their `source()`, so the plain chain said KSeF's message twice.
pub fn render(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

impl CliError {
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Self {
        Self {
            exit,
            error: error.into(),
        }
    }

    pub fn usage(msg: impl fmt::Display) -> Self {
        Self::new(Exit::Usage, anyhow::anyhow!("{msg}"))
    }

    pub fn auth(msg: impl fmt::Display) -> Self {
        Self::new(Exit::Auth, anyhow::anyhow!("{msg}"))
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        let exit = classify(&error);
        Self { exit, error }
    }
}

impl From<FlowError> for CliError {
    fn from(e: FlowError) -> Self {
        anyhow::Error::from(e).into()
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

/// The exit class of an error chain: the first [`FlowError`] in it decides.
pub fn classify(error: &anyhow::Error) -> Exit {
    for cause in error.chain() {
        if let Some(f) = cause.downcast_ref::<FlowError>() {
            return classify_flow(f);
        }
        if let Some(e) = cause.downcast_ref::<ksef_api::KsefError>() {
            return classify_status(e.status().map(|s| s.as_u16()), is_transport(e));
        }
    }
    Exit::Failure
}

fn is_transport(e: &ksef_api::KsefError) -> bool {
    matches!(e, ksef_api::KsefError::Transport(_))
}

fn classify_flow(f: &FlowError) -> Exit {
    match f {
        FlowError::Authenticate { source, .. } => {
            match classify_status(source.status().map(|s| s.as_u16()), is_transport(source)) {
                Exit::Unavailable => Exit::Unavailable,
                _ => Exit::Auth,
            }
        }
        FlowError::AuthRejected { .. } | FlowError::RefreshToken { .. } => Exit::Auth,
        FlowError::InvalidArgument { .. } | FlowError::BatchLimit { .. } => Exit::Usage,
        FlowError::UploadPart { status, .. } => classify_status(*status, status.is_none()),
        FlowError::Timeout(_) | FlowError::SessionUnavailable { .. } => Exit::Unavailable,
        other => match other.api_error() {
            Some(e) => classify_status(other.http_status(), is_transport(e)),
            None => Exit::Failure,
        },
    }
}

fn classify_status(status: Option<u16>, transport: bool) -> Exit {
    match status {
        Some(401 | 403) => Exit::Auth,
        Some(429) => Exit::Unavailable,
        Some(s) if s >= 500 => Exit::Unavailable,
        None if transport => Exit::Unavailable,
        _ => Exit::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Partial.code(), 3);
        assert_eq!(Exit::Auth.code(), 4);
        assert_eq!(Exit::Unavailable.code(), 5);
        assert_eq!(Exit::Interrupted.code(), 130);
    }

    #[test]
    fn flow_errors_map_to_their_class() {
        let e: CliError = FlowError::InvalidArgument {
            field: "x",
            rule: "y".into(),
        }
        .into();
        assert_eq!(e.exit, Exit::Usage);
        let e: CliError = FlowError::Timeout("t").into();
        assert_eq!(e.exit, Exit::Unavailable);
        let e: CliError = anyhow::Error::from(FlowError::AuthRejected {
            reason: ksef_flows::AuthFailure::Revoked,
            code: 425,
            description: "revoked".into(),
            details: vec![],
        })
        .context("logging in")
        .into();
        assert_eq!(e.exit, Exit::Auth);
        assert_eq!(classify_status(Some(503), false), Exit::Unavailable);
        assert_eq!(classify_status(Some(400), false), Exit::Failure);
        assert_eq!(classify_status(None, true), Exit::Unavailable);
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let call = FlowError::Call {
            operation: "GET /rate-limits",
            source: Box::new(ksef_api::KsefError::NotSent("no access token".into())),
        };
        let e: CliError = anyhow::Error::from(call)
            .context("reading the limits")
            .into();
        let line = e.to_string();
        assert_eq!(
            line,
            "reading the limits: GET /rate-limits failed: the request was not sent: no access token"
        );
        assert_eq!(line.matches("no access token").count(), 1);
        // causes that add something are kept
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(render(&e), "outer: inner");
    }
}
