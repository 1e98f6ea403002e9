//! hermes-lite's benchmark: builds the static gateway, runs it against fake Telegram (TLS) and
//! LLM servers on loopback, and holds every figure to its budget (spec 40-performance).
//! `--quick` for CI (10 s idle), no flag for the full run (60 s idle), `--soak N` adds N
//! messages and the RSS growth over them. Prints a table, then one JSON line; exits 1 only when
//! a hard budget fails.

mod build;
mod load;
mod procfs;
mod report;
mod run;
mod three_platforms;
mod tool_output;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use report::Report;

struct Args {
    quick: bool,
    soak: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { quick: false, soak: 0 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" | "quick" => args.quick = true,
            "--soak" => {
                let n = it.next().ok_or("--soak needs a message count")?;
                args.soak = n.parse().map_err(|_| format!("--soak: not a count: {n}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ has a parent").to_path_buf()
}

fn commit(repo: &Path) -> String {
    Command::new("git")
        .current_dir(repo)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("bench: {e}");
            }
            eprintln!("usage: cargo run --release -p bench -- [--quick] [--soak N]");
            return ExitCode::from(2);
        }
    };
    let repo = repo_root();
    let mode = match (args.quick, args.soak) {
        (true, 0) => "quick".to_string(),
        (false, 0) => "full".to_string(),
        (q, n) => format!("{}+soak {n}", if q { "quick" } else { "full" }),
    };
    let built = build::build_all(&repo);
    let mut figures = built.figures;
    match &built.default_bin {
        Some(bin) => {
            let idle = Duration::from_secs(if args.quick { 10 } else { 60 });
            figures.extend(run::measure(bin, &run::Plan { idle, soak: args.soak }));
            eprintln!("bench: Telegram, Matrix and Discord connected at once");
            figures.push(three_platforms::measure(bin, &repo, idle));
        }
        None => eprintln!("bench: no binary, so no run"),
    }
    let report = Report { mode, commit: commit(&repo), figures };
    println!("{}", report.table());
    println!("{}", report.json());
    if report.hard_failures() > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
