//! A bounded collector for command output (A15): keeps the first 40 % and the last 60 % of
//! `max` characters while counting the total, so memory stays near `max` whatever a command
//! prints. Once the output is over `max`, all of it is streamed to
//! `HERMES_HOME/cache/tool-results/<id>.txt` and the result names that file.
//! ANSI escape sequences are stripped on the way in.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Spilled results older than this are deleted when a new one is written.
const SPILL_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Copy, PartialEq)]
enum Ansi {
    Text,
    Esc,
    Csi,
    Osc,
    OscEsc,
}

pub struct Collector {
    head_cap: usize,
    tail_cap: usize,
    head: String,
    head_chars: usize,
    /// The tail, trimmed back to `tail_cap` chars whenever it doubles (amortised ring).
    tail: String,
    tail_chars: usize,
    total: usize,
    /// `HERMES_HOME`, where the spill directory lives.
    home: PathBuf,
    spill: Option<(fs::File, PathBuf)>,
    spill_failed: bool,
    ansi: Ansi,
    /// Bytes of a UTF-8 sequence split across two reads.
    partial: Vec<u8>,
}

impl Collector {
    pub fn new(max: usize, home: &Path) -> Collector {
        let head_cap = max * 2 / 5;
        Collector {
            head_cap,
            tail_cap: max - head_cap,
            head: String::new(),
            head_chars: 0,
            tail: String::new(),
            tail_chars: 0,
            total: 0,
            home: home.to_path_buf(),
            spill: None,
            spill_failed: false,
            ansi: Ansi::Text,
            partial: Vec::new(),
        }
    }

    /// Feeds raw bytes as read from the pipe.
    pub fn push(&mut self, bytes: &[u8]) {
        self.partial.reserve(bytes.len());
        for &b in bytes {
            if self.keep_byte(b) {
                self.partial.push(b);
            }
        }
        let cut = complete_prefix(&self.partial);
        let rest = self.partial.split_off(cut);
        let text = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial = rest;
        self.push_text(&text);
    }

    /// The ANSI state machine: true when `b` is text.
    fn keep_byte(&mut self, b: u8) -> bool {
        self.ansi = match (self.ansi, b) {
            (Ansi::Text, 0x1b) => Ansi::Esc,
            (Ansi::Text, _) => return true,
            (Ansi::Esc, b'[') => Ansi::Csi,
            (Ansi::Esc, b']') => Ansi::Osc,
            (Ansi::Esc, _) => Ansi::Text,
            (Ansi::Csi, 0x40..=0x7e) => Ansi::Text,
            (Ansi::Csi, _) => Ansi::Csi,
            (Ansi::Osc, 0x07) => Ansi::Text,
            (Ansi::Osc, 0x1b) => Ansi::OscEsc,
            (Ansi::Osc, _) => Ansi::Osc,
            (Ansi::OscEsc, _) => Ansi::Text,
        };
        false
    }

    fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let n = text.chars().count();
        self.total += n;
        if self.spill.is_none() && !self.spill_failed && self.total > self.head_cap + self.tail_cap {
            self.start_spill();
        }
        if let Some((f, _)) = &mut self.spill
            && f.write_all(text.as_bytes()).is_err()
        {
            self.spill = None;
            self.spill_failed = true;
        }
        let take = self.head_cap.saturating_sub(self.head_chars).min(n);
        let at = text.char_indices().nth(take).map_or(text.len(), |(i, _)| i);
        self.head.push_str(&text[..at]);
        self.head_chars += take;
        if take == n {
            return;
        }
        self.tail.push_str(&text[at..]);
        self.tail_chars += n - take;
        if self.tail_chars > 2 * self.tail_cap.max(1) {
            self.trim_tail();
        }
    }

    fn trim_tail(&mut self) {
        let drop = self.tail_chars.saturating_sub(self.tail_cap);
        let at = self.tail.char_indices().nth(drop).map_or(self.tail.len(), |(i, _)| i);
        self.tail.drain(..at);
        self.tail_chars -= drop;
    }

    /// Opens the spill file and writes what was kept so far (everything: nothing was dropped
    /// before the output went over `max`).
    fn start_spill(&mut self) {
        let dir = self.home.join("cache").join("tool-results");
        let opened = (|| {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
            prune(&dir);
            let id = format!("{}_{}", crate::store::now() as u64, crate::clock::random_hex(8));
            let path = dir.join(format!("{id}.txt"));
            let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
            f.write_all(self.head.as_bytes())?;
            f.write_all(self.tail.as_bytes())?;
            Ok::<_, std::io::Error>((f, path))
        })();
        match opened {
            Ok(s) => self.spill = Some(s),
            Err(e) => {
                log::warn!("cannot save a long tool output under {}: {e}", dir.display());
                self.spill_failed = true;
            }
        }
    }

    /// The result text: everything when it fit, else head + truncation note + tail.
    pub fn finish(mut self) -> String {
        if !self.partial.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.push_text(&rest);
        }
        if self.total <= self.head_cap + self.tail_cap {
            self.head.push_str(&self.tail);
            return self.head;
        }
        self.trim_tail();
        let omitted = self.total - self.head_chars - self.tail_chars;
        let saved = match self.spill.take() {
            Some((mut f, path)) => {
                let _ = f.flush();
                format!("; full output saved to {}, read it with read_file", path.display())
            }
            None => String::new(),
        };
        let mut out = self.head;
        out.push_str(&format!(
            "\n\n... [OUTPUT TRUNCATED - {omitted} chars omitted out of {} total{saved}] ...\n\n",
            self.total
        ));
        out.push_str(&self.tail);
        out
    }
}

/// Where a trailing, incomplete UTF-8 sequence starts (`b.len()` when there is none).
fn complete_prefix(b: &[u8]) -> usize {
    let n = b.len();
    for i in (n.saturating_sub(3)..n).rev() {
        let c = b[i];
        if c & 0xc0 == 0x80 {
            continue;
        }
        let need = match c {
            0xf0.. => 4,
            0xe0.. => 3,
            0xc0.. => 2,
            _ => 1,
        };
        return if i + need > n { i } else { n };
    }
    n
}

/// Deletes spilled results older than a week.
fn prune(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > SPILL_KEEP));
        if old {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Caps an already complete text the same way (head + note + tail), spilling the whole.
pub fn cap_text(text: &str, max: usize, home: &Path) -> String {
    let mut c = Collector::new(max, home);
    c.push_text(text);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole_and_ansi_is_stripped() {
        let dir = crate::test_util::temp_dir("out-short");
        let mut c = Collector::new(100, &dir);
        c.push(b"\x1b[31mred\x1b[0m \x1b]0;title\x07ok \xc3");
        c.push(b"\xa9\n");
        assert_eq!(c.finish(), "red ok \u{e9}\n");
        assert!(!dir.join("cache").exists(), "nothing spilled");
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_spills_everything() {
        let dir = crate::test_util::temp_dir("out-long");
        let mut c = Collector::new(100, &dir);
        for i in 0..100 {
            c.push(format!("{i:03}|").as_bytes());
        }
        let out = c.finish();
        assert!(out.starts_with("000|001|"), "{out}");
        assert!(out.ends_with("098|099|"), "{out}");
        assert!(out.contains("[OUTPUT TRUNCATED - 300 chars omitted out of 400 total; full output saved to "));
        let spilled: Vec<_> = fs::read_dir(dir.join("cache/tool-results")).unwrap().flatten().collect();
        assert_eq!(spilled.len(), 1);
        let whole = fs::read_to_string(spilled[0].path()).unwrap();
        assert_eq!(whole.len(), 400);
        assert!(whole.starts_with("000|") && whole.ends_with("099|"));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_hundred_megabytes_stay_within_the_cap() {
        let dir = crate::test_util::temp_dir("out-100mb");
        let max = 50_000;
        let mut c = Collector::new(max, &dir);
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            c.push(&chunk);
            assert!(c.head.len() + c.tail.len() <= 3 * max, "memory stays bounded");
        }
        let out = c.finish();
        let note_len = 300;
        assert!(out.len() <= max + note_len, "{}", out.len());
        let spilled: Vec<_> = fs::read_dir(dir.join("cache/tool-results")).unwrap().flatten().collect();
        assert_eq!(spilled[0].metadata().unwrap().len(), 100 << 20);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn old_spill_files_are_pruned() {
        let dir = crate::test_util::temp_dir("out-prune");
        let spill = dir.join("cache/tool-results");
        fs::create_dir_all(&spill).unwrap();
        let old = spill.join("old.txt");
        let f = fs::File::create(&old).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(8 * 24 * 3600)).unwrap();
        let out = cap_text(&"x".repeat(2000), 1000, &dir);
        assert!(out.contains("OUTPUT TRUNCATED"));
        assert!(!old.exists());
        let _ = fs::remove_dir_all(dir);
    }
}
