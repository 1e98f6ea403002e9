//! Access settings beyond the allowlist variables (which are read from the environment where
//! they are checked): the unauthorized-DM behaviour (CAC §3.3) and the keys of top-level
//! `<platform>:` blocks that Hermes also accepts there (admin split, CAC §3.5).

use std::collections::BTreeMap;

use super::read::Reader;
use super::yaml::{Kind, Node};

/// Keys read from a top-level `<platform>:` block (directly or under its `extra:`).
pub const PLATFORM_KEYS: &[&str] = &[
    "unauthorized_dm_behavior",
    "allow_admin_from",
    "user_allowed_commands",
    "group_allow_admin_from",
    "group_user_allowed_commands",
];

/// `unauthorized_dm_behavior` and its per-platform overrides.
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    /// The global `unauthorized_dm_behavior` (`pair` | `ignore`), top level or under `gateway:`.
    pub unauthorized_dm_behavior: Option<String>,
    /// `<platform>.<key>` → value from top-level `<platform>:` blocks; lists joined with commas.
    pub platform_keys: BTreeMap<String, String>,
}

pub fn read(r: &Reader) -> AccessConfig {
    let unauthorized_dm_behavior = r.cfg_gw("unauthorized_dm_behavior").and_then(|raw| {
        let v = raw.text.as_ref().ok()?.trim().to_ascii_lowercase();
        if v == "pair" || v == "ignore" {
            Some(v)
        } else {
            r.wrong(&raw, "pair or ignore");
            None
        }
    });
    let mut platform_keys = BTreeMap::new();
    if let Kind::Map(entries) = &r.root.kind {
        for (name, block) in entries {
            collect(&name.name, block, &mut platform_keys);
            if let Some((_, extra)) = block.get("extra") {
                collect(&name.name, extra, &mut platform_keys);
            }
        }
    }
    AccessConfig { unauthorized_dm_behavior, platform_keys }
}

fn collect(platform: &str, block: &Node, out: &mut BTreeMap<String, String>) {
    for key in PLATFORM_KEYS {
        let value = match block.get(key).map(|(_, v)| &v.kind) {
            Some(Kind::Scalar(s)) => s.clone(),
            Some(Kind::Seq(items)) => items
                .iter()
                .filter_map(|i| match &i.kind {
                    Kind::Scalar(s) => Some(s.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        out.insert(format!("{platform}.{key}"), value);
    }
}
