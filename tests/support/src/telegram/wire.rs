//! Telegram's JSON shapes as the fake writes them: users, chats, messages with entities.

use super::{BOT_ID, BOT_NAME, BOT_USERNAME, Chat, User};
use crate::json::esc;

pub fn bot_user() -> String {
    format!(r#"{{"id":{BOT_ID},"is_bot":true,"first_name":{},"username":{}}}"#, esc(BOT_NAME), esc(BOT_USERNAME))
}

pub fn get_me() -> String {
    format!(
        r#"{{"id":{BOT_ID},"is_bot":true,"first_name":{},"username":{},"can_join_groups":true,"can_read_all_group_messages":false,"supports_inline_queries":false,"can_connect_to_business":false,"has_main_web_app":false}}"#,
        esc(BOT_NAME),
        esc(BOT_USERNAME)
    )
}

pub fn user(u: &User) -> String {
    let username = u.username.as_ref().map(|n| format!(r#","username":{}"#, esc(n))).unwrap_or_default();
    format!(r#"{{"id":{},"is_bot":false,"first_name":{}{username},"language_code":"en"}}"#, u.id, esc(&u.first_name))
}

/// The chat object; a private chat carries the other party's name, as Telegram does.
pub fn chat(c: &Chat, other: Option<&User>) -> String {
    let mut s = format!(r#"{{"id":{},"type":{}"#, c.id, esc(c.kind));
    if c.kind == "private" {
        if let Some(u) = other {
            s.push_str(&format!(r#","first_name":{}"#, esc(&u.first_name)));
            if let Some(n) = &u.username {
                s.push_str(&format!(r#","username":{}"#, esc(n)));
            }
        }
    } else {
        let title = c.title.clone().unwrap_or_else(|| "Test Group".into());
        s.push_str(&format!(r#","title":{}"#, esc(&title)));
        if c.is_forum {
            s.push_str(r#","is_forum":true"#);
        }
    }
    s.push('}');
    s
}

/// Fields shared by every message: id, sender, chat, date, text, thread.
pub struct MessageParts<'a> {
    pub message_id: i64,
    pub from: String,
    pub chat: String,
    pub date: u64,
    pub text: &'a str,
    pub thread_id: Option<i64>,
    pub with_entities: bool,
    pub reply_to: Option<String>,
    pub edit_date: Option<u64>,
}

pub fn message(p: &MessageParts) -> String {
    let mut s = format!(r#"{{"message_id":{},"from":{},"chat":{},"date":{}"#, p.message_id, p.from, p.chat, p.date);
    if let Some(t) = p.thread_id {
        s.push_str(&format!(r#","message_thread_id":{t},"is_topic_message":true"#));
    }
    if let Some(r) = &p.reply_to {
        s.push_str(&format!(r#","reply_to_message":{r}"#));
    }
    if let Some(e) = p.edit_date {
        s.push_str(&format!(r#","edit_date":{e}"#));
    }
    s.push_str(&format!(r#","text":{}"#, esc(p.text)));
    if p.with_entities {
        let ents = entities(p.text);
        if !ents.is_empty() {
            s.push_str(&format!(r#","entities":[{}]"#, ents.join(",")));
        }
    }
    s.push('}');
    s
}

/// `mention` entities for `@name` and `bot_command` for `/cmd` (or `/cmd@bot`) at a word start.
/// Offsets and lengths are in UTF-16 code units, as Telegram counts them.
pub fn entities(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut utf16 = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at_start = i == 0 || chars[i - 1].is_whitespace();
        let after_nonword = i == 0 || !word(chars[i - 1]);
        let kind = match c {
            '@' if after_nonword => Some("mention"),
            '/' if at_start => Some("bot_command"),
            _ => None,
        };
        if let Some(kind) = kind {
            let mut j = i + 1;
            while j < chars.len() && word(chars[j]) {
                j += 1;
            }
            if kind == "bot_command" && j > i + 1 && chars.get(j) == Some(&'@') {
                let mut k = j + 1;
                while k < chars.len() && word(chars[k]) {
                    k += 1;
                }
                if k > j + 1 {
                    j = k;
                }
            }
            if j > i + 1 {
                let len: usize = chars[i..j].iter().map(|c| c.len_utf16()).sum();
                out.push(format!(r#"{{"offset":{utf16},"length":{len},"type":"{kind}"}}"#));
                utf16 += len;
                i = j;
                continue;
            }
        }
        utf16 += c.len_utf16();
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::entities;

    #[test]
    fn finds_mentions_and_commands_in_utf16() {
        assert_eq!(entities("/start@hermes_test_bot now"), vec![r#"{"offset":0,"length":22,"type":"bot_command"}"#]);
        assert_eq!(
            entities("🙂 @hermes_test_bot hi /new"),
            vec![r#"{"offset":3,"length":16,"type":"mention"}"#, r#"{"offset":23,"length":4,"type":"bot_command"}"#]
        );
        assert!(entities("mail a@b.c and a/b path / alone").is_empty());
    }
}
