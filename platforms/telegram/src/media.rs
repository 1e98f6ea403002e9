//! Inbound attachments: `getFile`, then the file itself into the cache directory (P8).
//!
//! Photos, documents, voice notes and audio are downloaded before their batch is journaled, so
//! the event's media paths exist when the agent sees it. A failed or oversized download keeps
//! the event (its caption and kind still say what arrived) without the file.

use std::path::{Path, PathBuf};

use hermes_platform::Media;
use miniserde::Deserialize;

use crate::api::{Api, SHORT_BODY_LIMIT};
use crate::wire::{Body, Message};

/// A file an inbound message carries.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PendingFile {
    pub file_id: String,
    pub mime: String,
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct File {
    file_size: Option<u64>,
    file_path: Option<String>,
}

/// The files worth downloading in `message`: the largest photo under `max_bytes`, documents,
/// voice notes and audio.
pub(crate) fn files_of(message: &Message, max_bytes: u64) -> Vec<PendingFile> {
    let mut files = Vec::new();
    if let Some(sizes) = &message.photo {
        let fitting = sizes.iter().rfind(|p| p.file_size.is_none_or(|s| s <= max_bytes));
        if let Some(photo) = fitting.or(sizes.first()) {
            files.push(PendingFile {
                file_id: photo.file_id.clone(),
                mime: "image/jpeg".into(),
                size: photo.file_size,
            });
        }
    }
    for (file, default_mime) in
        [(&message.document, "application/octet-stream"), (&message.voice, "audio/ogg"), (&message.audio, "audio/mpeg")]
    {
        if let Some(file) = file {
            files.push(PendingFile {
                file_id: file.file_id.clone(),
                mime: file.mime_type.clone().unwrap_or_else(|| default_mime.to_string()),
                size: file.file_size,
            });
        }
    }
    files
}

pub(crate) struct Downloader {
    pub api: Api,
    pub agent: ureq::Agent,
    pub cache_dir: PathBuf,
    pub max_bytes: u64,
}

impl Downloader {
    /// Downloads `file` to `cache_dir/telegram-<update>-<n>.<ext>`.
    pub fn fetch(&self, update_id: i64, n: usize, file: &PendingFile) -> Result<Media, String> {
        if file.size.is_some_and(|s| s > self.max_bytes) {
            return Err(format!("{} bytes is over TELEGRAM_MAX_DOWNLOAD_BYTES", file.size.unwrap_or(0)));
        }
        let body = Body::new().str("file_id", &file.file_id);
        let info: File = self.api.call(&self.agent, "getFile", &body, SHORT_BODY_LIMIT).map_err(|e| e.to_string())?;
        if info.file_size.is_some_and(|s| s > self.max_bytes) {
            return Err("the file is over TELEGRAM_MAX_DOWNLOAD_BYTES".into());
        }
        let remote = info.file_path.ok_or("getFile gave no file_path (file too big for the Bot API?)")?;
        let ext = Path::new(&remote).extension().and_then(|e| e.to_str()).unwrap_or("bin");
        let ext: String = ext.chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect();
        std::fs::create_dir_all(&self.cache_dir).map_err(|e| format!("cannot create the cache dir: {e}"))?;
        let local = self.cache_dir.join(format!("telegram-{update_id}-{n}.{ext}"));
        let bytes = if Path::new(&remote).is_absolute() {
            // A local Bot API server (`--local`) hands out paths on its own disk.
            std::fs::read(&remote).map_err(|e| format!("cannot read {remote}: {e}"))?
        } else {
            self.api.download(&self.agent, &remote, self.max_bytes).map_err(|e| e.to_string())?
        };
        std::fs::write(&local, bytes).map_err(|e| format!("cannot write {}: {e}", local.display()))?;
        Ok(Media { path: local.to_string_lossy().into_owned(), mime: file.mime.clone() })
    }
}
