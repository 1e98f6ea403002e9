//! Markdown to platform dialects: TODO(helper A).

/// The agent's Markdown as Telegram MarkdownV2.
pub fn to_telegram_v2(markdown: &str) -> String {
    markdown.to_string()
}
