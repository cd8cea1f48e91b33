//! A throwaway PostgreSQL cluster of a test's own, on a free loopback port, for tests that
//! restart the server, change its configuration or need TLS: never the shared one named by
//! `LOBBY_TEST_POSTGRES_URL`. Needs the server binaries (`initdb`, `pg_ctl`; `.ci/postgres.sh`
//! installs them); as root, runs them as `postgres` or `lobbypg`, as `.ci/postgres.sh` does.
//!
//! Also used by the server's cluster fault test (`#[path]`-included), so it depends on nothing
//! but std and `rand`.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How to set a cluster up.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Serve TLS with a fresh self-signed certificate for `localhost` (and require it for TCP).
    pub tls: bool,
    /// Require this password for the `lobby` role on TCP (scram-sha-256).
    pub password: Option<String>,
    /// Extra `-c name=value` settings.
    pub settings: Vec<(String, String)>,
}

/// A running cluster; stopped and deleted on drop.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    owner: Option<String>,
    pub port: u16,
    options: ClusterOptions,
}

impl Cluster {
    /// Starts a cluster, or `None` (with a note on stderr) where PostgreSQL is not installed;
    /// under `CI` a missing server fails instead.
    pub fn start(options: ClusterOptions) -> Option<Cluster> {
        let Some(bin) = find_bin() else {
            assert!(std::env::var_os("CI").is_none(), "CI must have the PostgreSQL server binaries");
            eprintln!("skipped: no PostgreSQL server binaries (initdb, pg_ctl)");
            return None;
        };
        let owner = owner();
        let dir = tempdir_under_tmp();
        if let Some(owner) = &owner {
            run(Command::new("chown").arg(owner).arg(&dir));
        }
        let mut cluster = Cluster { dir, bin, owner, port: 0, options };
        let mut initdb = cluster.as_owner(&cluster.bin.join("initdb"));
        initdb.arg("-D").arg(cluster.data()).args(["-A", "trust", "-U", "lobby", "-E", "UTF8", "--locale=C.UTF-8"]);
        initdb.arg("--no-sync");
        run(&mut initdb);
        if cluster.options.tls {
            cluster.make_certificates();
        }
        if cluster.options.password.is_some() || cluster.options.tls {
            cluster.write_hba();
        }
        cluster.port = free_port();
        cluster.pg_ctl_start();
        let createdb = Command::new(cluster.bin.join("createdb"))
            .args(["-h", &cluster.dir.to_string_lossy(), "-p", &cluster.port.to_string(), "-U", "lobby", "lobby_test"])
            .output()
            .expect("createdb runs");
        assert!(createdb.status.success(), "createdb: {}", String::from_utf8_lossy(&createdb.stderr));
        if let Some(password) = &cluster.options.password {
            cluster.psql(&format!("ALTER ROLE lobby PASSWORD '{password}'"));
        }
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The directory holding the certificates (`ca.crt`, `other-ca.crt`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `postgres://lobby[:password]@<host>:<port>/lobby_test`, plus `query` if not empty.
    pub fn url_for_host(&self, host: &str, query: &str) -> String {
        let auth = match &self.options.password {
            Some(password) => format!("lobby:{password}"),
            None => "lobby".to_owned(),
        };
        let query = if query.is_empty() { String::new() } else { format!("?{query}") };
        format!("postgres://{auth}@{host}:{}/lobby_test{query}", self.port)
    }

    pub fn url(&self) -> String {
        self.url_for_host("127.0.0.1", "")
    }

    /// Runs SQL as `lobby` over the Unix socket (trusted: no password, no TLS); returns the
    /// unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        let output = self.try_psql(sql);
        assert!(output.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    pub fn try_psql(&self, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args(["-h", &self.dir.to_string_lossy(), "-p", &self.port.to_string(), "-U", "lobby", "-d", "lobby_test"])
            .args(["-Atqc", sql])
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .expect("psql runs")
    }

    /// `pg_ctl restart -m immediate`: every session dies at once, no shutdown checkpoint, crash
    /// recovery on start. Waits until it accepts connections again.
    pub fn restart_immediate(&self) {
        let mut restart = self.as_owner(&self.bin.join("pg_ctl"));
        restart.arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "-t", "60", "restart", "-l"]);
        restart.arg(self.dir.join("server.log")).arg("-o").arg(self.server_options());
        run(&mut restart);
    }

    /// Terminates every session of `application_name` (prefix match); returns how many.
    pub fn terminate(&self, application_prefix: &str) -> usize {
        let sql = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name LIKE '{application_prefix}%' AND pid <> pg_backend_pid()"
        );
        self.psql(&sql).parse().unwrap_or(0)
    }

    fn server_options(&self) -> String {
        let mut options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c full_page_writes=off -c max_connections=300",
            self.port,
            self.dir.display()
        );
        if self.options.tls {
            options.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        for (name, value) in &self.options.settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        options
    }

    fn pg_ctl_start(&mut self) {
        for _ in 0..10 {
            let mut start = self.as_owner(&self.bin.join("pg_ctl"));
            start.arg("-D").arg(self.data()).args(["-w", "-t", "60", "-s", "start", "-l"]);
            start.arg(self.dir.join("server.log")).arg("-o").arg(self.server_options());
            if start.stdout(Stdio::null()).stderr(Stdio::null()).status().expect("pg_ctl runs").success() {
                return;
            }
            self.port = free_port();
        }
        panic!(
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// A CA, a server certificate for `localhost` (DNS name only, so verify-full to 127.0.0.1
    /// fails) signed by it, and an unrelated second CA.
    fn make_certificates(&self) {
        let data = self.data();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl").args(args).current_dir(&data).output().expect("openssl runs");
            assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        for ca in ["ca", "other-ca"] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=lobby test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.crt"),
            ]);
        }
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(data.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ]);
        for file in ["ca.crt", "other-ca.crt"] {
            std::fs::copy(data.join(file), self.dir.join(file)).unwrap();
        }
        if let Some(owner) = &self.owner {
            run(Command::new("chown").arg(owner).arg(data.join("server.key")).arg(data.join("server.crt")));
        }
        run(Command::new("chmod").arg("600").arg(data.join("server.key")));
    }

    /// Unix sockets trusted (for psql); TCP only with TLS (`tls`) and the password (`password`).
    fn write_hba(&self) {
        let method = if self.options.password.is_some() { "scram-sha-256" } else { "trust" };
        let host = if self.options.tls { "hostssl" } else { "host" };
        let hba = format!("local all all trust\n{host} all all 127.0.0.1/32 {method}\n");
        std::fs::write(self.data().join("pg_hba.conf"), hba).unwrap();
    }

    fn as_owner(&self, program: &Path) -> Command {
        match &self.owner {
            Some(owner) => {
                let mut command = Command::new("runuser");
                command.args(["-u", owner, "--"]).arg(program).current_dir("/");
                command
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut stop = self.as_owner(&self.bin.join("pg_ctl"));
        stop.arg("-D").arg(self.data()).args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The newest `/usr/lib/postgresql/<version>/bin` with a server, or `LOBBY_PG_BIN`.
fn find_bin() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").exists() && dir.join("pg_ctl").exists();
    if let Some(dir) = std::env::var_os("LOBBY_PG_BIN").map(PathBuf::from) {
        if has_server(&dir) {
            return Some(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// Who runs the server: nobody else unless we are root (initdb refuses root).
fn owner() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return None;
    }
    for user in ["postgres", "lobbypg"] {
        if Command::new("id").arg("-u").arg(user).stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
            return Some(user.to_owned());
        }
    }
    run(Command::new("useradd").args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "lobbypg"]));
    Some("lobbypg".to_owned())
}

/// A fresh directory under /tmp (short enough for a socket path, traversable by the owner).
fn tempdir_under_tmp() -> PathBuf {
    let started = Instant::now();
    loop {
        let suffix: u64 = rand::random();
        let dir = PathBuf::from(format!("/tmp/lobby-test-pg.{suffix:012x}"));
        if std::fs::create_dir(&dir).is_ok() {
            run(Command::new("chmod").arg("755").arg(&dir));
            return dir;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "cannot create a directory under /tmp");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}
