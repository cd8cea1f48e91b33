//! `lobby-server --demo`: run the binary, paste the curl commands it prints into `sh`, and
//! check they work; restart on the same data directory and check nothing was duplicated and
//! the commands work again. Needs `curl` on the PATH (the README's readers have it).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

struct Demo {
    child: Child,
    output: String,
}

impl Demo {
    fn start(data_dir: &Path) -> Self {
        Self::start_with_traffic(data_dir, 0)
    }

    fn start_with_traffic(data_dir: &Path, per_minute: u32) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lobby-server"))
            .args(["--demo", "--bind", "127.0.0.1:0", "--insecure-fast-password-hashing", "--data-dir"])
            .arg(data_dir)
            .args(["--demo-traffic", &per_minute.to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        let mut output = String::new();
        loop {
            let line = received.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("the demo never finished printing; so far:\n{output}")
            });
            output.push_str(&line);
            output.push('\n');
            if line.starts_with("Press Ctrl-C") {
                break;
            }
        }
        Self { child, output }
    }

    /// The curl command printed after the line containing `label`.
    fn command(&self, label: &str) -> String {
        let mut lines = self.output.lines().skip_while(|l| !l.contains(label)).skip(1);
        let command = lines.next().unwrap_or_else(|| panic!("no {label:?} in:\n{}", self.output)).trim().to_owned();
        assert!(command.starts_with("curl "), "{command}");
        command
    }

    /// Runs a printed command exactly as pasted into a shell; returns its JSON answer.
    fn paste(&self, label: &str) -> Value {
        let command = self.command(label);
        let output = Command::new("sh").arg("-c").arg(&command).output().expect("sh runs");
        assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
        let body = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {body}"))
    }

    /// SIGTERM, then the exit status must be success (graceful shutdown).
    fn stop(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the server exited with {exit}");
    }

    /// A call the demo did not print, with the printed credentials.
    fn call(&self, path: &str) -> Value {
        let list = self.command("List the open inquiries");
        let base = list.split('"').find(|part| part.starts_with("http://")).unwrap().split("/api/v1").next().unwrap();
        let headers: Vec<&str> = list.split('"').filter(|p| p.starts_with("X-")).collect();
        let mut request = ureq::get(&format!("{base}{path}"));
        for header in headers {
            let (name, value) = header.split_once(": ").unwrap();
            request = request.set(name, value);
        }
        request.call().expect("call succeeds").into_json().unwrap()
    }
}

impl Drop for Demo {
    /// A failed assertion must not leave the server running.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn curl_available() -> bool {
    Command::new("curl").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[test]
fn the_printed_curl_commands_work_as_pasted_and_restarts_do_not_duplicate() {
    if !curl_available() {
        eprintln!("curl is not installed; skipping the paste test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("lobby-data");

    let mut demo = Demo::start(&data);
    assert!(demo.output.contains("demo data seeded"), "{}", demo.output);
    let login = demo.paste("Log in as");
    assert_eq!(login["status"], "success", "{login}");
    let list = demo.paste("List the open inquiries");
    assert_eq!(list["success"], true, "{list}");
    assert_eq!(list["total"], 4, "{list}");
    let take = demo.paste("Take one");
    assert_eq!(take["success"], true, "{take}");
    assert_eq!(take["inquiry"]["status"], "taken");
    let one = demo.paste("Get it by room id");
    assert_eq!(one["success"], true, "{one}");
    assert_eq!(one["inquiry"]["_id"], take["inquiry"]["_id"]);
    assert_eq!(one["inquiry"]["status"], "taken");
    demo.stop();

    // Same data directory: reused, not duplicated; the taken conversation was closed and the
    // visitor got a fresh one, so the take command works again.
    let mut demo = Demo::start(&data);
    assert!(demo.output.contains("already seeded, reused"), "{}", demo.output);
    let list = demo.paste("List the open inquiries");
    assert_eq!(list["total"], 4, "{list}");
    assert_eq!(demo.call("/api/v1/livechat/inquiries.list?status=taken")["total"], 0);
    assert_eq!(demo.call("/api/v1/livechat/inquiries.list?status=closed")["total"], 1);
    assert_eq!(demo.call("/api/v1/livechat/department")["total"], 2);
    assert_eq!(demo.call("/api/v1/livechat/users/agent")["total"], 3);
    let take = demo.paste("Take one");
    assert_eq!(take["success"], true, "{take}");
    assert_eq!(demo.paste("Get it by room id")["inquiry"]["status"], "taken");
    demo.stop();
}

#[test]
fn the_demo_prints_the_console_and_keeps_visitors_arriving() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start_with_traffic(&dir.path().join("lobby-data"), 600);
    let console = demo.output.lines().find(|l| l.starts_with("Open the console in a browser: ")).expect("the console");
    let url = console.rsplit(' ').next().unwrap();
    let page = ureq::get(url).call().expect("the console answers");
    assert!(page.content_type().starts_with("text/html"));
    assert!(page.into_string().unwrap().contains("Lobby console"));
    assert!(demo.output.contains("alice") && demo.output.contains("lobby-demo"), "{}", demo.output);
    // Ten a second: more than the four seeded conversations soon wait (the ceiling only bounds a hang).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let waiting = demo.call("/api/v1/livechat/inquiries.list?count=0")["total"].as_u64().unwrap();
        if waiting > 4 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no simulated visitor arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    demo.stop();
}
