//! Is the process that owns a run still alive? On the same host, ask the kernel (`/proc`):
//! the answer is immediate and a new process reusing the pid is told apart by its start time.
//! On another host, trust the heartbeat until it is older than the expiry
//! (`--heartbeat-expiry-seconds`, default [`HEARTBEAT_EXPIRY`]).

use chrono::{DateTime, Duration, Utc};

use crate::store::Instance;

/// How often a serving process refreshes its heartbeat and looks for dead owners.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The default expiry: a heartbeat older than this means the process is gone (hosts other
/// than ours). Twice the store's busy timeout, so a heartbeat that waited out another writer's
/// lock is not taken for a death.
pub const HEARTBEAT_EXPIRY: Duration =
    Duration::seconds(crate::config::DEFAULT_HEARTBEAT_EXPIRY.as_secs() as i64);

/// This host's name, as the kernel reports it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The kernel's start time of process `pid` (field 22 of `/proc/PID/stat`, in clock ticks since
/// boot), or `None` when the process does not exist, has exited (a zombie not yet reaped by its
/// parent counts as dead: it runs nothing), or `/proc` is not available.
pub fn proc_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: skip past it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?;
    if matches!(state, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18).map(str::to_string)
}

/// Whether `instance` is still running, seen from a process on `my_host` at `now`, when a
/// heartbeat older than `expiry` means death.
pub fn is_alive(instance: &Instance, my_host: &str, now: DateTime<Utc>, expiry: Duration) -> bool {
    // A heartbeat after the stop mark means the process came back (it was only stalled).
    if instance
        .stopped_at
        .is_some_and(|stopped| instance.heartbeat_at <= stopped)
    {
        return false;
    }
    if instance.hostname == my_host && std::path::Path::new("/proc/self/stat").exists() {
        let Ok(pid) = u32::try_from(instance.pid) else {
            return false;
        };
        return match (proc_start(pid), &instance.proc_start) {
            (None, _) => false,
            (Some(now_start), Some(recorded)) => &now_start == recorded,
            (Some(_), None) => now - instance.heartbeat_at < expiry,
        };
    }
    now - instance.heartbeat_at < expiry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(pid: i64, host: &str, proc_start: Option<String>, heartbeat_age: i64) -> Instance {
        let now = Utc::now();
        Instance {
            id: "i".into(),
            pid,
            hostname: host.into(),
            proc_start,
            started_at: now,
            heartbeat_at: now - Duration::seconds(heartbeat_age),
            stopped_at: None,
        }
    }

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let me = std::process::id();
        let host = hostname();
        let start = proc_start(me);
        assert!(start.is_some(), "/proc is available on Linux");
        assert!(is_alive(
            &instance(i64::from(me), &host, start, 100),
            &host,
            Utc::now(),
            HEARTBEAT_EXPIRY
        ));
        assert!(!is_alive(
            &instance(i64::from(me), &host, Some("1".into()), 0),
            &host,
            Utc::now(),
            HEARTBEAT_EXPIRY
        ));
    }

    #[test]
    fn a_missing_pid_on_this_host_is_dead_at_once() {
        let host = hostname();
        assert!(!is_alive(
            &instance(i64::from(i32::MAX), &host, None, 0),
            &host,
            Utc::now(),
            HEARTBEAT_EXPIRY
        ));
    }

    #[test]
    fn a_process_marked_stopped_that_beats_again_is_alive() {
        let mut i = instance(1, "elsewhere", None, 1);
        i.stopped_at = Some(i.heartbeat_at - Duration::seconds(1));
        assert!(
            is_alive(&i, "here", Utc::now(), HEARTBEAT_EXPIRY),
            "a heartbeat after the mark wins"
        );
        i.stopped_at = Some(i.heartbeat_at + Duration::seconds(1));
        assert!(
            !is_alive(&i, "here", Utc::now(), HEARTBEAT_EXPIRY),
            "no heartbeat since the mark: stopped"
        );
    }

    #[test]
    fn other_hosts_are_judged_by_heartbeat() {
        assert!(is_alive(
            &instance(1, "elsewhere", None, 1),
            "here",
            Utc::now(),
            HEARTBEAT_EXPIRY
        ));
        assert!(!is_alive(
            &instance(1, "elsewhere", None, 30),
            "here",
            Utc::now(),
            HEARTBEAT_EXPIRY
        ));
    }
}
