//! Environments and construction of a client.

use std::time::Duration;

use crate::{Client, ClientState, KsefError};

/// A KSeF environment. There is deliberately no default: production must be chosen explicitly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// TEST (`api-test`): self-signed certificates accepted, test data endpoints, shared data.
    Test,
    /// DEMO (pre-production).
    Demo,
    /// Production.
    Production,
    /// Any other base URL (a local simulator, a proxy), including the `/v2` stem.
    Custom(String),
}

impl Environment {
    /// Base URL of the TEST environment.
    pub const TEST_URL: &'static str = "https://api-test.ksef.mf.gov.pl/v2";
    /// Base URL of the DEMO environment.
    pub const DEMO_URL: &'static str = "https://api-demo.ksef.mf.gov.pl/v2";
    /// Base URL of the production environment.
    pub const PRODUCTION_URL: &'static str = "https://api.ksef.mf.gov.pl/v2";

    /// The API base URL (with the `/v2` stem, without a trailing slash).
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Test => Self::TEST_URL,
            Environment::Demo => Self::DEMO_URL,
            Environment::Production => Self::PRODUCTION_URL,
            Environment::Custom(url) => url.trim_end_matches('/'),
        }
    }
}

/// Builds a [`Client`] with timeouts suited to KSeF: a connect timeout and a per-read timeout, but no
/// total timeout, because batch parts and export packages are large. Pass your own
/// `reqwest::Client` with [`KsefClientBuilder::http_client`] to control everything.
#[derive(Debug)]
pub struct KsefClientBuilder {
    environment: Environment,
    http: Option<reqwest::Client>,
    connect_timeout: Duration,
    read_timeout: Duration,
    user_agent: String,
    state: ClientState,
    allow_plain_http: bool,
}

/// The client type: the generated [`Client`] with its [`ClientState`].
pub type KsefClient = Client;

impl Client {
    /// Starts building a client for an environment.
    pub fn builder(environment: Environment) -> KsefClientBuilder {
        KsefClientBuilder {
            environment,
            http: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            user_agent: format!("ksef-rs/{}", env!("CARGO_PKG_VERSION")),
            state: ClientState::new(),
            allow_plain_http: false,
        }
    }

    /// The client's tokens.
    pub fn state(&self) -> &ClientState {
        &self.inner
    }

    /// A client that shares this one's connection pool and base URL but holds other tokens.
    pub fn with_state(&self, state: ClientState) -> Client {
        Client {
            baseurl: self.baseurl.clone(),
            client: self.client.clone(),
            inner: state,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.baseurl
    }

    /// The underlying HTTP client (for presigned URLs, which take no token).
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }
}

impl KsefClientBuilder {
    /// Uses the caller's HTTP client (its timeouts, proxy, TLS settings) instead of building one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Connect timeout of the built HTTP client (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Longest pause between two reads of a response (default 60 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// `User-Agent` of the built HTTP client.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Starts with these tokens.
    pub fn state(mut self, state: ClientState) -> Self {
        self.state = state;
        self
    }

    /// Allows a `Custom` base URL with plain `http://` to a host other than the loopback
    /// interface (`127.0.0.0/8`, `::1`, `localhost`). Without it such a URL is refused: the
    /// client would send KSeF and access tokens unencrypted over the network.
    pub fn allow_plain_http(mut self, allow: bool) -> Self {
        self.allow_plain_http = allow;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Client, KsefError> {
        let base = self.environment.base_url();
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| KsefError::Setup(format!("base URL `{base}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(KsefError::Setup(format!(
                "base URL `{base}` must be http or https"
            )));
        }
        if parsed.scheme() == "http" && !self.allow_plain_http && !is_loopback(&parsed) {
            return Err(KsefError::Setup(format!(
                "base URL `{base}` is plain http to a host that is not loopback: tokens would travel \
                 unencrypted; use https (or allow_plain_http for a trusted network)"
            )));
        }
        let http = match self.http {
            Some(h) => h,
            None => {
                install_crypto_provider();
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    .read_timeout(self.read_timeout)
                    .user_agent(self.user_agent)
                    .build()
                    .map_err(|e| KsefError::Setup(format!("cannot build the HTTP client: {e}")))?
            }
        };
        Ok(Client::new_with_client(base, http, self.state))
    }
}

/// Whether the URL's host is the loopback interface (where plain http never leaves the machine).
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Installs rustls' `ring` provider as the process default if none is installed yet. ksef-rs
/// uses `ring` rather than `aws-lc-rs` because the latter costs 30–50 s of a cold build.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may win the race; either way a provider is installed afterwards.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_have_the_official_urls() {
        assert_eq!(
            Environment::Test.base_url(),
            "https://api-test.ksef.mf.gov.pl/v2"
        );
        assert_eq!(
            Environment::Demo.base_url(),
            "https://api-demo.ksef.mf.gov.pl/v2"
        );
        assert_eq!(
            Environment::Production.base_url(),
            "https://api.ksef.mf.gov.pl/v2"
        );
        assert_eq!(
            Environment::Custom("http://127.0.0.1:9/v2/".into()).base_url(),
            "http://127.0.0.1:9/v2"
        );
    }

    #[test]
    fn builds_with_tls_and_rejects_bad_urls() {
        let c = Client::builder(Environment::Test).build().unwrap();
        assert_eq!(c.base_url(), Environment::TEST_URL);
        assert!(
            Client::builder(Environment::Custom("not a url".into()))
                .build()
                .is_err()
        );
        assert!(
            Client::builder(Environment::Custom("ftp://x/v2".into()))
                .build()
                .is_err()
        );
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let build = |url: &str| Client::builder(Environment::Custom(url.into())).build();
        for url in [
            "http://127.0.0.1:9/v2",
            "http://127.1.2.3:9/v2",
            "http://[::1]:9/v2",
            "http://localhost:9/v2",
            "http://LOCALHOST./v2",
            "http://sim.localhost:9/v2",
            "https://ksef.example.com/v2",
        ] {
            assert!(build(url).is_ok(), "{url}");
        }
        for url in [
            "http://10.0.0.7:8080/v2",
            "http://ksef.example.com/v2",
            "http://api.ksef.mf.gov.pl/v2",
            "http://127.0.0.1.example.com/v2",
            "http://[::ffff:10.0.0.1]/v2",
            "http://0.0.0.0:9/v2",
        ] {
            let e = build(url).unwrap_err();
            assert!(e.to_string().contains("not loopback"), "{url}: {e}");
        }
        assert!(
            Client::builder(Environment::Custom("http://10.0.0.7:8080/v2".into()))
                .allow_plain_http(true)
                .build()
                .is_ok()
        );
    }
}
