//! The log backend: stderr, plus `HERMES_HOME/logs/gateway.log` with size rotation once the
//! configuration is known (O-logs). Every line passes through secret redaction first, so a
//! token that ends up in an error message never reaches a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use log::{LevelFilter, Log, Metadata, Record};

use crate::clock;
use crate::config::LoggingConfig;
use crate::gateway::postprocess::redact;

struct FileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    backups: u32,
}

struct Logger {
    file: Mutex<Option<FileSink>>,
    secrets: RwLock<Vec<String>>,
}

static LOGGER: Logger = Logger { file: Mutex::new(None), secrets: RwLock::new(Vec::new()) };

/// Installs the logger (stderr only until [`to_file`]). `RUST_LOG`-style levels are not read:
/// the level comes from `logging.level`.
pub fn init(level: LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

/// Adds the rotating log file and sets the configured level.
pub fn to_file(home: &Path, config: &LoggingConfig) -> std::io::Result<()> {
    let dir = home.join("logs");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("gateway.log");
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let sink =
        FileSink { path, file, size, max_size: config.max_size_bytes.max(64 * 1024), backups: config.backup_count };
    *LOGGER.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    log::set_max_level(config.level);
    Ok(())
}

/// Values that must never appear in a log line (tokens, keys).
pub fn add_secrets(secrets: &[String]) {
    let mut list = LOGGER.secrets.write().unwrap_or_else(|e| e.into_inner());
    for s in secrets {
        if s.len() >= 6 && !list.contains(s) {
            list.push(s.clone());
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Dependencies' chatter (rustls, ureq) only at debug.
        let target = record.target();
        let ours = target.starts_with("hermes");
        if !ours && record.level() > log::Level::Warn && log::max_level() < LevelFilter::Debug {
            return;
        }
        let t = clock::local(clock::now());
        let message = {
            let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
            redact(&record.args().to_string(), &secrets)
        };
        let module = target.rsplit("::").next().unwrap_or(target);
        let line = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {:<5} {module}: {message}\n",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            record.level()
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = guard.as_mut() {
            sink.write(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

impl FileSink {
    fn write(&mut self, bytes: &[u8]) {
        if self.size + bytes.len() as u64 > self.max_size {
            self.rotate();
        }
        if self.file.write_all(bytes).is_ok() {
            self.size += bytes.len() as u64;
        }
    }

    /// `gateway.log` → `.1` → `.2` …, keeping `backups` old files.
    fn rotate(&mut self) {
        let name = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.backups == 0 {
            let _ = std::fs::remove_file(&self.path);
        } else {
            let _ = std::fs::remove_file(name(self.backups));
            for n in (1..self.backups).rev() {
                let _ = std::fs::rename(name(n), name(n + 1));
            }
            let _ = std::fs::rename(&self.path, name(1));
        }
        if let Ok(file) = OpenOptions::new().create(true).append(true).open(&self.path) {
            self.file = file;
            self.size = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_and_keeps_backups() {
        let dir = crate::test_util::temp_dir("log");
        let path = dir.join("gateway.log");
        let file = OpenOptions::new().create(true).append(true).open(&path).unwrap();
        let mut sink = FileSink { path: path.clone(), file, size: 0, max_size: 100, backups: 2 };
        for i in 0..10 {
            sink.write(format!("line {i:02} {}\n", "x".repeat(40)).as_bytes());
        }
        assert!(path.exists());
        assert!(dir.join("gateway.log.1").exists());
        assert!(dir.join("gateway.log.2").exists());
        assert!(!dir.join("gateway.log.3").exists());
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.contains("line 09"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
