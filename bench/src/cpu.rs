//! Where a run's CPU time went: the process measured (the server, or a mail's sender),
//! the database, the bench itself, and what the machine left idle, from /proc before
//! and after the run. It tells what bounds a ratio: a baseline pays for the database
//! and the bench only, or for its own process and the bench.

use std::ops::{AddAssign, Sub};

/// Clock ticks a second in /proc (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time so far, in clock ticks.
#[derive(Clone, Copy, Default)]
pub struct Used {
    /// The process measured: the server, or a mail's sender.
    process: u64,
    /// PostgreSQL's backends for the bench's database; SQLite runs inside the server.
    database: Option<u64>,
    bench: u64,
    /// Idle time of all CPUs together.
    idle: u64,
}

impl Sub for Used {
    type Output = Used;

    fn sub(self, before: Used) -> Used {
        Used {
            process: self.process.saturating_sub(before.process),
            database: self
                .database
                .map(|now| now.saturating_sub(before.database.unwrap_or(0))),
            bench: self.bench.saturating_sub(before.bench),
            idle: self.idle.saturating_sub(before.idle),
        }
    }
}

impl AddAssign for Used {
    fn add_assign(&mut self, other: Used) {
        self.process += other.process;
        self.database = match (self.database, other.database) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.bench += other.bench;
        self.idle += other.idle;
    }
}

/// Microseconds of CPU per operation, as the table prints them.
pub struct PerOperation {
    pub process: f64,
    pub database: Option<f64>,
    pub bench: f64,
    pub idle: f64,
}

impl Used {
    /// This reading with the measured process's time as last read while it ran (once
    /// it has exited, /proc no longer has it).
    pub fn with_process(self, ticks: u64) -> Used {
        Used {
            process: self.process.max(ticks),
            ..self
        }
    }

    pub fn per_operation(&self, operations: u64) -> PerOperation {
        let micros = |ticks: u64| {
            ticks as f64 * 1_000_000.0 / TICKS_PER_SECOND as f64 / operations.max(1) as f64
        };
        PerOperation {
            process: micros(self.process),
            database: self.database.map(micros),
            bench: micros(self.bench),
            idle: micros(self.idle),
        }
    }
}

/// The processes a run is shared among.
pub struct Watch {
    process: u32,
    /// PostgreSQL's name of the bench's database, found in its backends' titles.
    database: Option<String>,
}

impl Watch {
    pub fn new(process: u32, database: Option<&str>) -> Self {
        Self {
            process,
            database: database.map(str::to_owned),
        }
    }

    /// The CPU time used so far.
    pub fn used(&self) -> Used {
        Used {
            process: self.process().unwrap_or(0),
            database: self.database.as_deref().and_then(backend_ticks),
            bench: process_ticks("self").unwrap_or(0),
            idle: idle_ticks().unwrap_or(0),
        }
    }

    /// The measured process's CPU time so far, cheap enough to read often.
    pub fn process(&self) -> Option<u64> {
        process_ticks(&self.process.to_string())
    }
}

/// User and system time of process `pid` (a number or `self`).
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command's name, which is in parentheses and may hold spaces:
    // utime and stime are the 14th and 15th of the line, the 12th and 13th after it.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// Summed time of the PostgreSQL backends connected to `database`, if it runs on this
/// machine: their titles read `postgres: <user> <database> <client> <state>`.
fn backend_ticks(database: &str) -> Option<u64> {
    let needle = format!(" {database} ");
    let backends: Vec<u64> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().into_string().ok()?;
            let title = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let title = String::from_utf8_lossy(&title);
            (title.starts_with("postgres: ") && title.contains(&needle))
                .then(|| process_ticks(&pid))
                .flatten()
        })
        .collect();
    (!backends.is_empty()).then(|| backends.iter().sum())
}

/// Idle and I/O wait time of all CPUs, from the first line of /proc/stat.
fn idle_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut fields = stat.lines().next()?.split_whitespace().skip(4);
    let idle: u64 = fields.next()?.parse().ok()?;
    let iowait: u64 = fields.next()?.parse().ok()?;
    Some(idle + iowait)
}
