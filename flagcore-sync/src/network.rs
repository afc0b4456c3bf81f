//! How outgoing connections are made: extra trusted CA certificates and an HTTP proxy, for
//! every source and the event logger.

/// Connection settings shared by every HTTP client of the crate ([`crate::StatsigOptions`],
/// [`crate::IdListOptions`], [`crate::LoggerOptions`] each take one).
///
/// A corporate proxy that re-signs TLS needs its CA certificate trusted, beside the
/// built-in web roots; traffic that must leave through a proxy names it here (without
/// one, reqwest's default applies: the `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
/// environment variables).
///
/// ```no_run
/// let pem = std::fs::read("corporate-ca.pem").expect("the proxy's CA certificate");
/// let network = flagcore_sync::Network::new()
///     .ca_certificates_pem(pem)
///     .proxy("http://proxy.internal:3128");
/// let options = flagcore_sync::StatsigOptions::new("secret-…").network(network);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Network {
    /// PEM text of extra CA certificates to trust (one or several certificates each).
    pub ca_certificates_pem: Vec<Vec<u8>>,
    /// The proxy for every request (`http://`, `https://` URL, credentials allowed as
    /// `http://user:password@host:port`). Never printed by `Debug`.
    pub proxy: Option<String>,
}

impl core::fmt::Debug for Network {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Network")
            .field("ca_certificates_pem", &self.ca_certificates_pem.len())
            .field("proxy", &self.proxy.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Network {
    /// No extra CA certificates; the environment's proxy settings.
    pub fn new() -> Network {
        Network::default()
    }

    /// Trusts the CA certificates in `pem` too (the built-in roots stay trusted).
    pub fn ca_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificates_pem.push(pem.into());
        self
    }

    /// Sends every request through the proxy at `url`.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Applies the settings to a client being built.
    pub(crate) fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, crate::SyncError> {
        for pem in &self.ca_certificates_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| crate::SyncError::Client(e.without_url()))?;
            if certificates.is_empty() {
                return Err(crate::SyncError::NoCertificate);
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(url) = &self.proxy {
            let proxy =
                reqwest::Proxy::all(url).map_err(|e| crate::SyncError::Client(e.without_url()))?;
            builder = builder.proxy(proxy);
        }
        Ok(builder)
    }
}
