//! A throwaway `HERMES_HOME` per test, removed on drop (kept with `HERMES_TEST_KEEP=1`).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::discord::{DISCORD_TOKEN, FakeDiscord};
use crate::llm::FakeLlm;
use crate::telegram::{FakeTelegram, TOKEN};

pub struct HermesHome {
    dir: PathBuf,
}

/// Turns off the automatic session title, so tests count only the model calls they expect.
const NO_TITLES: &str = "auxiliary:\n  title_generation:\n    enabled: false\n";

impl HermesHome {
    /// A fresh empty directory under the system temp dir; `tag` makes it easy to spot.
    pub fn new(tag: &str) -> HermesHome {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let tag: String = tag.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let dir = std::env::temp_dir().join(format!(
            "hermes-test-{tag}-{}-{}-{nanos:x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create HERMES_HOME");
        HermesHome { dir }
    }

    /// A home wired to the fakes: `.env` with the Telegram token, base URL, allowed users and a
    /// 2 s poll timeout; `config.yaml` pointing the model at the fake LLM with fast stream edits.
    pub fn standard(tg: &FakeTelegram, llm: &FakeLlm, allowed_users: &str) -> HermesHome {
        HermesHome::standard_with(tg, llm, allowed_users, "")
    }

    /// [`HermesHome::standard`] with `extra_yaml` (top-level sections other than `model:` and
    /// `streaming:`) appended to `config.yaml`. Automatic session titles (an extra model call
    /// after a first answer) are off unless `extra_yaml` has an `auxiliary:` section.
    pub fn standard_with(tg: &FakeTelegram, llm: &FakeLlm, allowed_users: &str, extra_yaml: &str) -> HermesHome {
        let home = HermesHome::new("std");
        home.write_env(&format!(
            "TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_BASE_URL={}\nTELEGRAM_ALLOWED_USERS={allowed_users}\nTELEGRAM_POLL_TIMEOUT=2\n",
            tg.base_url()
        ));
        let titles = if extra_yaml.contains("auxiliary:") { "" } else { NO_TITLES };
        home.write_config(&format!(
            "model:\n  default: test-model\n  provider: custom\n  base_url: {}\n  api_key: sk-test-secret-key-1234\nstreaming:\n  edit_interval: 0.2\n{titles}{extra_yaml}",
            llm.base_url()
        ));
        home
    }

    /// A home wired to the fake Discord and the fake LLM: `.env` with the Discord token, REST
    /// base, `DISCORD_ALLOWED_USERS`, a short wait after an Invalid Session, and `extra_env`
    /// lines; `config.yaml` as in [`HermesHome::standard`].
    pub fn discord(dc: &FakeDiscord, llm: &FakeLlm, allowed_users: &str, extra_env: &str) -> HermesHome {
        let home = HermesHome::new("discord");
        home.write_env(&format!(
            "DISCORD_BOT_TOKEN={DISCORD_TOKEN}\nDISCORD_API_BASE={}\nDISCORD_ALLOWED_USERS={allowed_users}\nDISCORD_INVALID_SESSION_WAIT_MS=50\n{extra_env}",
            dc.api_base()
        ));
        home.write_config(&format!(
            "model:\n  default: test-model\n  provider: custom\n  base_url: {}\n  api_key: sk-test-secret-key-1234\nstreaming:\n  edit_interval: 0.2\n{NO_TITLES}",
            llm.base_url()
        ));
        home
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn write_config(&self, yaml: &str) {
        self.write_file("config.yaml", yaml.as_bytes());
    }

    pub fn write_env(&self, text: &str) {
        self.write_file(".env", text.as_bytes());
    }

    /// Writes a file relative to the home, creating parent directories.
    pub fn write_file(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create parent dir");
        }
        fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    }

    /// A file's text relative to the home, or "" when missing.
    pub fn read_file(&self, rel: &str) -> String {
        fs::read(self.dir.join(rel)).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }

    /// `logs/gateway.log`, or "" when there is none yet.
    pub fn log(&self) -> String {
        self.read_file("logs/gateway.log")
    }

    /// The gateway's SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("lite.db")
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl Drop for HermesHome {
    fn drop(&mut self) {
        let keep = std::env::var("HERMES_TEST_KEEP").is_ok_and(|v| v == "1");
        if std::thread::panicking() {
            // A failing test: show what the gateway said, it is usually the explanation.
            eprintln!("--- HERMES_HOME {} (keep with HERMES_TEST_KEEP=1)", self.dir.display());
            for rel in ["gateway.out", "logs/gateway.log"] {
                let text = self.read_file(rel);
                if !text.is_empty() {
                    eprintln!("--- tail of {rel}:\n{}", tail(&text, 60));
                }
            }
        }
        if !keep {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
