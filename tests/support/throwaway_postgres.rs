//! A PostgreSQL server of a test's own, from the machine's PostgreSQL binaries
//! (`/usr/lib/postgresql/<version>/bin`): a fresh cluster in a temp dir, on a free port, trust
//! auth, stopped when dropped. Used when `SCHEDLITE_TEST_POSTGRES_URL` is unset, and by tests
//! that must stop or restart the server under the nodes (which they may not do to a shared one).
//!
//! PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user and
//! every command runs through `runuser`. A watchdog process stops the server if the test
//! process dies without dropping it, so no server outlives its tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running throwaway server.
pub struct Throwaway {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`, `pg_ctl` and `postgres`.
fn binaries() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| bin.join(b).exists())
        })
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Throwaway {
    /// Starts a new cluster, or says why it cannot (no binaries, `initdb` failed).
    pub fn start() -> Result<Throwaway, String> {
        let bin = binaries().ok_or("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("schedlite-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        let server = Throwaway {
            bin,
            data,
            port: free_port(),
            as_postgres,
            _dir: dir,
        };
        if as_postgres {
            let owned = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server._dir.path())
                .status()
                .map_err(|e| e.to_string())?;
            if !owned.success() {
                return Err("cannot give the temp dir to the postgres user".into());
            }
        }
        server.run(
            "initdb",
            &[
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ],
            true,
        )?;
        server.start_again()?;
        server.watchdog();
        Ok(server)
    }

    /// The server's URL, on its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server at once (as a crash would: `immediate` mode, no checkpoint).
    pub fn stop(&self) -> Result<(), String> {
        self.run("pg_ctl", &["stop", "-m", "immediate", "-w", "-D"], true)
    }

    /// Starts the stopped server again on the same port and data, and waits until it accepts
    /// connections.
    pub fn start_again(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.data.parent().unwrap_or(Path::new("/tmp")).display()
        );
        let log = self
            .data
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .join("server.log");
        let log = log.display().to_string();
        self.run(
            "pg_ctl",
            &["start", "-w", "-t", "30", "-l", &log, "-o", &options, "-D"],
            true,
        )?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err("the throwaway server did not open its port".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Runs one of the server's binaries with `args`, then the data dir when `with_data`.
    fn run(&self, program: &str, args: &[&str], with_data: bool) -> Result<(), String> {
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(program));
            c
        } else {
            Command::new(self.bin.join(program))
        };
        command.args(args);
        if with_data {
            command.arg(&self.data);
        }
        let out = command
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// A process that stops the server and removes its files once this test process is gone
    /// (a server kept in a `static` is never dropped).
    fn watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} stop -m immediate -D {}",
                pg_ctl.display(),
                self.data.display()
            )
        } else {
            format!(
                "{} stop -m immediate -D {}",
                pg_ctl.display(),
                self.data.display()
            )
        };
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {}",
            std::process::id(),
            self._dir.path().display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
