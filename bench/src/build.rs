//! Builds the gateway as users install it on small hosts: release profile, static, for
//! x86_64-unknown-linux-musl (spec 00: musl where available; a static glibc drags in about 900 KiB
//! of its own, static dlopen and NSS among it); once with the default platforms and once with
//! Telegram only. Needs `rustup target add x86_64-unknown-linux-musl` and musl-gcc (Debian's
//! musl-tools) for the bundled C; `.ci/run` installs both.
//! Each build has its own target directory so a rerun relinks nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::report::{Budget, Figure, Kind};

const TARGET: &str = "x86_64-unknown-linux-musl";
const STATIC_FLAGS: &str = "-C target-feature=+crt-static -C relocation-model=static";

pub struct Build {
    /// The default-features binary, when it built.
    pub default_bin: Option<PathBuf>,
    pub figures: Vec<Figure>,
}

/// `cargo build --release` static into `<repo>/<dir>`; the binary's path or the error text.
fn cargo_build(repo: &Path, dir: &str, features: &[&str]) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = repo.join(dir);
    eprintln!("bench: building {} {}", target_dir.display(), features.join(" "));
    let status = Command::new(cargo)
        .current_dir(repo)
        .args(["build", "--release", "--locked", "-p", "hermes-lite", "--bin", "hermes-lite", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        .args(features)
        .env("RUSTFLAGS", STATIC_FLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build {} failed: {status}", features.join(" ")));
    }
    Ok(target_dir.join(TARGET).join("release").join("hermes-lite"))
}

fn size_figure(name: &'static str, built: &Result<PathBuf, String>, budget_mib: f64) -> Figure {
    let (value, note) = match built {
        Ok(p) => match std::fs::metadata(p) {
            Ok(m) => (Some(crate::procfs::mib(m.len())), format!("{} bytes", m.len())),
            Err(e) => (None, format!("{}: {e}", p.display())),
        },
        Err(e) => (None, e.clone()),
    };
    Figure::new(name, "MiB", value, Budget::AtMost(budget_mib), Kind::Hard).note(note)
}

/// `ldd` says the binary has no dynamic dependencies.
fn static_figure(built: &Result<PathBuf, String>) -> Figure {
    let Ok(bin) = built else {
        return Figure::check("static (ldd)", false, Kind::Hard, "no binary");
    };
    match Command::new("ldd").arg(bin).stdin(Stdio::null()).output() {
        Ok(out) => {
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let text = text.trim().to_string();
            let ok = text.contains("statically linked") || text.contains("not a dynamic executable");
            Figure::check("static (ldd)", ok, Kind::Hard, format!("ldd: {text}"))
        }
        Err(e) => Figure::check("static (ldd)", false, Kind::Hard, format!("run ldd: {e}")),
    }
}

pub fn build_all(repo: &Path) -> Build {
    let default = cargo_build(repo, "target/static", &[]);
    let telegram = cargo_build(repo, "target/static-tg", &["--no-default-features", "--features", "telegram"]);
    let figures = vec![
        size_figure("binary, default platforms", &default, 7.0),
        size_figure("binary, telegram only", &telegram, 4.5),
        static_figure(&default),
    ];
    Build { default_bin: default.ok(), figures }
}
