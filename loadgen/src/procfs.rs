//! What /proc says about a process: resident memory and CPU time.

/// `VmRSS` of a process in kB, from /proc/PID/status.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User plus system CPU time of a process (all its threads) in seconds, from
/// /proc/PID/stat. Assumes USER_HZ = 100, as on every Linux architecture
/// this runs on.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it don't.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Pin every thread of this process to one core, with `taskset` (util-linux).
pub fn pin_self(core: usize) -> anyhow::Result<()> {
    let pid = std::process::id().to_string();
    let out = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid])
        .output()
        .map_err(|e| anyhow::anyhow!("running taskset to pin the load generator: {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "taskset -a -p -c {core} {pid} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}
