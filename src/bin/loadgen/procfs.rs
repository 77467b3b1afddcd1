//! The server's CPU time and resident memory, read from `/proc/PID` (Linux). A cluster is
//! several processes (its instances and Redis): their figures are summed.

use anyhow::Context;

/// The processes that make up the server under test.
#[derive(Debug, Clone)]
pub struct Watched(Vec<Process>);

impl Watched {
    pub fn new(pids: &[u32]) -> anyhow::Result<Self> {
        anyhow::ensure!(!pids.is_empty(), "no server process to watch");
        pids.iter()
            .map(|&pid| Process::new(pid))
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    /// CPU time used so far, all processes together.
    pub fn cpu(&self) -> anyhow::Result<Cpu> {
        self.0
            .iter()
            .try_fold(Cpu::default(), |sum, p| Ok(sum + p.cpu()?))
    }

    /// Resident set size, all processes together, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        self.0.iter().map(Process::rss_kib).sum()
    }
}

/// One process to watch.
#[derive(Debug, Clone, Copy)]
struct Process {
    pid: u32,
    ticks_per_second: f64,
}

impl Process {
    fn new(pid: u32) -> anyhow::Result<Self> {
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
            .cpu()
            .with_context(|| format!("reading /proc/{pid}: is {pid} the server's process id?"))?;
        Ok(watched)
    }

    fn cpu(&self) -> anyhow::Result<Cpu> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after the parenthesised command name, which may itself hold spaces.
        let rest = stat.rsplit_once(')').context("malformed stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
        let seconds = |i: usize| -> anyhow::Result<f64> {
            let ticks: f64 = fields.get(i).context("short stat")?.parse()?;
            Ok(ticks / self.ticks_per_second)
        };
        Ok(Cpu {
            user_s: seconds(11)?,
            kernel_s: seconds(12)?,
        })
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")
    }
}

/// A process's CPU time, split as `/proc` splits it. The kernel part is what the server's system
/// calls and the loopback network stack cost: it bounds what faster server code can gain.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub user_s: f64,
    pub kernel_s: f64,
}

impl Cpu {
    pub fn total_s(self) -> f64 {
        self.user_s + self.kernel_s
    }
}

impl std::ops::Add for Cpu {
    type Output = Cpu;

    fn add(self, other: Cpu) -> Cpu {
        Cpu {
            user_s: self.user_s + other.user_s,
            kernel_s: self.kernel_s + other.kernel_s,
        }
    }
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;

    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            user_s: self.user_s - earlier.user_s,
            kernel_s: self.kernel_s - earlier.kernel_s,
        }
    }
}
