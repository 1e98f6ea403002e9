//! Which model, provider, base URL and key a turn uses (A2, AD §2.1).
//!
//! `model:` is a name or a map (`default`/`model`/`name`, `provider`, `base_url`, `api_key`,
//! `api_mode`, `context_length`, `max_tokens`); root-level `provider`, `base_url`, `api_base`
//! and `context_length` fill gaps, as Hermes normalises them. The provider is `model.provider`,
//! else `HERMES_INFERENCE_PROVIDER`, else `auto`; `auto` picks a custom endpoint when a base URL
//! is set, else OpenRouter when `OPENROUTER_API_KEY` or `OPENAI_API_KEY` is set, else the first
//! provider whose key is set. Local servers (`ollama`, `lmstudio`, `llamacpp`, `vllm`) are
//! `custom` with their usual URL and need no key.

use super::problem::Problem;
use super::read::{Raw, Reader};
use super::types::{ApiMode, ModelConfig};
use super::yaml::Kind;

/// A provider we can reach: its id, default URL, and the key variables in the order tried
/// (empty = no key needed).
struct Provider {
    id: &'static str,
    base_url: &'static str,
    keys: &'static [&'static str],
    api_mode: ApiMode,
}

const PROVIDERS: &[Provider] = &[
    Provider {
        id: "openrouter",
        base_url: "https://openrouter.ai/api/v1",
        keys: &["OPENROUTER_API_KEY", "OPENAI_API_KEY"],
        api_mode: ApiMode::OpenAiChat,
    },
    Provider {
        id: "openai",
        base_url: "https://api.openai.com/v1",
        keys: &["OPENAI_API_KEY"],
        api_mode: ApiMode::OpenAiChat,
    },
    Provider {
        id: "nous",
        base_url: "https://inference-api.nousresearch.com/v1",
        keys: &["NOUS_API_KEY"],
        api_mode: ApiMode::OpenAiChat,
    },
    Provider {
        id: "anthropic",
        base_url: "https://api.anthropic.com",
        keys: &["ANTHROPIC_API_KEY"],
        api_mode: ApiMode::AnthropicMessages,
    },
    Provider { id: "custom", base_url: "", keys: &[], api_mode: ApiMode::OpenAiChat },
];

/// Where a user should look when `provider` rejects the key (for the model's 401 message).
pub fn key_hint(provider: &str) -> String {
    match PROVIDERS.iter().find(|p| p.id == provider).and_then(|p| p.keys.first()) {
        Some(var) => format!("{var} (or model.api_key)"),
        None => "model.api_key in config.yaml".to_string(),
    }
}

/// Local servers: resolved as `custom` with their default URL.
const LOCAL: &[(&str, &str)] = &[
    ("ollama", "http://127.0.0.1:11434/v1"),
    ("lmstudio", "http://127.0.0.1:1234/v1"),
    ("llamacpp", "http://127.0.0.1:8080/v1"),
    ("llama.cpp", "http://127.0.0.1:8080/v1"),
    ("vllm", "http://127.0.0.1:8000/v1"),
];

/// Resolves `model:`; problems go to the reader. `None` when the model cannot be used.
pub fn resolve(r: &Reader) -> Option<ModelConfig> {
    let before = r.problem_count();
    let model_node = r.node("model");
    let (mut name, is_map) = match model_node {
        Some((k, v)) => match &v.kind {
            Kind::Scalar(_) => (Some(r.raw_of(k, v, "model")), false),
            Kind::Map(_) => (None, true),
            _ => {
                let raw = r.raw_of(k, v, "model");
                r.wrong(&raw, "a model name or a section with `default:` and `provider:`");
                return None;
            }
        },
        None => (None, false),
    };
    let field = |r: &Reader, key: &str| {
        if is_map { r.cfg(&format!("model.{key}")) } else { None }
    };
    if is_map {
        name = field(r, "default").or_else(|| field(r, "model")).or_else(|| field(r, "name"));
    }
    let provider_raw =
        field(r, "provider").or_else(|| r.cfg("provider")).or_else(|| r.env("HERMES_INFERENCE_PROVIDER"));
    let base_url_raw = field(r, "base_url").or_else(|| r.cfg("base_url")).or_else(|| r.cfg("api_base"));
    let api_key = r.string(field(r, "api_key")).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let api_mode_raw = field(r, "api_mode");
    let context_length = r.int(field(r, "context_length").or_else(|| r.cfg("context_length")), 1, i64::MAX);
    let max_tokens = r.int(field(r, "max_tokens"), 1, i64::MAX);

    let name_key = if is_map { "model.default" } else { "model" };
    let name = match r.string(name.clone()).map(|s| s.trim().to_string()) {
        Some(n) if !n.is_empty() => Some(n),
        Some(_) => {
            r.wrong(name.as_ref()?, "a model name");
            None
        }
        None => {
            r.report(Problem::new(
                r.file,
                model_node.map(|(k, _)| k.line),
                name_key,
                "no model is set; write `model:` with `default: <model name>` and `provider:` in config.yaml",
            ));
            None
        }
    };

    let mut base_url = match r.string(base_url_raw.clone()) {
        Some(url) if !url.trim().is_empty() => {
            let url = url.trim().trim_end_matches('/').to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                r.wrong(base_url_raw.as_ref()?, "an http:// or https:// URL");
            }
            Some(url)
        }
        _ => None,
    };

    let requested = r.string(provider_raw.clone()).map(|p| p.trim().to_ascii_lowercase()).unwrap_or_default();
    let requested = match requested.as_str() {
        "" => "auto".to_string(),
        "claude" => "anthropic".to_string(),
        other => other.to_string(),
    };
    let provider: &Provider = if let Some((_, url)) = LOCAL.iter().find(|(id, _)| *id == requested) {
        base_url.get_or_insert_with(|| url.to_string());
        custom()
    } else if requested == "auto" {
        match auto(r, base_url.as_deref()) {
            Some(p) => p,
            None => {
                r.report(Problem::new(
                    r.file,
                    model_node.map(|(k, _)| k.line),
                    "model.provider",
                    "no provider is set and no provider key was found; set `model.provider` in config.yaml \
                     and its key in .env (e.g. OPENROUTER_API_KEY)",
                ));
                return None;
            }
        }
    } else {
        match PROVIDERS.iter().find(|p| p.id == requested) {
            Some(p) => p,
            None => {
                let mut known: Vec<&str> = PROVIDERS.iter().map(|p| p.id).collect();
                known.extend(LOCAL.iter().map(|(id, _)| *id));
                let raw = provider_raw.as_ref()?;
                r.wrong(raw, &format!("a provider this build supports ({})", known.join(", ")));
                return None;
            }
        }
    };

    if provider.id == "custom" && base_url.is_none() {
        base_url = r.env("CUSTOM_BASE_URL").and_then(|raw| raw.text.ok()).map(|u| u.trim_end_matches('/').to_string());
    }
    if provider.id == "openrouter" && base_url.is_none() {
        base_url =
            r.env("OPENROUTER_BASE_URL").and_then(|raw| raw.text.ok()).map(|u| u.trim_end_matches('/').to_string());
    }
    let base_url = match base_url {
        Some(url) => url,
        None if provider.base_url.is_empty() => {
            r.report(Problem::new(
                r.file,
                model_node.map(|(k, _)| k.line),
                "model.base_url",
                "provider custom needs the server's URL: set `model.base_url` (e.g. http://127.0.0.1:8080/v1) \
                 or CUSTOM_BASE_URL",
            ));
            return None;
        }
        None => provider.base_url.to_string(),
    };

    let api_key = api_key.or_else(|| key_from_env(r, provider, &base_url));
    if api_key.is_none() && !provider.keys.is_empty() {
        r.report(Problem::new(
            r.file,
            model_node.map(|(k, _)| k.line),
            "model.api_key",
            format!(
                "provider {} needs an API key: set {} in .env (or `model.api_key` in config.yaml)",
                provider.id, provider.keys[0]
            ),
        ));
    }

    let mut api_mode = if base_url.trim_end_matches('/').ends_with("/anthropic") {
        ApiMode::AnthropicMessages
    } else {
        provider.api_mode
    };
    if let Some(mode) = r.choice(
        api_mode_raw.clone(),
        &[("chat_completions", ApiMode::OpenAiChat), ("anthropic_messages", ApiMode::AnthropicMessages)],
    ) {
        api_mode = mode;
    }
    if api_mode == ApiMode::AnthropicMessages {
        let raw = api_mode_raw.or(provider_raw).unwrap_or_else(|| Raw {
            text: Ok(provider.id.to_string()),
            file: r.file.to_string(),
            line: model_node.map(|(k, _)| k.line),
            key: "model.provider".into(),
        });
        r.problem(
            &raw,
            "the Anthropic Messages API is not supported by this build yet; use an OpenAI-compatible \
             endpoint (provider openrouter, openai, nous or custom)",
        );
    }

    if r.problem_count() > before {
        return None;
    }
    Some(ModelConfig {
        name: name?,
        provider: provider.id.to_string(),
        api_mode,
        base_url,
        api_key,
        context_length: context_length.map(|n| n as u64),
        max_tokens: max_tokens.map(|n| n as u64),
    })
}

fn custom() -> &'static Provider {
    PROVIDERS.iter().find(|p| p.id == "custom").expect("custom provider")
}

/// `auto`: a configured base URL means that endpoint; otherwise the first provider whose key
/// is set, OpenRouter first (it also takes `OPENAI_API_KEY`, as Hermes does).
fn auto(r: &Reader, base_url: Option<&str>) -> Option<&'static Provider> {
    if let Some(url) = base_url {
        let host = host_of(url);
        return Some(if host == "openrouter.ai" { PROVIDERS.iter().find(|p| p.id == "openrouter")? } else { custom() });
    }
    PROVIDERS.iter().find(|p| p.keys.iter().any(|k| r.env(k).is_some()))
}

/// The provider's key variables in order; a custom endpoint on `*.openai.com` takes
/// `OPENAI_API_KEY`, and one on `ollama.com` takes `OLLAMA_API_KEY`.
fn key_from_env(r: &Reader, provider: &Provider, base_url: &str) -> Option<String> {
    let host = host_of(base_url);
    let extra: &[&str] = if provider.id != "custom" {
        &[]
    } else if host == "openai.com" || host.ends_with(".openai.com") {
        &["OPENAI_API_KEY"]
    } else if host == "ollama.com" || host.ends_with(".ollama.com") {
        &["OLLAMA_API_KEY"]
    } else {
        &[]
    };
    provider.keys.iter().chain(extra).find_map(|k| r.env(k)).and_then(|raw| raw.text.ok())
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split(':').next().unwrap_or("").to_ascii_lowercase()
}
