//! hermes-lite: the Hermes messaging gateway as one small static binary.

mod agent;
mod cli;
mod clock;
mod config;
mod delegation;
mod gateway;
mod logging;
mod pairing;
mod platforms;
mod private_file;
mod runtime;
mod skills;
mod sorted;
mod store;
#[cfg(test)]
mod test_util;
mod text;
mod tools;

fn main() {
    limit_malloc_arenas();
    // The blocking pool reads this once and never shrinks; cap it before any thread starts.
    if std::env::var_os("BLOCKING_MAX_THREADS").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("BLOCKING_MAX_THREADS", runtime::BLOCKING_THREADS.to_string()) };
    }
    std::process::exit(cli::main());
}

/// glibc gives every thread that allocates its own malloc arena (up to 8 per core), and each
/// keeps freed memory around: on a small host that is most of the RSS. One arena is plenty for
/// one executor thread and a few short blocking calls.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
