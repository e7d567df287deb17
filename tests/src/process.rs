//! Running the real binaries: start with an environment, wait for a log line, signal,
//! collect the exit status, and read their metrics endpoints.

use std::io::{BufRead, BufReader, Read, Write};
use std::ops::Deref;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on (at the moment of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A binary's Prometheus text, fetched from `127.0.0.1:port/metrics`.
pub fn scrape(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// The value of one sample line (`name{labels} value`), if present.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

/// The environment of a binary under test: `set` replaces a variable or adds it.
#[derive(Clone, Debug, Default)]
pub struct Vars(Vec<(&'static str, String)>);

impl Vars {
    pub fn set(mut self, key: &'static str, value: impl Into<String>) -> Self {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
        self
    }

    pub fn remove(mut self, key: &str) -> Self {
        self.0.retain(|(k, _)| *k != key);
        self
    }

    /// For the worker: a killed worker's job is noticed quickly (three missed one-second
    /// heartbeats), and the queue is polled every 200 ms.
    pub fn quick_failover(self) -> Self {
        self.set("WORKER_HEARTBEAT_SECS", "1")
            .set("WORKER_POLL_INTERVAL_MS", "200")
    }
}

impl Deref for Vars {
    type Target = [(&'static str, String)];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Process {
    /// Starts `exe` with exactly `env` (plus PATH), capturing stdout and stderr.
    pub fn start(exe: &str, args: &[&str], env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("binary starts");
        let (tx, lines) = mpsc::channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Every line printed so far that contains `needle` (those `wait_for` read past, and
    /// those not read yet).
    pub fn lines_with(&mut self, needle: &str) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Waits until a printed line contains `needle`; panics with everything seen if not.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = line.contains(needle);
                    self.seen.push(line);
                    if hit {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line containing {needle:?} within {timeout:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "signal {signal} delivered");
    }

    /// [`Process::wait_exit`] off the async runtime; returns the status and every line seen.
    pub async fn exit(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        tokio::task::spawn_blocking(move || {
            let status = self.wait_exit(timeout);
            (status, std::mem::take(&mut self.seen))
        })
        .await
        .unwrap()
    }

    /// SIGTERM, then asserts a clean exit (status 0) within 15 s.
    pub async fn stop(self) {
        self.signal("TERM");
        let (status, seen) = self.exit(Duration::from_secs(15)).await;
        assert_eq!(
            status.code(),
            Some(0),
            "the process was still running and stopped cleanly:\n{}",
            seen.join("\n")
        );
    }

    /// The exit status within `timeout` (the process is killed if it overstays).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The readers may still hold the last lines: drain until both pipes close.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(line);
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "did not exit within {timeout:?}; saw:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment the background binaries need, pointed at a test database as the role
/// they connect as in production (the jobs role).
pub fn base_env(db: &crate::TestDb) -> Vars {
    base_env_for(db.jobs_url())
}

/// The same for any database (a throwaway cluster's, say).
pub fn base_env_for(database_url: String) -> Vars {
    Vars::default()
        .set("DATABASE_URL", database_url)
        .set("REDIS_URL", crate::db::redis_url())
        .set("CREDENTIALS_KEYS", crate::http::TEST_CREDENTIALS_KEYS)
        .set("LOG_FORMAT", "json")
        .set("WORKER_METRICS_BIND", "127.0.0.1:0")
        .set("SCHEDULER_METRICS_BIND", "127.0.0.1:0")
}

/// The worker's environment: `base_env_for(database_url)` with the api's Redis prefix, every
/// WB host at `wb_url`, test tokens allowed and WB's published limits off (the budget has
/// its own tests).
pub fn worker_env(database_url: String, redis_prefix: &str, wb_url: &str) -> Vars {
    base_env_for(database_url)
        .remove("SCHEDULER_METRICS_BIND")
        .set("REDIS_KEY_PREFIX", redis_prefix)
        .set("WB_BASE_URL", wb_url)
        .set("WB_SANDBOX", "true")
        .set("WB_RATE_LIMIT_SCALE", "0")
        // Fakes change their stock between syncs, not every 30 minutes like WB's reports.
        .set("SYNC_STOCK_REUSE_SECS", "0")
        .set("WB_CLIENT_SECRETS", crate::http::TEST_WB_CLIENT_SECRET)
}

/// Starts the worker binary `exe` with `env` and waits until it is ready.
pub fn start_worker(exe: &str, env: &Vars) -> Process {
    let mut p = Process::start(exe, &[], env);
    p.wait_for("worker ready", Duration::from_secs(20));
    p
}
