//! hermes-lite: the Hermes messaging gateway as one small static binary.

mod agent;
mod cli;
mod clock;
mod config;
mod gateway;
mod logging;
mod platforms;
mod runtime;
mod store;
#[cfg(test)]
mod test_util;
mod tools;

fn main() {
    // The blocking pool reads this once and never shrinks; cap it before any thread starts.
    if std::env::var_os("BLOCKING_MAX_THREADS").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("BLOCKING_MAX_THREADS", runtime::BLOCKING_THREADS.to_string()) };
    }
    std::process::exit(cli::main());
}
