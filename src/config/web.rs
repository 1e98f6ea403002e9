//! `web.*` (web_search, web_extract) and `memory.*` (the memory tool and its prompt snapshot).

use super::read::Reader;

/// Which search service `web_search` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchBackend {
    Searxng,
    Brave,
    Tavily,
}

#[derive(Clone, Debug)]
pub struct WebConfig {
    /// `web.search_backend` or `web.backend`; `None`: the first one configured in the environment.
    pub backend: Option<SearchBackend>,
    /// `web.allow_private_urls`: lets web_extract reach loopback and private networks.
    pub allow_private_urls: bool,
    /// `web.extract_char_limit`, default 15 000: the text kept per page.
    pub extract_char_limit: usize,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig { backend: None, allow_private_urls: false, extract_char_limit: 15_000 }
    }
}

#[derive(Clone, Debug)]
pub struct MemoryConfig {
    pub memory_enabled: bool,
    pub user_profile_enabled: bool,
    /// `memory.memory_char_limit`, default 2200 (characters of MEMORY.md).
    pub memory_char_limit: usize,
    /// `memory.user_char_limit`, default 1375 (characters of USER.md).
    pub user_char_limit: usize,
}

impl Default for MemoryConfig {
    fn default() -> MemoryConfig {
        MemoryConfig {
            memory_enabled: true,
            user_profile_enabled: true,
            memory_char_limit: 2200,
            user_char_limit: 1375,
        }
    }
}

pub fn web(r: &Reader) -> WebConfig {
    let d = WebConfig::default();
    // Hermes knows more backends (exa, firecrawl, ...): one this build lacks falls back to the
    // environment with a warning instead of failing the whole configuration.
    let backend = r.string(r.cfg("web.search_backend").or_else(|| r.cfg("web.backend"))).and_then(|name| {
        match name.trim().to_ascii_lowercase().as_str() {
            "searxng" => Some(SearchBackend::Searxng),
            "brave" => Some(SearchBackend::Brave),
            "tavily" => Some(SearchBackend::Tavily),
            "" => None,
            other => {
                log::warn!(
                    "web.backend {other:?} is not available here (searxng, brave, tavily); using the environment"
                );
                None
            }
        }
    });
    WebConfig {
        backend,
        allow_private_urls: r.bool(r.cfg("web.allow_private_urls")).unwrap_or(false),
        extract_char_limit: r
            .int(r.cfg("web.extract_char_limit"), 2000, 1_000_000)
            .map_or(d.extract_char_limit, |n| n as usize),
    }
}

pub fn memory(r: &Reader) -> MemoryConfig {
    let d = MemoryConfig::default();
    MemoryConfig {
        memory_enabled: r.bool(r.cfg("memory.memory_enabled")).unwrap_or(true),
        user_profile_enabled: r.bool(r.cfg("memory.user_profile_enabled")).unwrap_or(true),
        memory_char_limit: r
            .int(r.cfg("memory.memory_char_limit"), 100, 1_000_000)
            .map_or(d.memory_char_limit, |n| n as usize),
        user_char_limit: r
            .int(r.cfg("memory.user_char_limit"), 100, 1_000_000)
            .map_or(d.user_char_limit, |n| n as usize),
    }
}
