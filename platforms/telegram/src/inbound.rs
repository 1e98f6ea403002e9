//! Telegram updates as `MessageEvent`s, and the group intake rules (who is talking to us).
//!
//! In a group the bot sees every message (privacy mode off) or commands and replies only
//! (privacy mode on); either way it answers only when addressed: mentioned, replied to, given a
//! command `@` it, or in a free-response chat. Everything else is dropped here, at the edge.

use hermes_platform::{ChatType, EventKind, MessageEvent, ReplyTo, Source};

use crate::config::{AllowBots, TelegramConfig};
use crate::media::{PendingFile, files_of};
use crate::wire::{CallbackQuery, Chat, Message, MessageEntity, MessageReaction, Update, User};

/// Who this bot is (`getMe`).
#[derive(Clone, Debug)]
pub(crate) struct BotIdentity {
    pub id: i64,
    /// Without `@`.
    pub username: String,
}

/// What one update turned into.
#[derive(Debug, Default)]
pub(crate) struct Intake {
    /// `None` when the update is not for us (filtered by the group rules).
    pub event: Option<MessageEvent>,
    /// A `callback_query` id to answer (always answered, even when filtered).
    pub callback_id: Option<String>,
    /// Attachments of the event to download before journaling.
    pub files: Vec<PendingFile>,
}

/// Turns one update into at most one event. `Err` says what is wrong with an update this crate
/// cannot use (the poller logs it and moves on).
pub(crate) fn convert(update: &Update, bot: &BotIdentity, config: &TelegramConfig) -> Result<Intake, String> {
    let update_id = update.update_id.to_string();
    if let Some(message) = &update.message {
        let event = message_event(message, &update_id, EventKind::Text, bot, config)?;
        let files = if event.is_some() { files_of(message, config.max_download_bytes) } else { Vec::new() };
        return Ok(Intake { event, callback_id: None, files });
    }
    if let Some(message) = &update.edited_message {
        let event = message_event(message, &update_id, EventKind::Edit, bot, config)?;
        return Ok(Intake { event, ..Intake::default() });
    }
    if let Some(query) = &update.callback_query {
        let event = callback_event(query, &update_id);
        return Ok(Intake { event, callback_id: Some(query.id.clone()), files: Vec::new() });
    }
    if let Some(reaction) = &update.message_reaction {
        return Ok(Intake { event: reaction_event(reaction, &update_id, config), ..Intake::default() });
    }
    Err("no message, edited_message, callback_query or message_reaction in it".into())
}

fn message_event(
    message: &Message,
    update_id: &str,
    kind: EventKind,
    bot: &BotIdentity,
    config: &TelegramConfig,
) -> Result<Option<MessageEvent>, String> {
    let (chat_type, thread_id) = chat_type(&message.chat, message.message_thread_id, message.is_topic_message)?;
    if let Some(thread) = &thread_id
        && config.ignored_threads.iter().any(|t| t == thread)
    {
        log::debug!("telegram: update {update_id} is in ignored thread {thread}");
        return Ok(None);
    }
    let sender_is_bot = message.from.as_ref().and_then(|u| u.is_bot).unwrap_or(false);
    if sender_is_bot && config.allow_bots == AllowBots::None {
        return Ok(None);
    }

    let (raw_text, entities) = match (&message.text, &message.caption) {
        (Some(text), _) => (text.as_str(), message.entities.as_deref().unwrap_or(&[])),
        (None, Some(caption)) => (caption.as_str(), message.caption_entities.as_deref().unwrap_or(&[])),
        (None, None) => ("", &[][..]),
    };
    let media_kind = media_kind(message);
    if raw_text.is_empty() && media_kind.is_none() {
        // Service messages (joins, pins, topic changes) carry nothing to answer.
        log::debug!("telegram: update {update_id} has no text or media, skipped");
        return Ok(None);
    }

    let command = parse_command(raw_text, &bot.username);
    if command == Command::ForOtherBot {
        return Ok(None);
    }
    let replies_to_us = message.reply_to_message.as_ref().and_then(|r| r.from.as_ref()).is_some_and(|u| u.id == bot.id);
    let mentioned = mentions_bot(raw_text, entities, bot);
    let group = chat_type != ChatType::Dm;
    if group {
        let chat_id = message.chat.id.to_string();
        let addressed = mentioned || replies_to_us || command == Command::ForUs;
        let open = !config.require_mention
            || config.free_response_chats.contains(&chat_id)
            || matches_pattern(raw_text, &config.mention_patterns);
        let accepted =
            if sender_is_bot && config.allow_bots == AllowBots::Mentions { addressed } else { addressed || open };
        if !accepted {
            return Ok(None);
        }
    } else if sender_is_bot && config.allow_bots == AllowBots::Mentions && !(mentioned || replies_to_us) {
        return Ok(None);
    }

    let location;
    let raw_text = match &message.location {
        Some(l) if raw_text.is_empty() => {
            location = format!("{},{}", l.latitude, l.longitude);
            location.as_str()
        }
        _ => raw_text,
    };
    let text = match command {
        Command::ForUs => strip_command_target(raw_text, &bot.username),
        _ => strip_leading_mention(raw_text, &bot.username),
    };
    let source = Source {
        platform: "telegram".into(),
        chat_id: message.chat.id.to_string(),
        chat_name: chat_name(&message.chat),
        chat_type,
        user_id: message.from.as_ref().map(|u| u.id.to_string()),
        user_name: message.from.as_ref().map(user_name),
        thread_id,
        is_bot: sender_is_bot,
        role_authorized: None,
    };
    let timestamp = match kind {
        EventKind::Edit => message.edit_date.or(message.date),
        _ => message.date,
    }
    .unwrap_or(0) as f64;
    let mut event = MessageEvent::text(source, &message.message_id.to_string(), update_id, &text, timestamp);
    event.kind = match (kind, media_kind) {
        (EventKind::Edit, _) => EventKind::Edit,
        (_, Some(media)) => media,
        (_, None) => EventKind::Text,
    };
    event.reply_to = message.reply_to_message.as_ref().map(|r| ReplyTo {
        message_id: r.message_id.to_string(),
        text: r.text.clone().or_else(|| r.caption.clone()),
        author_id: r.from.as_ref().map(|u| u.id.to_string()),
        is_own: r.from.as_ref().is_some_and(|u| u.id == bot.id),
    });
    Ok(Some(event))
}

fn callback_event(query: &CallbackQuery, update_id: &str) -> Option<MessageEvent> {
    // Buttons under inline-mode messages have no chat: nothing to route them to.
    let message = query.message.as_ref()?;
    let (chat_type, thread_id) = chat_type(&message.chat, message.message_thread_id, None).ok()?;
    let source = Source {
        platform: "telegram".into(),
        chat_id: message.chat.id.to_string(),
        chat_name: chat_name(&message.chat),
        chat_type,
        user_id: Some(query.from.id.to_string()),
        user_name: Some(user_name(&query.from)),
        thread_id,
        is_bot: query.from.is_bot.unwrap_or(false),
        role_authorized: None,
    };
    let data = query.data.as_deref().unwrap_or("");
    let mut event =
        MessageEvent::text(source, &message.message_id.to_string(), update_id, data, message.date.unwrap_or(0) as f64);
    event.kind = EventKind::Callback;
    Some(event)
}

fn reaction_event(reaction: &MessageReaction, update_id: &str, config: &TelegramConfig) -> Option<MessageEvent> {
    let user = reaction.user.as_ref()?;
    if user.is_bot.unwrap_or(false) && config.allow_bots == AllowBots::None {
        return None;
    }
    let old = reaction.old_reaction.as_deref().unwrap_or(&[]);
    // The emoji that was added; a removed reaction is not an event.
    let added = reaction.new_reaction.as_deref().unwrap_or(&[]).iter().find_map(|r| {
        let emoji = r.emoji.as_deref().filter(|_| r.kind == "emoji")?;
        (!old.iter().any(|o| o.emoji.as_deref() == Some(emoji))).then(|| emoji.to_string())
    })?;
    let (chat_type, _) = chat_type(&reaction.chat, None, None).ok()?;
    let source = Source {
        platform: "telegram".into(),
        chat_id: reaction.chat.id.to_string(),
        chat_name: chat_name(&reaction.chat),
        chat_type,
        user_id: Some(user.id.to_string()),
        user_name: Some(user_name(user)),
        thread_id: None,
        is_bot: user.is_bot.unwrap_or(false),
        role_authorized: None,
    };
    let mut event = MessageEvent::text(
        source,
        &reaction.message_id.to_string(),
        update_id,
        &added,
        reaction.date.unwrap_or(0) as f64,
    );
    event.kind = EventKind::Reaction;
    Some(event)
}

/// The chat type and, in forum topics, the topic id.
fn chat_type(chat: &Chat, thread: Option<i64>, is_topic: Option<bool>) -> Result<(ChatType, Option<String>), String> {
    match chat.kind.as_str() {
        "private" => Ok((ChatType::Dm, None)),
        "group" => Ok((ChatType::Group, None)),
        "supergroup" => match thread {
            Some(thread) if chat.is_forum == Some(true) || is_topic == Some(true) => {
                Ok((ChatType::Forum, Some(thread.to_string())))
            }
            _ => Ok((ChatType::Group, None)),
        },
        "channel" => Ok((ChatType::Channel, None)),
        other => Err(format!("unknown chat type {other:?}")),
    }
}

fn chat_name(chat: &Chat) -> Option<String> {
    chat.title.clone().or_else(|| chat.username.clone()).or_else(|| chat.first_name.clone())
}

/// The name people see in the chat (first and last name), else the @username, else the id.
fn user_name(user: &User) -> String {
    match (&user.first_name, &user.last_name, &user.username) {
        (Some(first), Some(last), _) => format!("{first} {last}"),
        (Some(first), None, _) => first.clone(),
        (None, _, Some(username)) => username.clone(),
        _ => user.id.to_string(),
    }
}

fn media_kind(message: &Message) -> Option<EventKind> {
    if message.photo.as_ref().is_some_and(|p| !p.is_empty()) {
        Some(EventKind::Photo)
    } else if message.voice.is_some() {
        Some(EventKind::Voice)
    } else if message.audio.is_some() {
        Some(EventKind::Audio)
    } else if message.video.is_some() {
        Some(EventKind::Video)
    } else if message.sticker.is_some() {
        Some(EventKind::Sticker)
    } else if message.document.is_some() {
        Some(EventKind::Document)
    } else if message.location.is_some() {
        Some(EventKind::Location)
    } else {
        None
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    None,
    /// `/cmd` or `/cmd@ourbot`.
    ForUs,
    /// `/cmd@otherbot`: another bot's command in a shared group.
    ForOtherBot,
}

fn parse_command(text: &str, username: &str) -> Command {
    let Some(rest) = text.strip_prefix('/') else {
        return Command::None;
    };
    let word = rest.split_whitespace().next().unwrap_or("");
    if word.is_empty() {
        return Command::None;
    }
    match word.split_once('@') {
        None => Command::ForUs,
        Some((_, target)) if target.eq_ignore_ascii_case(username) => Command::ForUs,
        Some(_) => Command::ForOtherBot,
    }
}

/// `/cmd@ourbot args` → `/cmd args`.
fn strip_command_target(text: &str, username: &str) -> String {
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    match word.split_once('@') {
        Some((cmd, target)) if target.eq_ignore_ascii_case(username) => format!("{cmd}{rest}"),
        _ => text.to_string(),
    }
}

/// True when the text mentions `@username` (entity or plain text) or a text mention names us.
fn mentions_bot(text: &str, entities: &[MessageEntity], bot: &BotIdentity) -> bool {
    if bot.username.is_empty() {
        return entities.iter().any(|e| e.kind == "text_mention" && e.user.as_ref().is_some_and(|u| u.id == bot.id));
    }
    let handle = format!("@{}", bot.username.to_lowercase());
    entities.iter().any(|e| match e.kind.as_str() {
        "text_mention" => e.user.as_ref().is_some_and(|u| u.id == bot.id),
        "mention" => utf16_slice(text, e.offset, e.length).is_some_and(|m| m.to_lowercase() == handle),
        _ => false,
    }) || find_handle(&text.to_lowercase(), &handle)
}

/// `@handle` as a whole word (not the start of `@handle_two`).
fn find_handle(lower_text: &str, handle: &str) -> bool {
    lower_text.match_indices(handle).any(|(at, _)| {
        let after = lower_text[at + handle.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// The part of `text` an entity covers (offsets are UTF-16 units).
fn utf16_slice(text: &str, offset: i64, length: i64) -> Option<String> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(length).ok()?)?;
    String::from_utf16(units.get(start..end)?).ok()
}

fn matches_pattern(text: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return false;
    }
    let lower = text.to_lowercase();
    patterns.iter().any(|p| lower.contains(p.as_str()))
}

/// `@bot, hello` → `hello`; other text unchanged.
fn strip_leading_mention(text: &str, username: &str) -> String {
    let trimmed = text.trim_start();
    let handle_len = username.len() + 1;
    let starts = trimmed.len() >= handle_len
        && trimmed.is_char_boundary(handle_len)
        && trimmed[..handle_len].eq_ignore_ascii_case(&format!("@{username}"))
        && !trimmed[handle_len..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
    if !starts || username.is_empty() {
        return text.to_string();
    }
    let rest = trimmed[handle_len..].trim_start_matches([',', ':', ' ', '\n', '\t']);
    if rest.is_empty() { text.to_string() } else { rest.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_addressed_by_their_suffix() {
        assert_eq!(parse_command("/start", "hermes_bot"), Command::ForUs);
        assert_eq!(parse_command("/start@Hermes_Bot x", "hermes_bot"), Command::ForUs);
        assert_eq!(parse_command("/start@other_bot", "hermes_bot"), Command::ForOtherBot);
        assert_eq!(parse_command("hello /start", "hermes_bot"), Command::None);
        assert_eq!(strip_command_target("/new@Hermes_Bot  a b", "hermes_bot"), "/new  a b");
    }

    #[test]
    fn mentions_are_whole_handles() {
        let bot = BotIdentity { id: 1, username: "hermes_bot".into() };
        assert!(mentions_bot("hi @Hermes_Bot!", &[], &bot));
        assert!(!mentions_bot("hi @hermes_bot2", &[], &bot));
        assert!(!mentions_bot("hi hermes_bot", &[], &bot));
        let entity = MessageEntity {
            kind: "text_mention".into(),
            offset: 0,
            length: 2,
            user: Some(User { id: 1, is_bot: Some(true), first_name: None, last_name: None, username: None }),
        };
        assert!(mentions_bot("hi", &[entity], &bot));
    }

    #[test]
    fn entity_offsets_count_utf16() {
        assert_eq!(utf16_slice("😀 @bot", 3, 4).as_deref(), Some("@bot"));
        assert_eq!(utf16_slice("ab", 1, 5), None);
    }

    #[test]
    fn leading_mention_is_stripped() {
        assert_eq!(strip_leading_mention("@Hermes_bot, what time is it?", "hermes_bot"), "what time is it?");
        assert_eq!(strip_leading_mention("ask @hermes_bot", "hermes_bot"), "ask @hermes_bot");
        assert_eq!(strip_leading_mention("@hermes_bots hi", "hermes_bot"), "@hermes_bots hi");
        assert_eq!(strip_leading_mention("@hermes_bot", "hermes_bot"), "@hermes_bot");
    }
}
