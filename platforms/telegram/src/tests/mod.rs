//! Tests against a fake Bot API ([`fake`]) and of the intake rules.

mod fake;
mod inbound;
mod outbound;
mod polling;
mod settings;
