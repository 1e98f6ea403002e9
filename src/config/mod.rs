//! Configuration: where the Hermes home is, and the [`Config`] read from it.
//!
//! Sources, in the order Hermes applies them (O2, CAC §2.1):
//! 1. the process environment;
//! 2. `HERMES_HOME/.env`, overriding it;
//! 3. `config.yaml` (with `${VAR}` expanded): its top-level scalar keys become variables of
//!    the same name where still unset;
//! 4. the managed overlay's `.env` (`HERMES_MANAGED_DIR` or `/etc/hermes`), overriding.
//!
//! Each setting then reads `config.yaml` and its variable in the order Hermes gives that key:
//! "config wins" for `agent.*`, `display.busy_*` and `timezone`; "env wins" for
//! `SESSION_IDLE_MINUTES`, `SESSION_RESET_HOUR` and platform credentials (which platforms read
//! through [`hermes_platform::Settings`]). Unknown keys are ignored: Hermes configs carry many
//! this build does not use. Every wrong value is a [`Problem`], and all are returned at once.
mod access;
pub mod approvals;
mod commands;
pub mod compression;
pub mod delegation;
mod dotenv;
pub mod env_file;
mod home;
mod load;
mod model;
mod problem;
mod read;
mod secrets;
mod sections;
mod tools;
mod types;
mod web;
mod yaml;
pub mod yaml_edit;

pub use access::AccessConfig;
pub use commands::{CommandsConfig, QuickCommand};
pub use home::{profile_home, resolve_home};
pub use load::{LoadOptions, load};
pub use model::key_hint;
pub use problem::Problem;
pub use tools::ToolsConfig;
pub use types::*;
pub use web::{MemoryConfig, SearchBackend};

#[cfg(test)]
mod tests;
