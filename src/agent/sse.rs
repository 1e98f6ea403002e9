//! A Server-Sent Events reader over any blocking `Read` (the body of a ureq response).
//!
//! Hand-written (about 80 lines) because the SSE crates are shaped for async streams. Lines end
//! in LF, CRLF or CR; `:` starts a comment; `data` lines accumulate (joined by `\n`) until a
//! blank line dispatches the event. Lines and events are size-capped so a hostile server cannot
//! make us buffer without bound.

use std::io::{self, Read};

/// One dispatched event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Reads events from a byte stream.
pub struct SseReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    max_event: usize,
    /// A CR was the last byte read: a following LF belongs to the same line end.
    after_cr: bool,
}

impl<R: Read> SseReader<R> {
    /// `max_event` caps the bytes of one event's data.
    pub fn new(inner: R, max_event: usize) -> Self {
        SseReader { inner, buf: vec![0; 8192], pos: 0, len: 0, max_event, after_cr: false }
    }

    /// The next event, or `None` at the end of the stream.
    /// Reads and discards the rest of the body, at most `limit` bytes.
    pub fn drain(&mut self, limit: u64) {
        let _ = io::copy(&mut (&mut self.inner).take(limit), &mut io::sink());
    }

    pub fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        let mut data = String::new();
        let mut has_data = false;
        let mut event = None;
        loop {
            let Some(line) = self.read_line()? else {
                // End of stream: a pending event without its blank line is still delivered.
                return Ok(has_data.then_some(SseEvent { event, data }));
            };
            if line.is_empty() {
                if has_data {
                    return Ok(Some(SseEvent { event, data }));
                }
                event = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.find(':') {
                Some(i) => (&line[..i], line[i + 1..].strip_prefix(' ').unwrap_or(&line[i + 1..])),
                None => (line.as_str(), ""),
            };
            match field {
                "data" => {
                    if has_data {
                        data.push('\n');
                    }
                    data.push_str(value);
                    has_data = true;
                    if data.len() > self.max_event {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "stream event too large"));
                    }
                }
                "event" => event = Some(value.to_string()),
                _ => {} // id, retry: not needed for model streams
            }
        }
    }

    fn read_line(&mut self) -> io::Result<Option<String>> {
        let mut line = Vec::new();
        loop {
            if self.pos == self.len {
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                if self.len == 0 {
                    return Ok((!line.is_empty()).then(|| String::from_utf8_lossy(&line).into_owned()));
                }
            }
            let byte = self.buf[self.pos];
            self.pos += 1;
            match byte {
                b'\n' if self.after_cr => self.after_cr = false,
                b'\n' => return Ok(Some(String::from_utf8_lossy(&line).into_owned())),
                b'\r' => {
                    self.after_cr = true;
                    return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
                }
                _ => {
                    self.after_cr = false;
                    line.push(byte);
                    if line.len() > self.max_event {
                        return Err(io::Error::new(io::ErrorKind::InvalidData, "stream line too long"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &str) -> Vec<SseEvent> {
        let mut r = SseReader::new(input.as_bytes(), 1 << 20);
        let mut out = Vec::new();
        while let Some(e) = r.next_event().unwrap() {
            out.push(e);
        }
        out
    }

    #[test]
    fn parses_data_comments_and_line_endings() {
        let got = events(
            ": keepalive\n\ndata: {\"a\":1}\n\ndata: x\r\ndata: y\r\n\r\nevent: ping\ndata:z\r\rdata: [DONE]\n\n",
        );
        let data: Vec<&str> = got.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, vec!["{\"a\":1}", "x\ny", "z", "[DONE]"]);
        assert_eq!(got[2].event.as_deref(), Some("ping"));
    }

    #[test]
    fn a_last_event_without_blank_line_is_delivered() {
        assert_eq!(events("data: tail").len(), 1);
        assert!(events("").is_empty());
    }

    #[test]
    fn oversized_lines_are_an_error() {
        let big = format!("data: {}\n\n", "x".repeat(100));
        let mut r = SseReader::new(big.as_bytes(), 50);
        assert!(r.next_event().is_err());
    }

    #[test]
    fn reads_across_small_reads() {
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut r = SseReader::new(OneByte(b"data: h\xc3\xa9llo\r\n\r\n"), 1 << 10);
        assert_eq!(r.next_event().unwrap().unwrap().data, "héllo");
    }
}
