//! The agent's Markdown for Telegram: MarkdownV2 first, plain text as the fallback.
//!
//! Both go through the contract's converters. `markdown::to_plain` does not exist in the
//! contract yet; until it does, the plain fallback sends the Markdown source as is (readable,
//! and never rejected because no `parse_mode` is set).

use hermes_platform::markdown;

pub(crate) fn to_v2(text: &str) -> String {
    markdown::to_telegram_v2(text)
}

// TODO: switch to `markdown::to_plain` once the contract has it.
pub(crate) fn to_plain(text: &str) -> String {
    text.to_string()
}
