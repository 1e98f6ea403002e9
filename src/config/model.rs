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
use super::types::{ApiMode, ModelConfig, Pricing};
use super::yaml::{Kind, Node};

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

    let fields = Fields {
        section: "model",
        line: model_node.map(|(k, _)| k.line),
        provider: provider_raw,
        base_url: base_url_raw,
        api_key,
        api_mode: api_mode_raw,
    };
    let endpoint = endpoint(r, &fields, None);
    let pricing = if is_map { pricing(r) } else { None };
    if r.problem_count() > before {
        return None;
    }
    let (provider, base_url, api_key, api_mode) = endpoint?;
    Some(ModelConfig {
        name: name?,
        provider,
        api_mode,
        base_url,
        api_key,
        context_length: context_length.map(|n| n as u64),
        max_tokens: max_tokens.map(|n| n as u64),
        pricing,
    })
}

/// Where one model entry says to go, as written: the primary `model:` or a fallback item.
struct Fields {
    /// The key prefix for problems: `model` or `fallback_providers[1]`.
    section: &'static str,
    line: Option<usize>,
    provider: Option<Raw>,
    base_url: Option<Raw>,
    api_key: Option<String>,
    api_mode: Option<Raw>,
}

/// Provider id, base URL, key and wire protocol of one entry. Problems go to the reader; a
/// missing key goes to `warnings` instead when given (a fallback entry is then skipped).
fn endpoint(
    r: &Reader,
    f: &Fields,
    warnings: Option<&mut Vec<Problem>>,
) -> Option<(String, String, Option<String>, ApiMode)> {
    let key = |name: &str| format!("{}.{name}", f.section);
    let mut base_url = match r.string(f.base_url.clone()) {
        Some(url) if !url.trim().is_empty() => {
            let url = url.trim().trim_end_matches('/').to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                r.wrong(f.base_url.as_ref()?, "an http:// or https:// URL");
            }
            Some(url)
        }
        _ => None,
    };

    let requested = r.string(f.provider.clone()).map(|p| p.trim().to_ascii_lowercase()).unwrap_or_default();
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
                    f.line,
                    &key("provider"),
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
                let raw = f.provider.as_ref()?;
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
                f.line,
                &key("base_url"),
                "provider custom needs the server's URL: set `model.base_url` (e.g. http://127.0.0.1:8080/v1) \
                 or CUSTOM_BASE_URL",
            ));
            return None;
        }
        None => provider.base_url.to_string(),
    };

    let api_key = f.api_key.clone().or_else(|| key_from_env(r, provider, &base_url));
    if api_key.is_none() && !provider.keys.is_empty() {
        let p = Problem::new(
            r.file,
            f.line,
            &key("api_key"),
            format!(
                "provider {} needs an API key: set {} in .env (or `{}` in config.yaml)",
                provider.id,
                provider.keys[0],
                key("api_key")
            ),
        );
        match warnings {
            Some(w) => w.push(Problem { message: format!("{}; this fallback is skipped", p.message), ..p }),
            None => r.report(p),
        }
        return None;
    }

    // A base URL ending in `/anthropic` speaks the Messages API (AD §2.1).
    let mut api_mode = if base_url.ends_with("/anthropic") { ApiMode::AnthropicMessages } else { provider.api_mode };
    if let Some(mode) = r.choice(
        f.api_mode.clone(),
        &[("chat_completions", ApiMode::OpenAiChat), ("anthropic_messages", ApiMode::AnthropicMessages)],
    ) {
        api_mode = mode;
    }
    Some((provider.id.to_string(), base_url, api_key, api_mode))
}

/// `fallback_providers:` (a list) then `fallback_model:` (one entry or a list), deduplicated by
/// (provider, model, base URL) and without the primary itself (AD §2.2). An entry whose key is
/// missing is a warning and left out; other mistakes are problems like the primary's.
pub fn fallbacks(r: &Reader, primary: Option<&ModelConfig>, warnings: &mut Vec<Problem>) -> Vec<ModelConfig> {
    let mut out: Vec<ModelConfig> = Vec::new();
    for path in ["fallback_providers", "fallback_model"] {
        let Some((k, node)) = r.node(path) else { continue };
        let items: Vec<&Node> = match &node.kind {
            Kind::Seq(items) => items.iter().collect(),
            Kind::Map(_) => vec![node],
            _ => {
                r.wrong(&r.raw_of(k, node, path), "a list of `{provider, model, base_url?, api_key?}` entries");
                continue;
            }
        };
        for item in items {
            let section: &'static str = if path == "fallback_model" { "fallback_model" } else { "fallback_providers" };
            if !matches!(item.kind, Kind::Map(_)) {
                r.wrong(&r.raw_of(k, item, path), "an entry with `provider:` and `model:`");
                continue;
            }
            let field = |name: &str| item.get(name).map(|(fk, fv)| r.raw_of(fk, fv, &format!("{path}.{name}")));
            let name = r.string(field("model").or_else(|| field("default"))).map(|s| s.trim().to_string());
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                r.wrong(&r.raw_of(k, item, path), "an entry with `model:` (the fallback's model name)");
                continue;
            };
            let fields = Fields {
                section,
                line: Some(item.line),
                provider: field("provider"),
                base_url: field("base_url"),
                api_key: r.string(field("api_key")).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()),
                api_mode: field("api_mode"),
            };
            let Some((provider, base_url, api_key, api_mode)) = endpoint(r, &fields, Some(warnings)) else { continue };
            let same = |m: &ModelConfig| m.provider == provider && m.name == name && m.base_url == base_url;
            if primary.is_some_and(same) || out.iter().any(same) {
                continue;
            }
            out.push(ModelConfig {
                name,
                provider,
                api_mode,
                base_url,
                api_key,
                context_length: None,
                max_tokens: None,
                pricing: None,
            });
        }
    }
    out
}

/// `model.pricing.{input, output, cache_read, cache_write}`, USD per million tokens.
fn pricing(r: &Reader) -> Option<Pricing> {
    r.section("model.pricing")?;
    let price = |name: &str| {
        let raw = r.cfg(&format!("model.pricing.{name}"))?;
        match raw.text.as_deref().ok().and_then(|s| s.trim().parse::<f64>().ok()) {
            Some(v) if v.is_finite() && v >= 0.0 => Some(v),
            _ => {
                r.wrong(&raw, "a price in USD per million tokens (0 or more)");
                None
            }
        }
    };
    Some(Pricing {
        input: price("input").unwrap_or(0.0),
        output: price("output").unwrap_or(0.0),
        cache_read: price("cache_read").unwrap_or(0.0),
        cache_write: price("cache_write").unwrap_or(0.0),
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
