//! The traffic driver: 20 private chats, each sending its next message once the previous answer
//! is complete, so every message's latency is the gateway's own (inject → final reply).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hermes_testkit::{Chat, FakeTelegram, User};

/// Users (and their private chats) are 1001, 1002, ...
pub const FIRST_USER: i64 = 1001;
/// How long one answer may take before it counts as lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// The bench users' ids as `TELEGRAM_ALLOWED_USERS` takes them.
pub fn allowed_users(chats: usize) -> String {
    (0..chats as i64).map(|i| (FIRST_USER + i).to_string()).collect::<Vec<_>>().join(",")
}

pub struct LoadResult {
    /// Inject → reply seen by the fake, in ms, one per answered message.
    pub latencies_ms: Vec<f64>,
    /// Messages without a complete answer within [`ANSWER_TIMEOUT`].
    pub lost: usize,
    /// First inject → last answer.
    pub elapsed: Duration,
}

impl LoadResult {
    pub fn answered(&self) -> usize {
        self.latencies_ms.len()
    }

    pub fn per_sec(&self) -> f64 {
        self.answered() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-th percentile (0..=100) by nearest rank.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let mut v = self.latencies_ms.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        Some(v[rank.min(v.len()) - 1])
    }
}

/// One answered message: the reply text, when it was injected, when its waiter saw the reply.
struct Answer {
    want: String,
    sent_at: Instant,
    woke: Instant,
}

/// Runs `per_chat` messages in each of `chats` chats at once; `round` keeps texts unique
/// across runs against the same gateway.
pub fn drive(tg: &FakeTelegram, chats: usize, per_chat: usize, round: usize) -> LoadResult {
    let t0 = Instant::now();
    let per_thread: Vec<(Vec<Answer>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..chats as i64)
            .map(|i| {
                s.spawn(move || {
                    let id = FIRST_USER + i;
                    let (chat, user) = (Chat::private(id), User::new(id, &format!("Bench{i}")));
                    let mut seen = Vec::with_capacity(per_chat);
                    let mut lost = 0;
                    for k in 0..per_chat {
                        let text = format!("r{round} chat {id} msg {k}");
                        let want = format!("echo: {text}");
                        let sent_at = Instant::now();
                        tg.user_says(&chat, &user, &text);
                        match tg.wait_sent(ANSWER_TIMEOUT, |m| m.chat_id == id && m.text == want) {
                            Some(_) => seen.push(Answer { want, sent_at, woke: Instant::now() }),
                            None => lost += 1,
                        }
                    }
                    (seen, lost)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("driver thread")).collect()
    });
    let arrived = arrival_times(tg);
    let mut out = LoadResult { latencies_ms: Vec::new(), lost: 0, elapsed: Duration::ZERO };
    let mut last = t0;
    for (seen, lost) in per_thread {
        out.lost += lost;
        for Answer { want, sent_at, woke } in seen {
            // The call's arrival at the fake is the precise moment; the waiter's wake-up is
            // a fallback that adds only the scheduler's delay.
            let at = arrived.get(&want).copied().filter(|a| *a >= sent_at && *a <= woke).unwrap_or(woke);
            out.latencies_ms.push((at - sent_at).as_secs_f64() * 1000.0);
            last = last.max(at);
        }
    }
    out.elapsed = last - t0;
    out
}

/// For each text the bot sent or edited a message to, the first time the fake received it.
fn arrival_times(tg: &FakeTelegram) -> HashMap<String, Instant> {
    let mut map = HashMap::new();
    for c in tg.calls() {
        if c.method != "sendMessage" && c.method != "editMessageText" {
            continue;
        }
        if let Some(text) = text_param(&c.params) {
            map.entry(text.to_string()).or_insert(c.at);
        }
    }
    map
}

/// The `text` field of a call's params (JSON); bench texts hold no quotes or escapes.
fn text_param(params: &str) -> Option<&str> {
    let start = params.find(r#""text":""#)? + 8;
    let len = params[start..].find('"')?;
    Some(&params[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let r = LoadResult {
            latencies_ms: (1..=100).rev().map(f64::from).collect(),
            lost: 0,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(r.percentile(50.0), Some(50.0));
        assert_eq!(r.percentile(95.0), Some(95.0));
        assert_eq!(r.percentile(100.0), Some(100.0));
        assert_eq!(r.per_sec(), 50.0);
        let empty = LoadResult { latencies_ms: vec![], lost: 3, elapsed: Duration::ZERO };
        assert_eq!(empty.percentile(50.0), None);
    }

    #[test]
    fn finds_the_text_param() {
        assert_eq!(
            text_param(r#"{"chat_id":"1001","text":"echo: r0 chat 1001 msg 3","x":1}"#),
            Some("echo: r0 chat 1001 msg 3")
        );
        assert_eq!(text_param(r#"{"chat_id":1}"#), None);
        assert_eq!(allowed_users(3), "1001,1002,1003");
    }
}
