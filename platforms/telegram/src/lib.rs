//! Telegram Bot API platform: TODO(helper A).
