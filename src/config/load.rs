//! Builds a [`Config`] from a home directory and the process environment, collecting every
//! problem (see the module docs for the order of sources).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hermes_platform::settings::SettingValue;

use super::problem::Problem;
use super::read::Reader;
use super::types::Config;
use super::yaml::{Kind, Node};
use super::{dotenv, model, sections, yaml};

/// What to load: the home (already resolved, see [`super::resolve_home`]) and the process
/// environment (a map, so tests and reloads do not depend on the real one).
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub home: PathBuf,
    pub process_env: BTreeMap<String, String>,
}

/// Reads `.env`, `config.yaml` and the managed overlay's `.env` under `opts.home`; every
/// problem found, or the resolved configuration. Missing files are fine.
pub fn load(opts: &LoadOptions) -> Result<Config, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut env = opts.process_env.clone();
    let mut origin: BTreeMap<String, String> = BTreeMap::new();

    apply_dotenv(&opts.home.join(".env"), ".env", &mut env, &mut origin, &mut problems);

    let file = "config.yaml";
    let mut unreadable = false;
    let mut root = read_optional(&opts.home.join(file), file, &mut problems)
        .and_then(|bytes| {
            yaml::parse(&bytes, file)
                .map_err(|p| {
                    problems.push(p);
                    unreadable = true;
                })
                .ok()
        })
        .unwrap_or(Node { kind: Kind::Null, line: 1, col: 1 });
    if !matches!(root.kind, Kind::Map(_) | Kind::Null) {
        let msg = format!("expected a section of keys at the top level, found {}", root.describe());
        problems.push(Problem::new(file, Some(root.line), "", msg));
        root.kind = Kind::Null;
    }
    root.expand_env(&|name| env.get(name).cloned());

    // Top-level scalars become env vars where unset; the last of a repeated key wins.
    if let Kind::Map(entries) = &root.kind {
        for (key, value) in entries.iter().rev() {
            if let Kind::Scalar(s) = &value.kind
                && !key.name.is_empty()
                && !env.contains_key(&key.name)
            {
                env.insert(key.name.clone(), s.clone());
                origin.insert(key.name.clone(), format!("{file}:{}", key.line));
            }
        }
    }

    if let Some(dir) = managed_dir(&opts.process_env) {
        let path = dir.join(".env");
        let shown = path.display().to_string();
        apply_dotenv(&path, &shown, &mut env, &mut origin, &mut problems);
    }

    if unreadable {
        // Every key would look missing; the syntax error is the one thing to fix first.
        return Err(problems);
    }
    let env = Arc::new(env);
    let r = Reader::new(&root, file, &env, &origin);
    let model = model::resolve(&r);
    let mut warnings = Vec::new();
    let fallbacks = model::fallbacks(&r, model.as_ref(), &mut warnings);
    let agent = sections::agent(&r);
    let streaming = sections::streaming(&r);
    let display = sections::display(&r);
    let session_reset = sections::session_reset(&r);
    let sessions = sections::sessions(&r);
    let gateway = sections::gateway(&r);
    let logging = sections::logging(&r);
    let access = super::access::read(&r);
    let commands = super::commands::read(&r);
    let timezone = sections::timezone(&r);
    let tools = Arc::new(super::tools::read(&r, &opts.home, &env));
    let platform_blocks = platform_blocks(&r);
    let ssl_cert_file = r.env("SSL_CERT_FILE").and_then(|raw| {
        let path = PathBuf::from(raw.text.as_deref().unwrap_or_default());
        if path.is_file() {
            Some(path)
        } else {
            r.problem(&raw, format!("no such file: {} (a PEM file of extra CA certificates)", path.display()));
            None
        }
    });
    problems.extend(r.into_problems());

    match model {
        Some(model) if problems.is_empty() => Ok(Config {
            home: opts.home.clone(),
            env,
            env_origin: Arc::new(origin),
            platform_blocks,
            model,
            fallbacks,
            warnings,
            agent,
            streaming,
            display,
            session_reset,
            sessions,
            gateway,
            logging,
            access,
            commands,
            tools,
            timezone,
            ssl_cert_file,
        }),
        _ => Err(problems),
    }
}

/// `HERMES_MANAGED_DIR`, else `/etc/hermes` when it exists (CAC §1.1).
fn managed_dir(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    match env.get("HERMES_MANAGED_DIR").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(PathBuf::from("/etc/hermes")).filter(|d| d.is_dir()),
    }
}

/// Applies a `.env` file over `env`, overriding, and records `file:LINE` origins.
fn apply_dotenv(
    path: &Path,
    shown: &str,
    env: &mut BTreeMap<String, String>,
    origin: &mut BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) {
    let Some(bytes) = read_optional(path, shown, problems) else {
        return;
    };
    let (entries, bad) = dotenv::parse(&bytes, shown);
    problems.extend(bad);
    for e in entries {
        origin.insert(e.key.clone(), format!("{shown}:{}", e.line));
        env.insert(e.key, e.value);
    }
}

/// The file's bytes; `None` if it does not exist (fine) or cannot be read (a problem).
fn read_optional(path: &Path, shown: &str, problems: &mut Vec<Problem>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => {
            problems.push(Problem::new(shown, None, "", format!("cannot read {}: {e}", path.display())));
            None
        }
    }
}

/// `gateway.platforms.<name>` then `platforms.<name>` (later keys win), flattened to dotted
/// keys with `config.yaml:LINE:COL` origins. Lists of plain values become comma-separated.
fn platform_blocks(r: &Reader) -> BTreeMap<String, BTreeMap<String, SettingValue>> {
    let mut blocks: BTreeMap<String, BTreeMap<String, SettingValue>> = BTreeMap::new();
    for base in ["gateway.platforms", "platforms"] {
        let Some((_, section)) = r.section(base) else {
            continue;
        };
        let Kind::Map(entries) = &section.kind else {
            continue;
        };
        for (name, block) in entries {
            let path = format!("{base}.{}", name.name);
            let out = blocks.entry(name.name.clone()).or_default();
            match &block.kind {
                Kind::Map(_) => flatten("", block, r.file, out),
                Kind::Null => {}
                _ => {
                    let raw = r.raw_of(name, block, &path);
                    r.wrong(&raw, "a section of keys");
                }
            }
        }
    }
    blocks
}

fn flatten(prefix: &str, node: &Node, file: &str, out: &mut BTreeMap<String, SettingValue>) {
    let at = |n: &Node| format!("{file}:{}:{}", n.line, n.col);
    match &node.kind {
        Kind::Map(entries) => {
            for (k, v) in entries {
                let key = if prefix.is_empty() { k.name.clone() } else { format!("{prefix}.{}", k.name) };
                flatten(&key, v, file, out);
            }
        }
        Kind::Seq(items) if items.iter().all(|i| matches!(i.kind, Kind::Scalar(_) | Kind::Null)) => {
            let parts: Vec<&str> = items
                .iter()
                .filter_map(|i| match &i.kind {
                    Kind::Scalar(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            out.insert(prefix.to_string(), SettingValue { value: parts.join(","), origin: at(node) });
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), item, file, out);
            }
        }
        Kind::Scalar(s) => {
            out.insert(prefix.to_string(), SettingValue { value: s.clone(), origin: at(node) });
        }
        Kind::Null => {}
    }
}
