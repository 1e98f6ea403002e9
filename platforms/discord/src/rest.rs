//! One REST call to Discord, with its rate-limit bookkeeping and typed errors.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hermes_platform::SendError;

use crate::ratelimit::{Headers, Limits, route_key};
use crate::wire::ErrorBody;

/// A wait for a rate-limit bucket up to this long happens inside the call; a longer one is
/// handed to the gateway as `RateLimited`.
const INLINE_WAIT: Duration = Duration::from_secs(2);
const BODY_LIMIT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    Status {
        code: u16,
        message: String,
        error_code: Option<i64>,
    },
    RateLimited(Duration),
    /// The request surely did not leave.
    NotSent(String),
    /// The request left and the answer was lost.
    Lost(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Status { code, message, .. } => write!(f, "HTTP {code}: {message}"),
            ApiError::RateLimited(d) => write!(f, "rate limited for {:.1} s", d.as_secs_f32()),
            ApiError::NotSent(m) => write!(f, "network error: {m}"),
            ApiError::Lost(m) => write!(f, "answer lost: {m}"),
        }
    }
}

impl ApiError {
    pub fn to_send_error(&self) -> SendError {
        match self {
            ApiError::RateLimited(d) => SendError::RateLimited { retry_after: *d },
            // 50035 Invalid Form Body: for a message that is the length (2000) in practice.
            ApiError::Status { code: 400, message, error_code: Some(50035) } if message.contains("length") => {
                SendError::TooLong
            }
            ApiError::Status { code: 401, message, .. } => {
                SendError::Fatal(format!("Discord rejected the bot token: {message}"))
            }
            ApiError::Status { code: 403, message, .. } => SendError::Forbidden(message.clone()),
            ApiError::Status { code: 404, message, .. } => SendError::NotFound(message.clone()),
            ApiError::Status { code, message, .. } if *code >= 500 => {
                SendError::network(format!("Discord HTTP {code}: {message}"))
            }
            ApiError::Status { message, .. } => SendError::Fatal(message.clone()),
            ApiError::NotSent(m) => SendError::network(m.clone()),
            ApiError::Lost(m) => SendError::Transient { message: m.clone(), maybe_delivered: true },
        }
    }
}

/// Where the REST API lives, the token, and the shared rate-limit state. Never prints the token.
#[derive(Clone)]
pub(crate) struct Api {
    pub base: String,
    token: String,
    pub agent: ureq::Agent,
    pub limits: Arc<Limits>,
}

impl Api {
    pub fn new(base: &str, token: &str, agent: ureq::Agent) -> Self {
        Api { base: base.to_string(), token: token.to_string(), agent, limits: Arc::default() }
    }

    /// `method path` with an optional JSON body; the answer's text on 2xx.
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, ApiError> {
        let route = route_key(method, path);
        let wait = self.limits.wait(&route, Instant::now());
        if wait > INLINE_WAIT {
            return Err(ApiError::RateLimited(wait));
        }
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        let url = format!("{}{}", self.base, path);
        let auth = format!("Bot {}", self.token);
        let ua = format!("DiscordBot (https://github.com/hermes-lite, {}) hermes-lite", env!("CARGO_PKG_VERSION"));
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("authorization", &auth).header("user-agent", &ua).call(),
            ("DELETE", _) => self.agent.delete(&url).header("authorization", &auth).header("user-agent", &ua).call(),
            (_, body) => {
                let builder = match method {
                    "PATCH" => self.agent.patch(&url),
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                let builder = builder.header("authorization", &auth).header("user-agent", &ua);
                match body {
                    Some(json) => builder.content_type("application/json").send(json),
                    None => builder.send_empty(),
                }
            }
        };
        let response = response.map_err(|e| network_error(&route, &e, false))?;
        let status = response.status().as_u16();
        let headers = rate_headers(response.headers());
        let now = Instant::now();
        let text = response
            .into_body()
            .with_config()
            .limit(BODY_LIMIT)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| network_error(&route, &e, true))?;
        if (200..300).contains(&status) {
            self.limits.update(&route, &headers, now);
            return Ok(text);
        }
        let body: ErrorBody = miniserde::json::from_str(&text).unwrap_or_default();
        if status == 429 {
            let wait = self.limits.limited(&route, &headers, body.retry_after, body.global.unwrap_or(false), now);
            log::warn!("discord: {route} rate limited for {:.2} s", wait.as_secs_f32());
            return Err(ApiError::RateLimited(wait));
        }
        self.limits.update(&route, &headers, now);
        let message = body.message.unwrap_or_else(|| text.chars().take(200).collect());
        Err(ApiError::Status { code: status, message, error_code: body.code })
    }
}

fn rate_headers(h: &ureq::http::HeaderMap) -> Headers {
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
    Headers {
        bucket: get("x-ratelimit-bucket"),
        remaining: get("x-ratelimit-remaining").and_then(|v| v.parse().ok()),
        reset_after: get("x-ratelimit-reset-after").and_then(|v| v.parse().ok()),
        global: get("x-ratelimit-global").is_some_and(|v| v.eq_ignore_ascii_case("true")),
        retry_after: get("retry-after").and_then(|v| v.parse().ok()),
    }
}

/// Sorts a ureq error into "surely not sent" and "maybe sent" (after a read began: maybe sent).
fn network_error(route: &str, error: &ureq::Error, reading: bool) -> ApiError {
    let message = format!("{route}: {error}");
    if !reading && hermes_platform::http::never_left(error) {
        ApiError::NotSent(message)
    } else {
        ApiError::Lost(message)
    }
}
