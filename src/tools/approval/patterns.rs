//! The Hermes hardline and dangerous-command lists (AD §3.3), as token checks rather than
//! regexes: the command is normalised (quotes and backslashes used for obfuscation dropped,
//! whitespace collapsed), split into commands at `;`, `&&`, `||`, `|`, `&`, `$(`, backticks
//! and parentheses, and each command's words are looked at. Smaller than a regex engine and
//! harder to dodge with spacing tricks.

/// One simple command: its name (basename, lowercase, after `sudo`/`env`/... prefixes), its
/// arguments, the pipeline it belongs to, and whether it ran under `sudo`.
struct Cmd {
    name: String,
    args: Vec<String>,
    pipeline: usize,
    piped_in: bool,
}

/// The parsed command line.
pub struct Parsed {
    cmds: Vec<Cmd>,
    /// Lowercase, whitespace-collapsed text (SQL and fork-bomb checks).
    flat: String,
    /// `sudo` was given `-S`, `-A` or `-s`.
    sudo_flags: bool,
}

/// Drops quotes and backslashes, keeping what the shell would see as words.
pub fn normalise(command: &str) -> String {
    let mut out = String::with_capacity(command.len());
    for c in command.chars() {
        match c {
            '\'' | '"' | '\\' => {}
            c if c.is_whitespace() && c != '\n' => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

pub fn parse(command: &str) -> Parsed {
    let text = normalise(command);
    let mut cmds = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let (mut pipeline, mut piped_in, mut sudo_flags) = (0, false, false);
    let mut end_cmd = |words: &mut Vec<String>, piped: bool, pipeline: &mut usize, piped_in: &mut bool| {
        if let Some(cmd) = command_of(std::mem::take(words), *pipeline, *piped_in, &mut sudo_flags) {
            cmds.push(cmd);
        }
        *piped_in = piped;
        if !piped {
            *pipeline += 1;
        }
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let flush = |word: &mut String, words: &mut Vec<String>| {
            if !word.is_empty() {
                words.push(std::mem::take(word));
            }
        };
        match c {
            ' ' => flush(&mut word, &mut words),
            ';' | '\n' | '(' | ')' | '`' | '{' | '}' => {
                flush(&mut word, &mut words);
                end_cmd(&mut words, false, &mut pipeline, &mut piped_in);
            }
            '|' if next == Some('|') => {
                flush(&mut word, &mut words);
                end_cmd(&mut words, false, &mut pipeline, &mut piped_in);
                i += 1;
            }
            '|' => {
                flush(&mut word, &mut words);
                end_cmd(&mut words, true, &mut pipeline, &mut piped_in);
            }
            '&' if next == Some('>') => {
                flush(&mut word, &mut words);
                words.push(">".into());
                i += 1;
            }
            '&' => {
                flush(&mut word, &mut words);
                end_cmd(&mut words, false, &mut pipeline, &mut piped_in);
                if next == Some('&') {
                    i += 1;
                }
            }
            '>' | '<' => {
                // `2>` is a redirect of descriptor 2, not a word `2`.
                if word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                }
                flush(&mut word, &mut words);
                let mut op = String::from(c);
                while let Some(&n) = chars.get(i + 1).filter(|&&n| n == c || n == '&' || n == '|') {
                    if n == '&' {
                        // `>&2`: a descriptor, not a file; skip it whole.
                        i += 1;
                        while chars.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == '-') {
                            i += 1;
                        }
                        op.clear();
                        break;
                    }
                    op.push(n);
                    i += 1;
                }
                if !op.is_empty() {
                    words.push(op);
                }
            }
            c => word.push(c),
        }
        i += 1;
    }
    if !word.is_empty() {
        words.push(word);
    }
    end_cmd(&mut words, false, &mut pipeline, &mut piped_in);
    Parsed { cmds, flat: text.to_lowercase(), sudo_flags }
}

/// Strips prefixes that run another command (`sudo`, `env X=1`, `nohup`, ...) and makes the
/// name a lowercase basename.
fn command_of(mut words: Vec<String>, pipeline: usize, piped_in: bool, sudo_flags: &mut bool) -> Option<Cmd> {
    let mut start = 0;
    while start < words.len() {
        let w = words[start].to_lowercase();
        let w = w.rsplit('/').next().unwrap_or(&w).to_string();
        if matches!(w.as_str(), "sudo" | "doas") {
            start += 1;
            while words.get(start).is_some_and(|a| a.starts_with('-')) {
                let a = &words[start];
                if !a.starts_with("--") && a.chars().any(|c| matches!(c, 'S' | 'A' | 's')) {
                    *sudo_flags = true;
                }
                start += 1;
            }
        } else if matches!(
            w.as_str(),
            "env"
                | "nohup"
                | "time"
                | "command"
                | "exec"
                | "nice"
                | "builtin"
                | "then"
                | "do"
                | "else"
                | "if"
                | "while"
                | "!"
        ) || (w.contains('=') && !w.starts_with('-') && start < words.len() - 1)
        {
            start += 1;
        } else if w == "timeout" {
            start += 2;
        } else {
            break;
        }
    }
    if start >= words.len() {
        return None;
    }
    let args = words.split_off(start + 1);
    let name = words.pop()?;
    let name = name.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(&name).to_lowercase();
    Some(Cmd { name, args, pipeline, piped_in })
}

impl Cmd {
    /// A short flag cluster containing `c` (`-rf` has `r`), or the long flag `long`.
    fn flag(&self, c: char, long: &str) -> bool {
        self.args.iter().any(|a| {
            (a.starts_with('-') && !a.starts_with("--") && a[1..].contains(c)) || (!long.is_empty() && a == long)
        })
    }

    fn has(&self, word: &str) -> bool {
        self.args.iter().any(|a| a == word)
    }

    fn first(&self) -> &str {
        self.args.iter().find(|a| !a.starts_with('-')).map_or("", |s| s.as_str())
    }

    /// Words that are files written: redirect targets, and the files of tee / sed -i / cp / mv.
    fn written(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (i, a) in self.args.iter().enumerate() {
            if (a == ">" || a == ">>" || a == ">|") && i + 1 < self.args.len() {
                out.push(&self.args[i + 1]);
            }
        }
        let plain = || self.args.iter().filter(|a| !a.starts_with('-') && !a.starts_with('>')).map(|s| s.as_str());
        match self.name.as_str() {
            "tee" => out.extend(plain()),
            "sed" if self.args.iter().any(|a| a.starts_with("-i") || a == "--in-place") => out.extend(plain()),
            "cp" | "mv" | "install" | "ln" | "rsync" => out.extend(plain().next_back()),
            _ => {}
        }
        out
    }
}

/// Targets `rm -r` must never get: the root, system directories, the home directory.
fn is_system_path(p: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "", "bin", "boot", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "root", "sbin", "srv", "sys", "usr",
        "var", "*", "~", "$home", "${home}",
    ];
    let p = p.trim_end_matches("/*").trim_end_matches('/');
    let p = p.strip_prefix('/').unwrap_or(p);
    SYSTEM.contains(&p.to_lowercase().as_str()) || p.starts_with("usr/") && !p[4..].contains('/')
}

fn is_block_device(p: &str) -> bool {
    ["/dev/sd", "/dev/nvme", "/dev/mmcblk", "/dev/hd", "/dev/vd", "/dev/xvd", "/dev/disk"]
        .iter()
        .any(|d| p.starts_with(d))
}

fn is_shell(name: &str) -> bool {
    matches!(name, "sh" | "bash" | "zsh" | "ksh" | "dash" | "fish" | "csh")
}

fn is_interpreter(name: &str) -> bool {
    matches!(name, "python" | "python2" | "python3" | "perl" | "ruby" | "node" | "php") || name.starts_with("python3.")
}

/// The hardline check: a description when the command must never run.
pub fn hardline(p: &Parsed) -> Option<&'static str> {
    let bare: String = p.flat.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(at) = bare.find("(){") {
        let name = &bare[..at].rsplit([';', '&', '|']).next().unwrap_or("");
        if !name.is_empty() && bare[at..].contains(&format!("{name}|{name}&")) {
            return Some("fork bomb");
        }
    }
    for c in &p.cmds {
        let hit = match c.name.as_str() {
            "rm" => {
                (c.flag('r', "--recursive") || c.flag('R', ""))
                    && (c.has("--no-preserve-root") || c.args.iter().any(|a| !a.starts_with('-') && is_system_path(a)))
            }
            n if n == "mkfs" || n.starts_with("mkfs.") || n == "mke2fs" => return Some("format a filesystem (mkfs)"),
            "dd" if c.args.iter().any(|a| a.strip_prefix("of=").is_some_and(is_block_device)) => {
                return Some("write to a raw block device");
            }
            "kill" if c.has("-1") && (c.has("-9") || c.has("-kill") || c.has("-KILL") || c.has("-SIGKILL")) => {
                return Some("kill every process (kill -9 -1)");
            }
            "shutdown" | "reboot" | "halt" | "poweroff" => return Some("shut down or reboot the system"),
            "init" | "telinit" if matches!(c.first(), "0" | "6") => return Some("shut down or reboot the system"),
            "systemctl" if matches!(c.first(), "poweroff" | "reboot" | "halt" | "kexec") => {
                return Some("shut down or reboot the system");
            }
            _ => false,
        };
        if hit {
            return Some("recursive delete of the root, a system directory or the home directory");
        }
        if c.written().iter().any(|w| is_block_device(w)) {
            return Some("write to a raw block device");
        }
    }
    None
}

/// The dangerous check: `(key, description)` of the first pattern that matches.
pub fn dangerous(p: &Parsed) -> Option<(&'static str, &'static str)> {
    let flat = &p.flat;
    if flat.contains("drop table") || flat.contains("drop database") {
        return Some(("sql_drop", "SQL DROP"));
    }
    if let Some(at) = flat.find("delete from")
        && !flat[at..].contains("where")
    {
        return Some(("sql_delete", "SQL DELETE without WHERE"));
    }
    if flat.contains("truncate table") {
        return Some(("sql_truncate", "SQL TRUNCATE"));
    }
    if p.sudo_flags {
        return Some(("sudo_stdin", "sudo with a password from stdin or askpass (-S/-A/-s)"));
    }
    let fetches = p.cmds.iter().any(|c| matches!(c.name.as_str(), "curl" | "wget" | "fetch"));
    let mut chmod_x = false;
    for (i, c) in p.cmds.iter().enumerate() {
        let earlier_in_pipe = || p.cmds[..i].iter().filter(|e| e.pipeline == c.pipeline);
        for w in c.written() {
            let base = w.rsplit('/').next().unwrap_or(w);
            let hit = if w.starts_with("/etc/") {
                Some(("etc_write", "overwrite system config (/etc)"))
            } else if w.contains(".ssh/") || w.ends_with(".ssh") {
                Some(("ssh_edit", "modify SSH keys or config (~/.ssh)"))
            } else if matches!(
                base,
                ".bashrc"
                    | ".zshrc"
                    | ".profile"
                    | ".bash_profile"
                    | ".zprofile"
                    | ".bash_login"
                    | ".zshenv"
                    | ".bash_logout"
            ) {
                Some(("shell_rc", "modify a shell startup file"))
            } else if base == ".env" || base.starts_with(".env.") {
                Some(("env_file", "overwrite a .env secrets file"))
            } else if base == "config.yaml" {
                Some(("hermes_config", "modify the Hermes config.yaml"))
            } else {
                None
            };
            if hit.is_some() {
                return hit;
            }
        }
        let n = c.name.as_str();
        let hit = match n {
            "rm" if c.flag('r', "--recursive") || c.flag('R', "") => Some(("rm_recursive", "recursive delete")),
            "rm" if c.args.iter().any(|a| a.starts_with('/')) => Some(("rm_root_path", "delete in root path")),
            "shred" | "wipefs" => Some(("shred", "irrecoverably destroy file or disk contents")),
            "chmod"
                if c.args.iter().any(|a| {
                    matches!(
                        a.as_str(),
                        "777" | "666" | "0777" | "0666" | "o+w" | "a+w" | "a+rwx" | "o+rwx" | "ugo+rwx"
                    )
                }) =>
            {
                Some(("chmod_world", "world/other-writable permissions"))
            }
            "chmod" if c.has("+x") || c.has("u+x") || c.has("a+x") => {
                chmod_x = true;
                None
            }
            "chown" | "chgrp" if c.flag('R', "--recursive") => Some(("chown_recursive", "recursive chown")),
            "dd" if c.args.iter().any(|a| a.starts_with("if=") || a.starts_with("of=")) => {
                Some(("dd", "disk copy (dd)"))
            }
            "systemctl" | "service"
                if c.args.iter().any(|a| matches!(a.as_str(), "stop" | "disable" | "mask" | "restart" | "kill")) =>
            {
                Some(("systemctl", "stop/disable/restart a system service"))
            }
            "pkill" | "killall" if c.has("-9") || c.has("-KILL") || c.has("-kill") || c.has("-SIGKILL") => {
                Some(("pkill_9", "force kill processes"))
            }
            "pkill" | "killall" if c.args.iter().any(|a| a.contains("hermes")) => {
                Some(("gateway_stop", "stop/restart the gateway (kills running agents)"))
            }
            "hermes" | "hermes-lite" if c.has("gateway") && (c.has("stop") || c.has("restart")) => {
                Some(("gateway_stop", "stop/restart the gateway (kills running agents)"))
            }
            _ if is_shell(n)
                && c.piped_in
                && earlier_in_pipe().any(|e| e.name == "base64" && e.flag('d', "--decode")) =>
            {
                Some(("base64_pipe_sh", "decode base64 and pipe it to a shell"))
            }
            _ if (is_shell(n) || is_interpreter(n))
                && c.piped_in
                && earlier_in_pipe().any(|e| matches!(e.name.as_str(), "curl" | "wget" | "fetch")) =>
            {
                Some(("curl_pipe_sh", "pipe remote content to shell"))
            }
            _ if (is_shell(n) || n == "source" || n == ".") && c.has("<") && fetches => {
                Some(("remote_process_subst", "execute remote script via process substitution"))
            }
            "eval" if fetches => Some(("eval_remote", "eval of downloaded content")),
            _ if (is_shell(n) || is_interpreter(n)) && c.args.iter().any(|a| a.starts_with("<<")) => {
                Some(("heredoc_script", "script execution via heredoc"))
            }
            _ if is_shell(n) && c.args.first().is_some_and(|a| a.starts_with('-') && a.contains('c')) => {
                Some(("shell_c", "shell command via -c/-lc flag"))
            }
            _ if is_interpreter(n) && c.args.first().is_some_and(|a| a == "-c" || a == "-e") => {
                Some(("script_e", "script execution via -e/-c flag"))
            }
            "xargs" if c.args.iter().any(|a| a == "rm" || a.ends_with("/rm")) => Some(("xargs_rm", "xargs with rm")),
            "find" if c.has("-delete") => Some(("find_delete", "find -delete")),
            "find"
                if c.args.windows(2).any(|w| matches!(w[0].as_str(), "-exec" | "-execdir") && w[1].ends_with("rm")) =>
            {
                Some(("find_exec_rm", "find -exec rm"))
            }
            "git" => git(c),
            "apt" | "apt-get" | "yum" | "dnf" | "zypper" | "apk" | "snap" | "brew"
                if c.args.iter().any(|a| {
                    matches!(a.as_str(), "remove" | "purge" | "autoremove" | "erase" | "del" | "uninstall")
                }) =>
            {
                Some(("pkg_remove", "remove system packages"))
            }
            "pacman" if c.args.iter().any(|a| a.starts_with("-R")) => Some(("pkg_remove", "remove system packages")),
            "pip" | "pip3" | "uv" if c.has("uninstall") => Some(("pip_uninstall", "uninstall Python packages")),
            "npm" | "pnpm" | "yarn"
                if c.args.iter().any(|a| matches!(a.as_str(), "uninstall" | "remove" | "rm" | "un"))
                    && (c.has("-g") || c.has("--global") || c.has("global")) =>
            {
                Some(("npm_uninstall_global", "uninstall global npm packages"))
            }
            "crontab" if c.flag('r', "") => Some(("crontab_remove", "remove all cron jobs")),
            "iptables" | "ip6tables" | "nft" if c.flag('F', "--flush") || c.has("flush") => {
                Some(("firewall_flush", "flush firewall rules"))
            }
            "userdel" | "deluser" | "groupdel" => Some(("user_delete", "delete a system user or group")),
            "docker" | "podman" if c.has("prune") || (c.has("rm") || c.has("rmi")) && c.flag('f', "--force") => {
                Some(("docker_remove", "force-remove containers, images or volumes"))
            }
            "kubectl" if c.has("delete") => Some(("kubectl_delete", "delete Kubernetes resources")),
            "nc" | "ncat" | "netcat" if c.flag('e', "") || c.flag('c', "") => {
                Some(("netcat_exec", "netcat executing a program (reverse shell)"))
            }
            "mv" if c.args.iter().any(|a| !a.starts_with('-') && is_system_path(a)) => {
                Some(("mv_system", "move a system directory"))
            }
            _ => None,
        };
        if hit.is_some() {
            return hit;
        }
    }
    // `chmod +x x && ./x`: the name lost its `./`, so look at the raw text.
    if chmod_x && (p.flat.contains("&& ./") || p.flat.contains("; ./") || p.flat.contains("&&./")) {
        return Some(("chmod_exec", "chmod +x followed by immediate execution"));
    }
    None
}

fn git(c: &Cmd) -> Option<(&'static str, &'static str)> {
    match c.first() {
        "reset" if c.has("--hard") => Some(("git_reset_hard", "git reset --hard (destroys uncommitted changes)")),
        "push"
            if c.has("--force")
                || c.has("-f")
                || c.has("--force-with-lease")
                || c.args.iter().any(|a| a.starts_with("+")) =>
        {
            Some(("git_force_push", "git force push (rewrites remote history)"))
        }
        "clean" if c.flag('f', "--force") => Some(("git_clean", "git clean with force (deletes untracked files)")),
        "branch" if c.has("-D") || (c.flag('d', "--delete") && c.flag('f', "--force")) => {
            Some(("git_branch_delete", "git branch force delete"))
        }
        "checkout" if c.has("--") && c.has(".") => {
            Some(("git_checkout_discard", "git checkout -- . (discards changes)"))
        }
        _ => None,
    }
}
