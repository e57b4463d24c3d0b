//! The server under test: `evident serve` as a child process of this same binary, on
//! a fresh data dir and a free loopback port, exactly as a user runs it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

/// What `serve` prints when it listens, and the admin key of a new store.
const LISTENING: &str = "listening on ";
const ADMIN_KEY: &str = "admin API key (shown once, keep it safe): ";

/// How long the server may take to start, and to stop after SIGTERM (it signs a
/// last checkpoint and folds the write-ahead log into the database).
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(300);

/// Linux reports process CPU times in clock ticks of `USER_HZ`, which is 100 on every
/// architecture the kernel supports (`sysconf(_SC_CLK_TCK)`).
const TICKS_PER_SECOND: f64 = 100.0;

pub struct ServerProcess {
    child: Mutex<Option<Child>>,
    pid: u32,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub admin_key: String,
    log: PathBuf,
}

impl ServerProcess {
    /// Starts `evident serve --listen 127.0.0.1:0 --data DATA` (or `--database-url`)
    /// and waits until it listens. Its stderr goes to `log`.
    ///
    /// # Errors
    /// The server did not start, or printed no admin key (the store was not new).
    pub async fn start(
        data: &Path,
        database_url: Option<&str>,
        config: Option<&Path>,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let data = data.to_path_buf();
        let database_url = database_url.map(str::to_owned);
        let config = config.map(Path::to_path_buf);
        let log = log.to_path_buf();
        tokio::task::spawn_blocking(move || {
            start(&data, database_url.as_deref(), config.as_deref(), &log)
        })
        .await?
    }

    /// The server's peak resident set size so far (`VmHWM`).
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// Bytes the server has caused to be written to storage so far (`write_bytes` of
    /// `/proc/<pid>/io`: the WAL, the database, checkpoints), which shows how much a
    /// store writes for what it keeps.
    pub fn storage_write_bytes(&self) -> Option<u64> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.pid)).ok()?;
        io.lines()
            .find_map(|l| l.strip_prefix("write_bytes:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// CPU seconds (user + system) the server has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        process_cpu_seconds(&format!("/proc/{}/stat", self.pid))
    }

    /// SIGTERM, then waits for a clean exit.
    ///
    /// # Errors
    /// The server did not stop in time (it is killed) or exited with a failure.
    pub async fn stop(&self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) else {
            return Ok(());
        };
        let pid = self.pid;
        let log = self.log.clone();
        tokio::task::spawn_blocking(move || {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait()? {
                    anyhow::ensure!(
                        status.success(),
                        "the server exited with {status}: {}",
                        log_tail(&log)
                    );
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("the server did not stop within {STOP_TIMEOUT:?} of SIGTERM")
        })
        .await?
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.get_mut().ok().and_then(Option::take) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start(
    data: &Path,
    database_url: Option<&str>,
    config: Option<&Path>,
    log: &Path,
) -> anyhow::Result<ServerProcess> {
    let exe = std::env::current_exe().context("finding the evident binary")?;
    let stderr =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut command = Command::new(exe);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--otlp-grpc-listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data);
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    // A fresh store of its own: nothing from the environment may point the server
    // at another store, key or config file (only the one --server-config names).
    let mut child = command
        .env_remove("EVIDENT_SERVER")
        .env_remove("EVIDENT_API_KEY")
        .env_remove("EVIDENT_DATABASE_URL")
        .env_remove("EVIDENT_CONFIG")
        .env_remove("EVIDENT_SIGNING_KEY_FILE")
        .env_remove("EVIDENT_MASTER_KEY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .context("starting evident serve")?;
    let pid = child.id();
    let stdout = child.stdout.take().context("no stdout")?;
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    // Reads the server's stdout to the end, so it never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                // Nobody listens any more: keep draining.
                continue;
            }
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    let mut admin_key = None;
    let not_started = |why: &str, child: &mut Child| {
        let _ = child.kill();
        let _ = child.wait();
        anyhow::anyhow!("the server did not start: {why}: {}", log_tail(log))
    };
    let base = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(key) = line.strip_prefix(ADMIN_KEY) {
                    admin_key = Some(key.trim().to_owned());
                }
                if let Some(base) = line.strip_prefix(LISTENING) {
                    break base.trim().to_owned();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                return Err(not_started("it did not listen in time", &mut child));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err(not_started("it exited", &mut child));
            }
        }
    };
    let Some(admin_key) = admin_key else {
        return Err(not_started(
            "it printed no admin key (the store is not new)",
            &mut child,
        ));
    };
    Ok(ServerProcess {
        child: Mutex::new(Some(child)),
        pid,
        base,
        admin_key,
        log: log.to_path_buf(),
    })
}

/// The last lines of the server's log, for error messages.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if tail.is_empty() {
        "(nothing on stderr)".into()
    } else {
        tail
    }
}

/// User + system CPU seconds from a `/proc/<pid>/stat` file.
pub fn process_cpu_seconds(stat_path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state);
    // utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// CPU seconds this process (the bench's clients) has used so far.
pub fn own_cpu_seconds() -> Option<f64> {
    process_cpu_seconds("/proc/self/stat")
}
