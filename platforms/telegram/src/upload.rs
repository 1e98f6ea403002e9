//! File uploads (`sendPhoto`, `sendDocument`, ...): a `multipart/form-data` body.
//!
//! The workspace's ureq is built without its `multipart` feature, and the format is a few
//! lines: text fields, then one file part, each between boundary lines.

use std::time::{SystemTime, UNIX_EPOCH};

use hermes_platform::MediaKind;

/// The Bot API method and form field for each kind of attachment.
pub(crate) fn method_for(kind: MediaKind) -> (&'static str, &'static str) {
    match kind {
        MediaKind::Photo => ("sendPhoto", "photo"),
        MediaKind::Video => ("sendVideo", "video"),
        MediaKind::Audio => ("sendAudio", "audio"),
        MediaKind::Voice => ("sendVoice", "voice"),
        MediaKind::Document => ("sendDocument", "document"),
    }
}

/// A form of text fields and one file.
pub(crate) struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    /// `fields` are `(name, value)`; the file is `(field, file name, bytes)`.
    pub fn new(fields: &[(&str, String)], file: (&str, &str, &[u8])) -> Multipart {
        let (field, file_name, bytes) = file;
        let boundary = boundary_for(fields, bytes);
        let mut body = Vec::with_capacity(bytes.len() + 512);
        for (name, value) in fields {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", quote(name)).as_bytes(),
            );
            body.extend_from_slice(value.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\n", quote(field), quote(file_name))
                .as_bytes(),
        );
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Multipart { boundary, body }
    }

    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.body
    }
}

/// A boundary that appears in none of the parts.
fn boundary_for(fields: &[(&str, String)], bytes: &[u8]) -> String {
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    loop {
        let boundary = format!("hermes-{seed:032x}");
        let needle = boundary.as_bytes();
        let clash =
            fields.iter().any(|(_, v)| v.contains(&boundary)) || bytes.windows(needle.len()).any(|w| w == needle);
        if !clash {
            return boundary;
        }
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    }
}

/// File names go inside a quoted header parameter: no quotes, backslashes or line breaks.
fn quote(text: &str) -> String {
    text.chars().map(|c| if matches!(c, '"' | '\\' | '\r' | '\n') { '_' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_fields_and_file() {
        let form = Multipart::new(&[("chat_id", "5".into())], ("photo", "a\"b.jpg", b"JPEG"));
        let boundary = form.content_type().rsplit('=').next().unwrap().to_string();
        let body = String::from_utf8(form.into_bytes()).unwrap();
        let expected = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n5\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a_b.jpg\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nJPEG\r\n--{boundary}--\r\n"
        );
        assert_eq!(body, expected);
    }
}
