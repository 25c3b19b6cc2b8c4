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

/// Microseconds during which at least one task waited for `resource` ("io"
/// or "cpu"), from the kernel's pressure stall information
/// (/proc/pressure/RESOURCE, `some … total=`). On a shared machine this says
/// whether a slow interval was the broker's doing or everyone's.
pub fn pressure_some_us(resource: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/pressure/{resource}")).ok()?;
    text.lines()
        .find(|l| l.starts_with("some "))?
        .split_whitespace()
        .find_map(|f| f.strip_prefix("total="))?
        .parse()
        .ok()
}

/// The share of `wall` (in percent) some task stalled on `resource`, between two readings.
pub fn pressure_pct(
    before: Option<u64>,
    after: Option<u64>,
    wall: std::time::Duration,
) -> Option<f64> {
    let (b, a) = (before?, after?);
    let wall_us = wall.as_micros() as f64;
    (wall_us > 0.0).then(|| (a.saturating_sub(b)) as f64 * 100.0 / wall_us)
}
