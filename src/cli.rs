//! The command line (O9): `hermes-lite [--home DIR | -p NAME] <command>`.
//!
//! Parsing is lexopt's: every level takes `--help`; an unknown flag or a missing argument is an
//! error that names the usage. Exit codes are the gateway's (O7).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

use crate::config::{self, LoadOptions};
use crate::gateway::{self, exit};
use crate::{logging, platforms};

const MAIN_HELP: &str = "\
hermes-lite — the Hermes messaging gateway, small.

Usage: hermes-lite [--home DIR | -p NAME] <command>

Commands:
  gateway run      Run the gateway in the foreground
  config check     Check config.yaml and .env; print every problem
  pairing ...      List, approve or revoke DM pairing requests
  version          Print the version

Options:
  --home DIR       The Hermes home (default: $HERMES_HOME, else ~/.hermes)
  -p, --profile N  Use the Hermes profile N (~/.hermes/profiles/N)
  -h, --help       Show help (every command has its own)
  -V, --version    Print the version

Examples:
  hermes-lite gateway run
  hermes-lite --home /srv/hermes config check";

const GATEWAY_HELP: &str = "\
Usage: hermes-lite gateway run [--replace] [--allow-root]

Runs the gateway in the foreground until SIGTERM or SIGINT (a second signal forces the exit).
SIGUSR1 restarts gracefully (exit code 75, for the service manager).

Options:
  --replace      Stop a gateway already running on this home first
  --allow-root   Run even as root (not recommended: a bug or a prompt injection then has the
                 whole machine)
  -h, --help     Show this help

Exit codes: 0 stopped, 1 runtime error, 75 restart requested, 78 configuration error.";

const PAIRING_HELP: &str = "\
Usage: hermes-lite pairing <command>

Commands:
  list                          Show pending requests and approved users
  approve <platform> <code>     Approve the user who got this code (e.g. telegram ABCD2345)
  revoke <platform> <user_id>   Remove an approved user
  clear-pending                 Drop every pending request

Works while the gateway runs; it sees approvals and revocations at once.
Exit codes: 0 done, 1 failed (unknown code, lockout, unknown user, unreadable files).";

const CONFIG_HELP: &str = "\
Usage: hermes-lite config check

Reads .env and config.yaml the way `gateway run` does and prints every problem with its file,
line and key. Exit code 0 when the configuration is usable, 78 otherwise. Secrets are masked.";

/// Global options before the command.
struct Global {
    home: Option<PathBuf>,
    profile: Option<String>,
}

/// Parses the arguments and runs the command; returns the exit code.
pub fn main() -> i32 {
    logging::init(log::LevelFilter::Info);
    match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}\n\nRun `hermes-lite --help` for usage.");
            exit::ERROR
        }
    }
}

fn run(args: Vec<OsString>) -> Result<i32, lexopt::Error> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut global = Global { home: None, profile: None };
    let command = loop {
        match parser.next()? {
            Some(Long("home")) => global.home = Some(parser.value()?.into()),
            Some(Short('p') | Long("profile")) => global.profile = Some(parser.value()?.string()?),
            Some(Short('h') | Long("help")) => {
                println!("{MAIN_HELP}");
                return Ok(exit::OK);
            }
            Some(Short('V') | Long("version")) => {
                println!("{}", version());
                return Ok(exit::OK);
            }
            Some(Value(v)) => break v.string()?,
            Some(other) => return Err(other.unexpected()),
            None => {
                println!("{MAIN_HELP}");
                return Ok(exit::ERROR);
            }
        }
    };
    match command.as_str() {
        "gateway" => gateway_cmd(&mut parser, &global),
        "config" => config_cmd(&mut parser, &global),
        "pairing" => pairing_cmd(&mut parser, &global),
        "version" => {
            no_more(&mut parser, "Usage: hermes-lite version")?;
            println!("{}", version());
            Ok(exit::OK)
        }
        other => Err(format!("unknown command `{other}` (commands: gateway, config, pairing, version)").into()),
    }
}

fn version() -> String {
    format!("hermes-lite {} (platforms: {})", env!("CARGO_PKG_VERSION"), platforms::compiled().join(", "))
}

/// Fails on any further argument; prints `help` for `--help`.
fn no_more(parser: &mut lexopt::Parser, help: &str) -> Result<bool, lexopt::Error> {
    match parser.next()? {
        None => Ok(false),
        Some(Short('h') | Long("help")) => {
            println!("{help}");
            Ok(true)
        }
        Some(other) => Err(other.unexpected()),
    }
}

/// Reads the one subcommand `group` has in this build (`expected`). False when the user asked
/// for help (it is printed); an unknown subcommand is an error naming the known one.
fn subcommand(parser: &mut lexopt::Parser, group: &str, expected: &str, help: &str) -> Result<bool, lexopt::Error> {
    match parser.next()? {
        Some(Value(v)) => {
            let sub = v.string()?;
            if sub == expected {
                Ok(true)
            } else {
                Err(format!("unknown {group} command `{sub}` (this build has: {expected})").into())
            }
        }
        Some(Short('h') | Long("help")) | None => {
            println!("{help}");
            Ok(false)
        }
        Some(other) => Err(other.unexpected()),
    }
}

fn gateway_cmd(parser: &mut lexopt::Parser, global: &Global) -> Result<i32, lexopt::Error> {
    if !subcommand(parser, "gateway", "run", GATEWAY_HELP)? {
        return Ok(exit::OK);
    }
    let (mut replace, mut allow_root) = (false, false);
    while let Some(arg) = parser.next()? {
        match arg {
            Long("replace") => replace = true,
            Long("allow-root") => allow_root = true,
            Short('h') | Long("help") => {
                println!("{GATEWAY_HELP}");
                return Ok(exit::OK);
            }
            other => return Err(other.unexpected()),
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        if !allow_root {
            eprintln!(
                "error: refusing to run as root. The agent runs tools and reads files as this user; as root a \
                 bug or a prompt injection owns the machine. Run as an ordinary user, or pass --allow-root."
            );
            return Ok(exit::ERROR);
        }
        log::warn!("running as root (--allow-root): the agent has full control of this machine");
    }
    let Some(config) = load_config(global) else { return Ok(exit::CONFIG) };
    let (platforms, problems) = platforms::configure(&config);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("config error: {p}");
        }
        return Ok(exit::CONFIG);
    }
    if platforms.is_empty() {
        eprintln!(
            "config error: no platform is configured. Set TELEGRAM_BOT_TOKEN, MATRIX_HOMESERVER (with a token or a user and password) or DISCORD_BOT_TOKEN in {}/.env (see config/.env in the hermes-lite repository).",
            config.home.display()
        );
        return Ok(exit::CONFIG);
    }
    if let Err(e) = gateway::lifecycle::create_private_dir(&config.home) {
        eprintln!("error: {e}");
        return Ok(exit::ERROR);
    }
    if let Err(e) = logging::to_file(&config.home, &config.logging) {
        log::warn!("cannot write {}/logs/gateway.log: {e}; logging to stderr only", config.home.display());
    }
    if let Some(tz) = &config.timezone {
        // SAFETY: single-threaded at this point (no thread has started yet).
        unsafe { std::env::set_var("TZ", tz) };
    }
    crate::clock::set_offset(config.gateway.clock_offset_seconds);
    Ok(gateway::run(config, platforms, gateway::RunOptions { replace }))
}

fn pairing_cmd(parser: &mut lexopt::Parser, global: &Global) -> Result<i32, lexopt::Error> {
    let sub = match parser.next()? {
        Some(Value(v)) => v.string()?,
        Some(Short('h') | Long("help")) | None => {
            println!("{PAIRING_HELP}");
            return Ok(exit::OK);
        }
        Some(other) => return Err(other.unexpected()),
    };
    let want = match sub.as_str() {
        "list" | "clear-pending" => 0,
        "approve" | "revoke" => 2,
        other => {
            return Err(
                format!("unknown pairing command `{other}` (commands: list, approve, revoke, clear-pending)").into()
            );
        }
    };
    let mut args = Vec::new();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => {
                println!("{PAIRING_HELP}");
                return Ok(exit::OK);
            }
            Value(v) if args.len() < want => args.push(v.string()?),
            other => return Err(other.unexpected()),
        }
    }
    if args.len() < want {
        return Err(format!("`pairing {sub}` needs {want} arguments\n\n{PAIRING_HELP}").into());
    }
    let home = match load_options(global) {
        Ok(o) => o.home,
        Err(p) => {
            eprintln!("error: {p}");
            return Ok(exit::ERROR);
        }
    };
    Ok(match sub.as_str() {
        "list" => crate::pairing::cli::list(&home),
        "clear-pending" => crate::pairing::cli::clear_pending(&home),
        "approve" => crate::pairing::cli::approve(&home, &args[0], &args[1]),
        _ => crate::pairing::cli::revoke(&home, &args[0], &args[1]),
    })
}

fn config_cmd(parser: &mut lexopt::Parser, global: &Global) -> Result<i32, lexopt::Error> {
    if !subcommand(parser, "config", "check", CONFIG_HELP)? {
        return Ok(exit::OK);
    }
    if no_more(parser, CONFIG_HELP)? {
        return Ok(exit::OK);
    }
    let opts = match load_options(global) {
        Ok(o) => o,
        Err(p) => {
            println!("{p}");
            return Ok(exit::CONFIG);
        }
    };
    let home = opts.home.clone();
    match config::load(&opts) {
        Ok(config) => {
            let (platforms, problems) = platforms::configure(&config);
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                println!("\n{} problem(s) in {}", problems.len(), home.display());
                return Ok(exit::CONFIG);
            }
            println!("home: {}", home.display());
            let api = match config.model.api_mode {
                config::ApiMode::OpenAiChat => "chat completions",
                config::ApiMode::AnthropicMessages => "anthropic messages",
            };
            println!("model: {} via {} ({}, {api})", config.model.name, config.model.provider, config.model.base_url);
            for p in &platforms {
                println!("platform: {}", p.describe());
            }
            for f in &config.fallbacks {
                println!("fallback: {} via {} ({})", f.name, f.provider, f.base_url);
            }
            for w in &config.warnings {
                println!("warning: {w}");
            }
            if platforms.is_empty() {
                println!(
                    "warning: no platform is configured (set TELEGRAM_BOT_TOKEN, MATRIX_HOMESERVER or DISCORD_BOT_TOKEN)"
                );
            }
            for p in crate::pairing::check_files(&home) {
                println!("warning: {p} (nobody is approved by pairing from it until it is fixed)");
            }
            println!("configuration OK");
            Ok(exit::OK)
        }
        Err(problems) => {
            for p in &problems {
                println!("{p}");
            }
            println!("\n{} problem(s) in {}", problems.len(), home.display());
            Ok(exit::CONFIG)
        }
    }
}

fn load_options(global: &Global) -> Result<LoadOptions, config::Problem> {
    let process_env: BTreeMap<String, String> = std::env::vars().collect();
    let home = match (&global.home, &global.profile) {
        (Some(h), _) => h.clone(),
        (None, Some(name)) => config::profile_home(name, &process_env)?,
        (None, None) => config::resolve_home(None, &process_env),
    };
    Ok(LoadOptions { home, process_env })
}

fn load_config(global: &Global) -> Option<config::Config> {
    let loaded = load_options(global).map_err(|p| vec![p]).and_then(|o| config::load(&o));
    match loaded {
        Ok(c) => Some(c),
        Err(problems) => {
            for p in &problems {
                eprintln!("config error: {p}");
            }
            eprintln!("run `hermes-lite config check` for the full report");
            None
        }
    }
}
