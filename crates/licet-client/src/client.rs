//! A typed async client for the server API.

use crate::wire::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long [`Client::new`] waits for any one answer.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status}: {} ({})", .body.error.message, .body.error.code)]
    Api {
        /// HTTP status.
        status: u16,
        /// The error body.
        body: Box<ErrorBody>,
    },
    /// The server answered something that is not a Licet response (a proxy, a portal).
    #[error("unexpected response {status}: {text}")]
    Unexpected {
        /// HTTP status.
        status: u16,
        /// The first bytes of the body.
        text: String,
    },
    /// The request did not complete.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
}

impl ClientError {
    /// The stable error code, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { body, .. } => Some(&body.error.code),
            _ => None,
        }
    }
}

/// A client for one server, optionally with a bearer token.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8470`).
    pub fn new(base: impl Into<String>) -> Client {
        // Every call has a deadline: a server that accepts and never answers must not
        // hold a command (or a test) forever. Builder failure means no TLS backend,
        // which the plain client would hit as well.
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(DEFAULT_TIMEOUT)
            .build()
            .unwrap_or_default();
        Client {
            base: base.into().trim_end_matches('/').to_owned(),
            token: None,
            http,
        }
    }

    /// A client for `base` over a configured HTTP client (timeouts, proxies).
    pub fn with_http(base: impl Into<String>, http: reqwest::Client) -> Client {
        Client {
            base: base.into().trim_end_matches('/').to_owned(),
            token: None,
            http,
        }
    }

    /// The same client with a bearer token.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send<T: DeserializeOwned>(builder: reqwest::RequestBuilder) -> Result<T, ClientError> {
        let response = builder.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.is_success() {
            let text = if bytes.is_empty() {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(text).map_err(|_| ClientError::Unexpected {
                status: status.as_u16(),
                text: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            });
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api {
                status: status.as_u16(),
                body: Box::new(body),
            }),
            Err(_) => Err(ClientError::Unexpected {
                status: status.as_u16(),
                text: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            }),
        }
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        Self::send(self.request(reqwest::Method::POST, path).json(body)).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Self::send(self.request(reqwest::Method::GET, path)).await
    }

    /// Uploads a catalog (TOML text).
    pub async fn put_catalog(
        &self,
        product_id: &str,
        toml: &str,
    ) -> Result<CatalogUploaded, ClientError> {
        Self::send(
            self.request(
                reqwest::Method::PUT,
                &format!("/v1/products/{product_id}/catalog"),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/toml")
            .body(toml.to_owned()),
        )
        .await
    }

    /// A product's current catalog signed for devices (armored text; needs no token).
    pub async fn signed_catalog(&self, product_id: &str) -> Result<String, ClientError> {
        let response = self
            .request(
                reqwest::Method::GET,
                &format!("/v1/products/{product_id}/catalog/signed"),
            )
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if status.is_success() {
            return Ok(text);
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(ClientError::Api {
                status: status.as_u16(),
                body: Box::new(body),
            }),
            Err(_) => Err(ClientError::Unexpected {
                status: status.as_u16(),
                text: text.chars().take(200).collect(),
            }),
        }
    }

    /// Creates a tenant.
    pub async fn create_tenant(&self, name: &str) -> Result<TenantView, ClientError> {
        self.post(
            "/v1/tenants",
            &TenantCreate {
                name: name.to_owned(),
            },
        )
        .await
    }

    /// Every tenant (admin).
    pub async fn tenants(&self) -> Result<Vec<TenantView>, ClientError> {
        self.get("/v1/tenants").await
    }

    /// Creates a subscription; the response carries the full license key, once.
    pub async fn create_subscription(
        &self,
        tenant_id: &str,
        body: &SubscriptionCreate,
    ) -> Result<SubscriptionView, ClientError> {
        self.post(&format!("/v1/tenants/{tenant_id}/subscriptions"), body)
            .await
    }

    /// Reads a subscription.
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionView, ClientError> {
        self.get(&format!("/v1/subscriptions/{id}")).await
    }

    /// Suspends, resumes or cancels a subscription (`action` is `suspend`, `resume` or `cancel`).
    pub async fn subscription_action(
        &self,
        id: &str,
        action: &str,
    ) -> Result<SubscriptionView, ClientError> {
        self.post(
            &format!("/v1/subscriptions/{id}/{action}"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Activates a device.
    pub async fn activate(
        &self,
        body: &ActivationRequest,
    ) -> Result<ActivationResponse, ClientError> {
        self.post("/v1/activations", body).await
    }

    /// A nonce for a device to prove it holds its key.
    pub async fn activation_challenge(&self) -> Result<ActivationChallenge, ClientError> {
        self.post("/v1/activations/challenge", &serde_json::json!({}))
            .await
    }

    /// Refreshes a device's license. `held`: the highest license or verdict sequence
    /// the device holds (the new license is above it, from the server's memory); without
    /// it the server commits a fresh number.
    pub async fn refresh(
        &self,
        device_id: &str,
        nonce: Option<&str>,
        held: Option<u64>,
    ) -> Result<RefreshResponse, ClientError> {
        let request = RefreshRequest {
            nonce: nonce.map(str::to_owned),
            sequence: held,
            grant_sha256: None,
        };
        self.refresh_with(device_id, &request).await
    }

    /// [`Client::refresh`] with every field of the request, e.g. the grant the device
    /// holds, so that an unchanged grant is not sent again.
    pub async fn refresh_with(
        &self,
        device_id: &str,
        request: &RefreshRequest,
    ) -> Result<RefreshResponse, ClientError> {
        self.post(&format!("/v1/devices/{device_id}/refresh"), request)
            .await
    }

    /// Sends a heartbeat.
    pub async fn heartbeat(
        &self,
        device_id: &str,
        body: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ClientError> {
        self.post(&format!("/v1/devices/{device_id}/heartbeat"), body)
            .await
    }

    /// Uploads a batch of a device's usage events, gzip-compressed (a batch of
    /// similar events shrinks about tenfold, which matters on a metered uplink).
    pub async fn upload_usage(
        &self,
        device_id: &str,
        body: &UsageUpload,
    ) -> Result<UsageUploadResult, ClientError> {
        use std::io::Write as _;
        let json = serde_json::to_vec(body).map_err(|e| ClientError::Unexpected {
            status: 0,
            text: format!("cannot encode the batch: {e}"),
        })?;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(json.len() / 4),
            flate2::Compression::fast(),
        );
        let compressed = encoder
            .write_all(&json)
            .and_then(|()| encoder.finish())
            .map_err(|e| ClientError::Unexpected {
                status: 0,
                text: format!("cannot compress the batch: {e}"),
            })?;
        Self::send(
            self.request(
                reqwest::Method::POST,
                &format!("/v1/devices/{device_id}/usage"),
            )
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(compressed),
        )
        .await
    }

    /// A tenant's invoices for a month as they would be issued now.
    pub async fn invoice_preview(
        &self,
        tenant_id: &str,
        period: &str,
    ) -> Result<TenantInvoices, ClientError> {
        Self::send(
            self.request(
                reqwest::Method::GET,
                &format!("/v1/tenants/{tenant_id}/invoices/preview"),
            )
            .query(&[("period", period)]),
        )
        .await
    }

    /// Imports customers' subscriptions with their existing keys (admin token), or on
    /// a dry run reports what would happen.
    pub async fn import(&self, request: &ImportRequest) -> Result<ImportReport, ClientError> {
        self.post("/v1/imports", request).await
    }

    /// Issues a tenant's invoices for an ended month.
    pub async fn issue_invoices(
        &self,
        tenant_id: &str,
        period: &str,
    ) -> Result<TenantInvoices, ClientError> {
        self.post(
            &format!("/v1/tenants/{tenant_id}/invoices"),
            &InvoiceIssue {
                period: period.into(),
            },
        )
        .await
    }

    /// A tenant's issued invoices.
    pub async fn invoices(&self, tenant_id: &str) -> Result<Vec<InvoiceView>, ClientError> {
        self.get(&format!("/v1/tenants/{tenant_id}/invoices")).await
    }

    /// A tenant's usage, bucketed; `filters` are the query's (`from`, `to`, `window`,
    /// `device_id`, `camera_id`, `meter`).
    pub async fn usage(
        &self,
        tenant_id: &str,
        filters: &[(&str, &str)],
    ) -> Result<UsageSeries, ClientError> {
        Self::send(
            self.request(
                reqwest::Method::GET,
                &format!("/v1/tenants/{tenant_id}/usage"),
            )
            .query(filters),
        )
        .await
    }

    /// Where a tenant's quotas stand this period.
    pub async fn quotas(&self, tenant_id: &str) -> Result<QuotaStatusList, ClientError> {
        self.get(&format!("/v1/tenants/{tenant_id}/quotas")).await
    }

    /// Deactivates a device.
    pub async fn deactivate(&self, device_id: &str) -> Result<(), ClientError> {
        Self::send::<()>(self.request(reqwest::Method::DELETE, &format!("/v1/devices/{device_id}")))
            .await
    }

    /// A tenant's devices.
    pub async fn devices(&self, tenant_id: &str) -> Result<Vec<DeviceView>, ClientError> {
        self.get(&format!("/v1/tenants/{tenant_id}/devices")).await
    }

    /// The server's signing public keys.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyView>, ClientError> {
        self.get("/v1/signing-keys").await
    }

    /// Creates a tenant API key.
    pub async fn create_api_key(&self, body: &ApiKeyCreate) -> Result<ApiKeyCreated, ClientError> {
        self.post("/v1/api-keys", body).await
    }
}
