//! One client-server API call and what can go wrong (Matrix error shape:
//! `{"errcode": "M_…", "error": "…", "retry_after_ms": …}`).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use hermes_platform::SendError;
use miniserde::json::Value;

use crate::json::{str_at, u64_at};

pub(crate) const BODY_LIMIT: u64 = 4 * 1024 * 1024;
pub(crate) const SYNC_BODY_LIMIT: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// The homeserver answered with a non-2xx status.
    Status { code: u16, errcode: String, error: String, retry_after: Option<Duration> },
    /// The request surely did not reach the homeserver.
    NotSent(String),
    /// The request was sent but the answer was lost.
    Lost(String),
    /// A 2xx whose body is not JSON.
    Decode(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Status { code, errcode, error, .. } => write!(f, "HTTP {code} {errcode}: {error}"),
            ApiError::NotSent(m) => write!(f, "network error: {m}"),
            ApiError::Lost(m) => write!(f, "answer lost: {m}"),
            ApiError::Decode(m) => write!(f, "unexpected answer: {m}"),
        }
    }
}

impl ApiError {
    pub fn errcode(&self) -> Option<&str> {
        match self {
            ApiError::Status { errcode, .. } => Some(errcode),
            _ => None,
        }
    }

    /// The access token is invalid (logged out, expired, deleted device).
    pub fn is_unknown_token(&self) -> bool {
        matches!(self, ApiError::Status { code: 401, .. }) || self.errcode() == Some("M_UNKNOWN_TOKEN")
    }

    /// How long the homeserver asked us to wait, for `M_LIMIT_EXCEEDED` / 429.
    pub fn rate_limit(&self) -> Option<Duration> {
        match self {
            ApiError::Status { code, errcode, retry_after, .. } if *code == 429 || errcode == "M_LIMIT_EXCEEDED" => {
                Some(retry_after.unwrap_or(Duration::from_secs(1)))
            }
            _ => None,
        }
    }

    pub fn to_send_error(&self) -> SendError {
        if let Some(wait) = self.rate_limit() {
            return SendError::RateLimited { retry_after: wait };
        }
        match self {
            ApiError::Status { code: 413, .. } => SendError::TooLong,
            ApiError::Status { errcode, .. } if errcode == "M_TOO_LARGE" => SendError::TooLong,
            ApiError::Status { code: 403, error, .. } => SendError::Forbidden(error.clone()),
            ApiError::Status { code: 404, error, .. } => SendError::NotFound(error.clone()),
            ApiError::Status { code: 401, error, .. } => {
                SendError::Fatal(format!("the homeserver rejected the access token: {error}"))
            }
            ApiError::Status { code, errcode, error, .. } if *code >= 500 => {
                SendError::network(format!("Matrix HTTP {code} {errcode}: {error}"))
            }
            ApiError::Status { errcode, error, .. } => SendError::Fatal(format!("{errcode}: {error}")),
            ApiError::NotSent(m) => SendError::network(m.clone()),
            ApiError::Lost(m) | ApiError::Decode(m) => {
                SendError::Transient { message: m.clone(), maybe_delivered: true }
            }
        }
    }
}

/// The homeserver and the current access token (replaced after a re-login). Never printed.
#[derive(Clone)]
pub(crate) struct Api {
    base: String,
    token: Arc<RwLock<String>>,
}

/// Percent-encodes one path segment or query value (room ids hold `!` and `:`, user ids `@`).
pub(crate) fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Api {
    pub fn new(homeserver: &str, token: &str) -> Self {
        Api { base: homeserver.trim_end_matches('/').to_string(), token: Arc::new(RwLock::new(token.to_string())) }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn set_token(&self, token: &str) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = token.to_string();
    }

    pub fn token(&self) -> String {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `method` `/_matrix/client/v3{path}` with `query` (already encoded) and an optional JSON body.
    pub fn call(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        query: &str,
        body: Option<&Value>,
        limit: u64,
    ) -> Result<Value, ApiError> {
        let mut url = format!("{}/_matrix/client/v3{path}", self.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        let token = self.token();
        let auth = format!("Bearer {token}");
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
            ("PUT", b) => agent
                .put(&url)
                .header("Authorization", &auth)
                .content_type("application/json")
                .send(b.map(miniserde::json::to_string).unwrap_or_else(|| "{}".into())),
            (_, b) => {
                let mut req = agent.post(&url).content_type("application/json");
                if !token.is_empty() {
                    req = req.header("Authorization", &auth);
                }
                req.send(b.map(miniserde::json::to_string).unwrap_or_else(|| "{}".into()))
            }
        };
        let response = response.map_err(|e| network_error(&what, &e, false))?;
        let status = response.status().as_u16();
        let header_wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = response
            .into_body()
            .with_config()
            .limit(limit)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| network_error(&what, &e, true))?;
        let json: Option<Value> = miniserde::json::from_str(&text).ok();
        if (200..300).contains(&status) {
            return json.ok_or_else(|| ApiError::Decode(format!("{what}: the answer is not JSON")));
        }
        let (errcode, error, retry_ms) = match &json {
            Some(v) => (
                str_at(v, &["errcode"]).unwrap_or("").to_string(),
                str_at(v, &["error"]).unwrap_or("").to_string(),
                u64_at(v, &["retry_after_ms"]),
            ),
            None => (String::new(), text.chars().take(200).collect(), None),
        };
        Err(ApiError::Status {
            code: status,
            errcode,
            error,
            retry_after: retry_ms.map(Duration::from_millis).or(header_wait),
        })
    }
}

impl Api {
    /// `POST /_matrix/media/v3/upload`; the answer holds the `content_uri`.
    pub fn upload(&self, agent: &ureq::Agent, name: &str, mime: &str, bytes: Vec<u8>) -> Result<Value, ApiError> {
        let url = format!("{}/_matrix/media/v3/upload?filename={}", self.base, enc(name));
        let response = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token()))
            .content_type(mime)
            .send(bytes)
            .map_err(|e| network_error("upload", &e, false))?;
        let status = response.status().as_u16();
        let text = response
            .into_body()
            .with_config()
            .limit(BODY_LIMIT)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| network_error("upload", &e, true))?;
        let json: Option<Value> = miniserde::json::from_str(&text).ok();
        match json {
            Some(v) if (200..300).contains(&status) => Ok(v),
            Some(v) => Err(ApiError::Status {
                code: status,
                errcode: str_at(&v, &["errcode"]).unwrap_or("").to_string(),
                error: str_at(&v, &["error"]).unwrap_or("").to_string(),
                retry_after: u64_at(&v, &["retry_after_ms"]).map(Duration::from_millis),
            }),
            None => Err(ApiError::Decode(format!("upload: HTTP {status}, not JSON"))),
        }
    }
}

/// Sorts a ureq error into "surely not sent" and "maybe sent" (after a read began: maybe sent).
fn network_error(what: &str, error: &ureq::Error, reading: bool) -> ApiError {
    let message = format!("{what}: {error}");
    if !reading && hermes_platform::http::never_left(error) {
        ApiError::NotSent(message)
    } else {
        ApiError::Lost(message)
    }
}
