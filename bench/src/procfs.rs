//! What the kernel says about the gateway: memory, threads and CPU time from `/proc`.
//! Memory is summed over the process tree, so a helper process cannot hide its share.

use std::fs;

/// USER_HZ: the unit of utime/stime in `/proc/PID/stat`; fixed at 100 in Linux's ABI.
const TICKS_PER_SEC: f64 = 100.0;

/// A `kB` field of `/proc/PID/status` (e.g. "VmRSS", "VmHWM"), in bytes.
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.split(':').next() == Some(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The fields of `/proc/PID/stat` after the command name (field 3, the state, comes first).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; it ends at the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The process and all its descendants.
pub fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            // Field 4 (ppid) is index 1 after the name.
            if let Some(ppid) = stat_fields(p).and_then(|f| f.get(1)?.parse::<u32>().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    out
}

/// VmRSS summed over the process tree, in bytes.
pub fn tree_rss(pid: u32) -> Option<u64> {
    let own = status_kb(pid, "VmRSS")?;
    Some(own + tree(pid).into_iter().skip(1).filter_map(|p| status_kb(p, "VmRSS")).sum::<u64>())
}

/// Threads of the process tree (`/proc/PID/task` entries).
pub fn tree_threads(pid: u32) -> Option<usize> {
    let own = fs::read_dir(format!("/proc/{pid}/task")).ok()?.count();
    let children: usize = tree(pid)
        .into_iter()
        .skip(1)
        .filter_map(|p| fs::read_dir(format!("/proc/{p}/task")).ok())
        .map(|d| d.count())
        .sum();
    Some(own + children)
}

/// utime + stime of the process (all its threads), in seconds.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let f = stat_fields(pid)?;
    // utime and stime are fields 14 and 15: indexes 11 and 12 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / TICKS_PER_SEC)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let rss = tree_rss(me).expect("VmRSS of self");
        assert!(rss > 0);
        // RSS first: the peak read after it can only be as large or larger.
        let now = status_kb(me, "VmRSS").unwrap();
        assert!(status_kb(me, "VmHWM").unwrap() >= now);
        assert!(tree_threads(me).unwrap() >= 1);
        assert!(cpu_secs(me).is_some());
    }

    #[test]
    fn tree_finds_a_child() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("spawn sleep");
        let t = tree(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(t.contains(&child.id()), "{t:?} lacks {}", child.id());
    }
}
