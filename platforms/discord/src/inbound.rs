//! MESSAGE_CREATE as a `MessageEvent`, and the intake rules: who is talking to us, where.
//!
//! DMs (no `guild_id`) are always for us. In a guild channel the bot answers only when
//! addressed (mentioned, or replied to) unless mentions are not required or the channel is a
//! free-response one. Channel allow/ignore lists and the role allow-list apply at the edge.

use std::collections::HashMap;

use hermes_platform::{ChatType, EventKind, MessageEvent, ReplyTo, Source};

use crate::config::{AllowBots, DiscordConfig};
use crate::wire::{Channel, Message, snowflake_time};

/// Thread channel types: announcement thread, public thread, private thread.
const THREAD_TYPES: [u64; 3] = [10, 11, 12];

/// Who this bot is (READY's `user`).
#[derive(Clone, Debug, Default)]
pub(crate) struct BotIdentity {
    pub id: String,
    pub username: String,
}

/// What the gateway told us about channels: type, name and parent, by id.
#[derive(Default, Debug)]
pub(crate) struct Channels {
    known: HashMap<String, Channel>,
}

impl Channels {
    pub fn learn(&mut self, channel: Channel) {
        self.known.insert(channel.id.clone(), channel);
    }

    pub fn forget(&mut self, id: &str) {
        self.known.remove(id);
    }

    fn thread_parent(&self, id: &str) -> Option<&str> {
        let c = self.known.get(id)?;
        if THREAD_TYPES.contains(&c.kind?) { c.parent_id.as_deref() } else { None }
    }

    fn name(&self, id: &str) -> Option<String> {
        self.known.get(id).and_then(|c| c.name.clone())
    }
}

/// Turns one message into at most one event; `None` when it is not for us.
pub(crate) fn convert(
    message: &Message,
    bot: &BotIdentity,
    config: &DiscordConfig,
    channels: &Channels,
) -> Option<MessageEvent> {
    if message.author.id == bot.id {
        return None;
    }
    // Replies (19) and ordinary messages (0); joins, pins and the like carry nothing to answer.
    if !matches!(message.kind.unwrap_or(0), 0 | 19) {
        return None;
    }
    let is_bot = message.author.bot.unwrap_or(false) || message.webhook_id.is_some();
    if is_bot && config.allow_bots == AllowBots::None {
        return None;
    }
    let raw = message.content.as_deref().unwrap_or("");
    let attachments = message.attachments.as_deref().unwrap_or(&[]);
    if raw.trim().is_empty() && attachments.is_empty() {
        // Without the MESSAGE_CONTENT intent guild messages arrive empty.
        log::debug!("discord: message {} has no content, skipped", message.id);
        return None;
    }

    let dm = message.guild_id.is_none();
    let parent = if dm { None } else { channels.thread_parent(&message.channel_id) };
    let mut by_role = false;
    let mentioned = message.mentions.as_deref().unwrap_or(&[]).iter().any(|u| u.id == bot.id)
        || raw.contains(&format!("<@{}>", bot.id))
        || raw.contains(&format!("<@!{}>", bot.id));
    let replies_to_us =
        message.referenced_message.as_ref().and_then(|r| r.author.as_ref()).is_some_and(|a| a.id == bot.id);

    if !dm {
        let here =
            |list: &[String]| list.iter().any(|c| *c == message.channel_id || parent.is_some_and(|p| p == c.as_str()));
        if here(&config.ignored_channels) {
            return None;
        }
        if !config.allowed_channels.is_empty() && !here(&config.allowed_channels) {
            return None;
        }
        let addressed = mentioned || replies_to_us;
        let open = !config.require_mention || here(&config.free_response_channels);
        let accepted = if is_bot && config.allow_bots == AllowBots::Mentions { addressed } else { addressed || open };
        if !accepted {
            return None;
        }
        if !config.allowed_roles.is_empty() {
            let roles = message.member.as_ref().and_then(|m| m.roles.as_deref()).unwrap_or(&[]);
            by_role = roles.iter().any(|r| config.allowed_roles.contains(r));
            let by_user = config.allowed_users.iter().any(|u| u == "*" || *u == message.author.id);
            if !by_role && !by_user {
                log::debug!("discord: {} has none of DISCORD_ALLOWED_ROLES", message.author.id);
                return None;
            }
        }
    } else if is_bot && config.allow_bots == AllowBots::Mentions && !(mentioned || replies_to_us) {
        return None;
    }

    let text = strip_mentions(raw, &bot.id);
    let (chat_type, thread_id) = match (dm, parent) {
        (true, _) => (ChatType::Dm, None),
        (false, Some(_)) => (ChatType::Thread, Some(message.channel_id.clone())),
        (false, None) => (ChatType::Group, None),
    };
    let user_name = message
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| message.author.global_name.clone())
        .or_else(|| message.author.username.clone());
    let source = Source {
        platform: "discord".into(),
        chat_id: message.channel_id.clone(),
        chat_name: channels.name(&message.channel_id),
        chat_type,
        user_id: Some(message.author.id.clone()),
        user_name,
        thread_id,
        is_bot,
        // A role from DISCORD_ALLOWED_ROLES admits the sender like an allowlisted user id.
        role_authorized: by_role.then_some(true),
    };
    let mut event = MessageEvent::text(source, &message.id, &message.id, &text, snowflake_time(&message.id));
    if text.is_empty()
        && let Some(first) = attachments.first()
    {
        let mime = first.content_type.as_deref().unwrap_or("");
        event.kind = if mime.starts_with("image/") {
            EventKind::Photo
        } else if mime.starts_with("video/") {
            EventKind::Video
        } else if mime.starts_with("audio/") {
            EventKind::Audio
        } else {
            EventKind::Document
        };
        event.text = first.filename.clone().unwrap_or_default();
    }
    event.reply_to = message.referenced_message.as_ref().map(|r| ReplyTo {
        message_id: r.id.clone(),
        text: r.content.clone(),
        author_id: r.author.as_ref().map(|a| a.id.clone()),
        is_own: r.author.as_ref().is_some_and(|a| a.id == bot.id),
    });
    Some(event)
}

/// Removes `<@id>` / `<@!id>` mentions of the bot and tidies the spaces they leave.
pub(crate) fn strip_mentions(text: &str, bot_id: &str) -> String {
    let stripped = text.replace(&format!("<@!{bot_id}>"), "").replace(&format!("<@{bot_id}>"), "");
    if stripped.len() == text.len() {
        return text.trim().to_string();
    }
    stripped.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ").trim().to_string()
}
