//! One gateway run against the fakes: start, idle, load, optional soak, graceful stop. The
//! gateway runs its default configuration (streaming on, the 30 s long poll) and reaches the
//! fake Telegram over TLS at `https://localhost:PORT`, so TLS memory and name resolution of the
//! static binary are part of what is measured.

use std::path::Path;
use std::time::{Duration, Instant};

use hermes_testkit::{FakeLlm, FakeTelegram, Gateway, HermesHome, TOKEN, TlsIdentity};

use crate::load::{self, LoadResult};
use crate::procfs::{self, mib};
use crate::report::{Budget, Figure, Kind};

pub const CHATS: usize = 20;
pub const PER_CHAT: usize = 10;
/// Messages of the one-chat latency run.
const SOLO: usize = 20;

pub struct Plan {
    /// Seconds from start to the idle sample.
    pub idle: Duration,
    /// Messages for the soak after the load run (0 = none).
    pub soak: usize,
}

/// Runs the gateway binary `bin` through the plan; every figure it yields, measured or not.
pub fn measure(bin: &Path, plan: &Plan) -> Vec<Figure> {
    let mut figs = Vec::new();
    let Some(id) = TlsIdentity::localhost() else {
        let why = "openssl CLI missing or failed: no TLS identity for the fakes";
        figs.push(Figure::check("resolves localhost, connects over TLS", false, Kind::Hard, why));
        figs.push(Figure::new("idle RSS (process tree)", "MiB", None, Budget::AtMost(6.0), Kind::Hard).note(why));
        return figs;
    };
    let tg = FakeTelegram::start_tls(&id);
    let llm = FakeLlm::start();
    let home = HermesHome::standard(&tg, &llm, "");
    home.write_env(&format!(
        "TELEGRAM_BOT_TOKEN={TOKEN}\nTELEGRAM_BASE_URL=https://localhost:{}/bot\nSSL_CERT_FILE={}\n\
         TELEGRAM_ALLOWED_USERS={}\n",
        tg.port(),
        id.ca_pem_path.display(),
        load::allowed_users(CHATS)
    ));
    // Only what the fake LLM needs; everything else (streaming included) stays at its default.
    home.write_config(&format!(
        "model:\n  default: bench-model\n  provider: custom\n  base_url: {}\n  api_key: sk-bench-key-1234\n",
        llm.base_url()
    ));

    let started = Instant::now();
    let mut gw = Gateway::start_with(bin, &home, &["gateway", "run", "--allow-root"], &[]);
    let pid = gw.pid();
    let connected = tg.wait_calls("getUpdates", 1, Duration::from_secs(15));
    let first_poll = tg.calls_of("getUpdates").first().map(|c| (c.at - started).as_secs_f64() * 1000.0);
    let why_not =
        if connected { String::new() } else { format!("no getUpdates in 15 s; gateway said: {}", tail(&gw.output())) };
    figs.push(Figure::check("resolves localhost, connects over TLS", connected, Kind::Hard, why_not.clone()));
    figs.push(Figure::new("start to first getUpdates", "ms", first_poll, Budget::AtMost(50.0), Kind::Soft));
    if !connected {
        figs.push(Figure::new("idle RSS (process tree)", "MiB", None, Budget::AtMost(6.0), Kind::Hard).note(why_not));
        return figs;
    }

    std::thread::sleep(plan.idle.saturating_sub(started.elapsed()));
    let idle_secs = started.elapsed().as_secs();
    let rss = procfs::tree_rss(pid).map(mib);
    figs.push(
        Figure::new("idle RSS (process tree)", "MiB", rss, Budget::AtMost(6.0), Kind::Hard)
            .note(format!("{idle_secs} s after start")),
    );
    let threads = procfs::tree_threads(pid).map(|n| n as f64);
    figs.push(Figure::new("threads when idle", "", threads, Budget::AtMost(6.0), Kind::Soft));

    // One chat alone first: the gateway's own overhead per message, without the queueing that
    // 20 chats at once add on 2 cores.
    let solo = load::drive(&tg, 1, SOLO, 9);
    figs.push(Figure::new("latency p50, 1 chat alone", "ms", solo.percentile(50.0), Budget::AtMost(5.0), Kind::Soft));
    figs.push(
        Figure::new("latency p95, 1 chat alone", "ms", solo.percentile(95.0), Budget::AtMost(20.0), Kind::Soft)
            .note(format!("{}/{SOLO} answered", solo.answered())),
    );

    eprintln!("bench: load, {CHATS} chats x {PER_CHAT} messages");
    let cpu0 = procfs::cpu_secs(pid);
    let run = load::drive(&tg, CHATS, PER_CHAT, 0);
    let cpu1 = procfs::cpu_secs(pid);
    let hwm = procfs::status_kb(pid, "VmHWM").map(mib);
    load_figures(&mut figs, &run, cpu0.zip(cpu1).map(|(a, b)| b - a));
    figs.push(
        Figure::new("peak RSS, 20 chats streaming (VmHWM)", "MiB", hwm, Budget::AtMost(12.0), Kind::Soft)
            .note("whole run so far"),
    );

    if plan.soak > 0 {
        figs.push(soak(&tg, pid, plan.soak));
    }
    eprintln!("bench: a tool that prints 100 MB");
    figs.extend(crate::tool_output::measure(&tg, &llm, pid, load::FIRST_USER));

    gw.terminate();
    let code = gw.wait_exit(Duration::from_secs(30));
    let note = match code {
        Some(c) => format!("exit code {c}"),
        None => "still running 30 s after SIGTERM".to_string(),
    };
    figs.push(Figure::check("SIGTERM exits 0", code == Some(0), Kind::Soft, note));
    figs
}

fn load_figures(figs: &mut Vec<Figure>, run: &LoadResult, cpu: Option<f64>) {
    let total = CHATS * PER_CHAT;
    let note = format!("{}/{total} answered, {:.2} s", run.answered(), run.elapsed.as_secs_f64());
    figs.push(Figure::check("all messages answered", run.lost == 0, Kind::Soft, note));
    figs.push(Figure::new("latency p50, 20 chats", "ms", run.percentile(50.0), Budget::AtMost(5.0), Kind::Soft));
    figs.push(Figure::new("latency p95, 20 chats", "ms", run.percentile(95.0), Budget::AtMost(20.0), Kind::Soft));
    let tput = (run.answered() > 0).then(|| run.per_sec());
    figs.push(Figure::new("throughput, 20 chats", "msgs/s", tput, Budget::AtLeast(300.0), Kind::Soft));
    let per_100 = cpu.filter(|_| run.answered() > 0).map(|c| c * 100.0 / run.answered() as f64);
    figs.push(
        Figure::new("CPU per 100 messages", "s", per_100, Budget::AtMost(0.1), Kind::Soft)
            .note("utime+stime, 10 ms ticks"),
    );
}

/// RSS growth over `n` more messages, after the load run warmed the gateway up.
fn soak(tg: &FakeTelegram, pid: u32, n: usize) -> Figure {
    let per_chat = n.div_ceil(CHATS);
    eprintln!("bench: soak, {CHATS} chats x {per_chat} messages");
    let before = procfs::tree_rss(pid);
    let run = load::drive(tg, CHATS, per_chat, 1);
    let after = procfs::tree_rss(pid);
    let growth = before.zip(after).map(|(a, b)| mib(b.saturating_sub(a)));
    let note = format!(
        "{}/{} answered in {:.1} s; {:.2} → {:.2} MiB",
        run.answered(),
        per_chat * CHATS,
        run.elapsed.as_secs_f64(),
        before.map(mib).unwrap_or(0.0),
        after.map(mib).unwrap_or(0.0)
    );
    let value = growth.filter(|_| run.lost == 0);
    Figure::new("RSS growth over soak", "MiB", value, Budget::AtMost(1.0), Kind::Soft).note(note)
}

/// The last lines of the gateway's output, on one line, for a failure note.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" / ")
}
