//! CPU time of the processes on the data path, read from `/proc/<pid>/stat` (user +
//! system, in clock ticks of 1/100 s, Linux's `USER_HZ` on every mainstream platform):
//! the gateway, the Postgres processes serving it, RabbitMQ and the load generator itself.
//! Linux only; elsewhere every figure is absent.

use std::{collections::BTreeMap, path::Path};

/// Clock ticks per second of `/proc/*/stat`.
const TICKS_PER_SEC: f64 = 100.0;

/// Which processes to account, by role.
#[derive(Debug, Clone)]
pub struct Targets {
    /// The gateway's pid (given or found).
    pub gateway: Option<u32>,
    /// Postgres backends of this database (plus the shared WAL writer, checkpointer, ...).
    pub database: String,
}

/// A process: its pid and its start time (clock ticks after boot), so a reused pid is
/// another process.
type Process = (u32, u64);

/// CPU seconds of each process, by role, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Sample(BTreeMap<&'static str, BTreeMap<Process, f64>>);

impl Sample {
    /// Seconds each role used between `earlier` and `self`, process by process: one that
    /// started in between counts whole, one that exited in between is left out (its last
    /// seconds cannot be read any more, but its earlier ones must not be subtracted: a
    /// Postgres backend that exits would otherwise cancel what the others used).
    pub fn since(&self, earlier: &Sample) -> BTreeMap<&'static str, f64> {
        self.0
            .iter()
            .map(|(role, now)| {
                let before = earlier.0.get(role);
                let used = now
                    .iter()
                    .map(|(pid, s)| s - before.and_then(|b| b.get(pid)).copied().unwrap_or(0.0))
                    .sum();
                (*role, used)
            })
            .collect()
    }
}

/// Seconds the whole machine's CPUs spent idle so far (idle + iowait of `/proc/stat`,
/// summed over the CPUs): over a window, idle seconds / wall seconds = idle cores.
pub fn machine_idle() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    Some((fields.get(3)? + fields.get(4)?) / TICKS_PER_SEC)
}

/// User + system seconds of the calling thread (`/proc/thread-self/stat`).
pub fn this_thread() -> f64 {
    stat_seconds(Path::new("/proc/thread-self/stat")).unwrap_or(0.0)
}

/// The name of lapin's I/O threads: one per AMQP connection, reading and writing its
/// frames.
pub const LAPIN_IO_THREAD: &str = "lapin-io-loop";

/// User + system seconds of each of this process's threads named `name`, by thread ID.
pub fn own_threads(name: &str) -> BTreeMap<u32, f64> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return BTreeMap::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let tid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == name)
            .then(|| stat_seconds(&e.path().join("stat")))
            .flatten()
            .map(|s| (tid, s))
    })
    .collect()
}

/// How busy the busiest of the threads in `now` was over `seconds`, given their CPU
/// seconds at the start (a thread started since counts whole); `None` without threads.
fn busiest(start: &BTreeMap<u32, f64>, now: &BTreeMap<u32, f64>, seconds: f64) -> Option<f64> {
    now.iter()
        .map(|(tid, s)| (s - start.get(tid).copied().unwrap_or(0.0)) / seconds)
        .reduce(f64::max)
}

/// User + system seconds of one process.
pub fn process(pid: u32) -> Option<f64> {
    process_stat(pid).map(|(seconds, _)| seconds)
}

/// User + system seconds and start time of one process.
fn process_stat(pid: u32) -> Option<(f64, u64)> {
    stat(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

fn stat_seconds(path: &Path) -> Option<f64> {
    stat(path).map(|(seconds, _)| seconds)
}

/// User + system seconds and start time of the process or thread whose `stat` is `path`.
fn stat(path: &Path) -> Option<(f64, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime, stime and starttime are fields 14, 15 and 22 of the line, 12, 13 and 20
    // after the name.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    Some(((user + system) / TICKS_PER_SEC, start))
}

fn processes() -> Vec<(u32, String, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let base = Path::new("/proc").join(pid.to_string());
        let comm = std::fs::read_to_string(base.join("comm")).ok()?;
        let cmdline = std::fs::read(base.join("cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        Some((pid, comm.trim().to_owned(), cmdline))
    })
    .collect()
}

/// The pid of a running `hookgate ... serve` other than this process.
pub fn find_gateway() -> Option<u32> {
    let me = std::process::id();
    processes()
        .into_iter()
        .find(|(pid, comm, cmdline)| {
            *pid != me && comm == "hookgate" && cmdline.split(' ').any(|a| a == "serve")
        })
        .map(|(pid, ..)| pid)
}

/// Whether a Postgres process counts for `database`: its backends, and the shared
/// background processes (WAL writer, checkpointer, ...) that every commit pays for;
/// not other databases' backends.
fn serves(cmdline: &str, database: &str) -> bool {
    let backend = ["127.0.0.1(", "::1(", "[local]", "autovacuum worker"]
        .iter()
        .any(|m| cmdline.contains(m));
    !backend || cmdline.split(' ').any(|w| w == database)
}

/// CPU seconds so far of the gateway, Postgres (for `targets.database`) and RabbitMQ.
pub fn sample(targets: &Targets) -> Sample {
    let mut out: BTreeMap<&'static str, BTreeMap<Process, f64>> = BTreeMap::new();
    let mut add = |role, pid: u32| {
        if let Some((s, start)) = process_stat(pid) {
            out.entry(role).or_default().insert((pid, start), s);
        }
    };
    if let Some(pid) = targets.gateway {
        add("gateway", pid);
    }
    for (pid, comm, cmdline) in processes() {
        match comm.as_str() {
            "postgres" if serves(&cmdline, &targets.database) => add("postgres", pid),
            "beam.smp" => add("rabbitmq", pid),
            _ => {}
        }
    }
    Sample(out)
}

/// CPU over a window of RabbitMQ, one database's Postgres processes and this process, with
/// the idle cores, how busy the calling thread was (the bench's runtime thread) and how
/// busy the busiest of lapin's I/O threads was.
pub struct Window {
    targets: Targets,
    start: Sample,
    own: f64,
    thread: f64,
    io_threads: BTreeMap<u32, f64>,
    idle: Option<f64>,
    at: std::time::Instant,
}

/// What a [`Window`] saw.
pub struct Usage {
    /// CPU per event, µs: `rabbitmq`, `postgres` and `bench` (this process).
    pub us_per_event: BTreeMap<String, f64>,
    /// The machine's idle CPUs over the window, in cores.
    pub idle_cores: Option<f64>,
    /// The calling thread's CPU over the window's wall time.
    pub thread_busy: f64,
    /// The busiest lapin I/O thread's CPU over the window's wall time (`None`: none ran).
    pub io_thread_busy: Option<f64>,
}

impl Window {
    /// Start accounting (Postgres processes of `database`) on the calling thread.
    pub fn start(database: &str) -> Self {
        let targets = Targets {
            gateway: None,
            database: database.to_owned(),
        };
        Self {
            start: sample(&targets),
            own: process(std::process::id()).unwrap_or(0.0),
            thread: this_thread(),
            io_threads: own_threads(LAPIN_IO_THREAD),
            idle: machine_idle(),
            at: std::time::Instant::now(),
            targets,
        }
    }

    /// Usage per event since the start; call it on the thread that started the window,
    /// and before closing the connections whose backends did the work (a process that
    /// exited is left out).
    pub fn per_event(&self, events: u64) -> Usage {
        let mut used: BTreeMap<String, f64> = sample(&self.targets)
            .since(&self.start)
            .into_iter()
            .map(|(role, s)| (role.to_owned(), s))
            .collect();
        if let Some(own) = process(std::process::id()) {
            used.insert("bench".into(), own - self.own);
        }
        let seconds = self.at.elapsed().as_secs_f64().max(1e-9);
        Usage {
            us_per_event: used
                .into_iter()
                .map(|(role, s)| (role, s * 1e6 / events.max(1) as f64))
                .collect(),
            idle_cores: self
                .idle
                .zip(machine_idle())
                .map(|(before, after)| (after - before) / seconds),
            thread_busy: (this_thread() - self.thread) / seconds,
            io_thread_busy: busiest(&self.io_threads, &own_threads(LAPIN_IO_THREAD), seconds),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_processes_are_attributed_by_database() {
        let db = "hookgate_bench";
        assert!(serves("postgres: 15/main: walwriter ", db));
        assert!(serves(
            "postgres: 15/main: postgres hookgate_bench 127.0.0.1(5000) idle",
            db
        ));
        assert!(!serves(
            "postgres: 15/main: postgres other 127.0.0.1(5000) idle",
            db
        ));
        assert!(!serves("postgres: 15/main: autovacuum worker other", db));
    }

    #[test]
    fn a_process_that_exits_in_the_window_does_not_cancel_the_others() {
        let at = |pids: &[(Process, f64)]| {
            Sample(BTreeMap::from([(
                "postgres",
                pids.iter().copied().collect(),
            )]))
        };
        // Backend 2 (5 s so far) exits, backend 3 starts, backend 1 uses 0.5 s, and pid 4
        // is reused by a process started later.
        let before = at(&[((1, 7), 10.0), ((2, 7), 5.0), ((4, 7), 9.0)]);
        let after = at(&[((1, 7), 10.5), ((3, 90), 0.25), ((4, 95), 0.125)]);
        assert_eq!(after.since(&before)["postgres"], 0.875);
    }

    #[test]
    fn finds_its_own_threads_by_name_and_the_busiest() {
        let (ready, wait) = std::sync::mpsc::channel();
        let (done, finish) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("procstat-probe".into())
            .spawn(move || {
                ready.send(()).expect("send");
                finish.recv().ok();
            })
            .expect("spawn");
        wait.recv().expect("started");
        let found = own_threads("procstat-probe");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(own_threads("no-such-thread").is_empty());
        done.send(()).expect("send");
        worker.join().expect("join");

        let start = BTreeMap::from([(1, 2.0), (2, 5.0)]);
        // Thread 1 used 0.5 s, thread 2 exited, thread 3 started and used 1.5 s.
        let now = BTreeMap::from([(1, 2.5), (3, 1.5)]);
        assert_eq!(busiest(&start, &now, 2.0), Some(0.75));
        assert_eq!(busiest(&start, &BTreeMap::new(), 2.0), None);
    }

    #[test]
    fn reads_own_cpu_time() {
        assert!(process(std::process::id()).is_some());
        let me = Path::new("/proc/self/stat");
        assert!(stat(me).is_some_and(|(_, start)| start > 0));
        assert!(machine_idle().is_some_and(|s| s > 0.0));
        assert!(this_thread() >= 0.0);
    }
}
