//! One Bot API call: `POST {base}{token}/{method}` with a JSON body, and what can go wrong.
//!
//! Errors keep what the gateway needs to decide about retries: the Bot API's `error_code`,
//! `description` and `retry_after`, and for network failures whether the request may already
//! have reached Telegram (a lost answer to `sendMessage` must not be resent blindly).

use std::time::Duration;

use hermes_platform::SendError;
use miniserde::Deserialize;

use crate::upload::Multipart;
use crate::wire::{Body, Envelope, Head};

/// Bodies of short calls are small; `getUpdates` can carry many large messages.
pub(crate) const SHORT_BODY_LIMIT: u64 = 4 * 1024 * 1024;
pub(crate) const POLL_BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// Telegram answered with an error (`ok: false` or a non-2xx status).
    Status { code: u16, description: String, retry_after: Option<Duration> },
    /// The request surely did not reach Telegram (DNS, connect, TLS).
    NotSent(String),
    /// The request was sent but the answer was lost (timeout or reset while reading).
    Lost(String),
    /// Telegram answered 2xx with something that is not the expected JSON.
    Decode(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Status { code, description, .. } => write!(f, "HTTP {code}: {description}"),
            ApiError::NotSent(m) => write!(f, "network error: {m}"),
            ApiError::Lost(m) => write!(f, "answer lost: {m}"),
            ApiError::Decode(m) => write!(f, "unexpected answer: {m}"),
        }
    }
}

impl ApiError {
    pub fn code(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for a 400 whose description contains `needle` (case-insensitive).
    pub fn is_bad_request(&self, needle: &str) -> bool {
        match self {
            ApiError::Status { code: 400, description, .. } => {
                description.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
            }
            _ => false,
        }
    }

    /// The outbound error kind the gateway retries by.
    pub fn to_send_error(&self) -> SendError {
        match self {
            ApiError::Status { code: 429, retry_after, .. } => {
                SendError::RateLimited { retry_after: retry_after.unwrap_or(Duration::from_secs(1)) }
            }
            ApiError::Status { code: 403, description, .. } => SendError::Forbidden(description.clone()),
            ApiError::Status { code: 400, description, .. } if is_not_found(description) => {
                SendError::NotFound(description.clone())
            }
            ApiError::Status { code: 400, description, .. }
                if description.to_ascii_lowercase().contains("too long") =>
            {
                SendError::TooLong
            }
            ApiError::Status { code, description, .. } if *code >= 500 => {
                SendError::network(format!("Telegram HTTP {code}: {description}"))
            }
            ApiError::Status { code: 401 | 404, description, .. } => {
                SendError::Fatal(format!("Telegram rejected the bot token: {description}"))
            }
            ApiError::Status { description, .. } => SendError::Fatal(description.clone()),
            ApiError::NotSent(m) => SendError::network(m.clone()),
            ApiError::Lost(m) => SendError::Transient { message: m.clone(), maybe_delivered: true },
            ApiError::Decode(m) => SendError::Transient { message: m.clone(), maybe_delivered: true },
        }
    }
}

fn is_not_found(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    ["not found", "message to edit not found", "message to delete not found", "chat not found"]
        .iter()
        .any(|needle| d.contains(needle))
}

/// Where the Bot API lives for this bot. The token is part of every URL, so this type never
/// prints it.
#[derive(Clone)]
pub(crate) struct Api {
    /// Ends with `/bot`.
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Api { base: base.to_string(), token: token.to_string() }
    }

    fn url(&self, method: &str) -> String {
        format!("{}{}/{}", self.base, self.token, method)
    }

    /// Fetches a file `getFile` named: `{server}/file/bot{token}/{file_path}`.
    pub fn download(&self, agent: &ureq::Agent, file_path: &str, limit: u64) -> Result<Vec<u8>, ApiError> {
        let server = self.base.strip_suffix("/bot").unwrap_or(&self.base);
        let url = format!("{server}/file/bot{}/{}", self.token, file_path.trim_start_matches('/'));
        let response = agent.get(&url).call().map_err(|e| network_error("download", &e, false))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(ApiError::Status {
                code: status,
                description: "file download failed".into(),
                retry_after: None,
            });
        }
        response.into_body().with_config().limit(limit).read_to_vec().map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => ApiError::Decode("the file is over the download limit".into()),
            e => network_error("download", &e, true),
        })
    }

    /// Calls `method` and decodes its `result` as `T`.
    pub fn call<T: Deserialize>(
        &self,
        agent: &ureq::Agent,
        method: &str,
        body: &Body,
        limit: u64,
    ) -> Result<T, ApiError> {
        let text = self.call_raw(agent, method, body, limit)?;
        let envelope: Envelope<T> = miniserde::json::from_str(&text)
            .map_err(|_| ApiError::Decode(format!("{method}: the result is not what the Bot API documents")))?;
        envelope.result.ok_or_else(|| ApiError::Decode(format!("{method}: no result")))
    }

    /// Calls `method` and returns the whole answer when Telegram said `ok`.
    pub fn call_raw(&self, agent: &ureq::Agent, method: &str, body: &Body, limit: u64) -> Result<String, ApiError> {
        let response = agent.post(&self.url(method)).content_type("application/json").send(body.to_json());
        read_answer(method, response, limit)
    }

    /// Calls `method` with a `multipart/form-data` body (file uploads).
    pub fn call_multipart(
        &self,
        agent: &ureq::Agent,
        method: &str,
        form: Multipart,
        limit: u64,
    ) -> Result<String, ApiError> {
        let response = agent.post(&self.url(method)).content_type(form.content_type()).send(form.into_bytes());
        read_answer(method, response, limit)
    }
}

/// Reads an answer and returns its text when Telegram said `ok`.
fn read_answer(
    method: &str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    limit: u64,
) -> Result<String, ApiError> {
    let response = response.map_err(|e| network_error(method, &e, false))?;
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .with_config()
        .limit(limit)
        .lossy_utf8(true)
        .read_to_string()
        .map_err(|e| network_error(method, &e, true))?;
    // The status fields only: `result` is skipped here and decoded once by the caller.
    let envelope: Option<Head> = miniserde::json::from_str(&text).ok();
    let ok = envelope.as_ref().and_then(|e| e.ok).unwrap_or(false);
    if (200..300).contains(&status) && ok {
        return Ok(text);
    }
    let (code, description, retry_after) = match envelope {
        Some(e) => (
            e.error_code.and_then(|c| u16::try_from(c).ok()).unwrap_or(status),
            e.description.unwrap_or_default(),
            e.parameters.and_then(|p| p.retry_after).map(Duration::from_secs),
        ),
        None => (status, text.chars().take(200).collect(), None),
    };
    // A 2xx without `ok: true` is not an answer the Bot API gives; treat it as a bad answer.
    if (200..300).contains(&status) && code == status {
        return Err(ApiError::Decode(format!("{method}: {description}")));
    }
    Err(ApiError::Status { code, description, retry_after })
}

/// Sorts a ureq error into "surely not sent" and "maybe sent" (after a read began: maybe sent).
fn network_error(method: &str, error: &ureq::Error, reading: bool) -> ApiError {
    let message = format!("{method}: {error}");
    if !reading && hermes_platform::http::never_left(error) {
        ApiError::NotSent(message)
    } else {
        ApiError::Lost(message)
    }
}
