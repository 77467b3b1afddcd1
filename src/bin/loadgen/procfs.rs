//! The server's CPU time and resident memory, read from `/proc/PID` (Linux).

use anyhow::Context;

/// A process to watch.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    pid: u32,
    ticks_per_second: f64,
}

impl Watched {
    pub fn new(pid: u32) -> anyhow::Result<Self> {
        let ticks = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        let watched = Self {
            pid,
            ticks_per_second: ticks,
        };
        watched
            .cpu_seconds()
            .with_context(|| format!("reading /proc/{pid}: is {pid} the server's process id?"))?;
        Ok(watched)
    }

    /// User plus system CPU time used so far, in seconds.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the parenthesised command name, which may itself hold spaces.
        let rest = stat.rsplit_once(')').context("malformed stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
        let ticks: f64 = fields
            .get(11..13)
            .context("short stat")?
            .iter()
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .sum();
        Ok(ticks / self.ticks_per_second)
    }

    /// Resident set size, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")
    }
}
