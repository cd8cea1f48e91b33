//! The `lobby-sim` binary as a user runs it: figures, JSON keys, exit statuses and error messages.

use std::process::{Command, Output};

fn lobby_sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lobby-sim")).args(args).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_file(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const KEYS: [&str; 7] =
    ["p_wait", "asa_seconds", "service_level", "abandonment_rate", "occupancy", "conversations", "seed"];

#[test]
fn erlang_c_prints_and_writes_the_issue_example() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("erlang.json");
    let out = lobby_sim(&[
        "erlang-c",
        "--arrival-rate",
        "200/h",
        "--handle-time",
        "180s",
        "--agents",
        "14",
        "--sl-threshold",
        "20s",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("probability of waiting             0.1741"), "{stdout}");
    let value = json_file(&json);
    for key in KEYS {
        assert!(value.get(key).is_some(), "missing {key}: {value}");
    }
    assert!((value["p_wait"].as_f64().unwrap() - 0.1741).abs() < 1e-4);
    assert!((value["occupancy"].as_f64().unwrap() - 10.0 / 14.0).abs() < 1e-12);
}

#[test]
fn rates_and_durations_take_every_unit() {
    // 200/h = 10/3 per minute; 180 s = 3 min = 0.05 h = 180000 ms.
    let p_wait = |rate: &str, handle: &str| {
        let out = lobby_sim(&["erlang-c", "--arrival-rate", rate, "--handle-time", handle, "--agents", "14"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).lines().find(|l| l.starts_with("probability of waiting")).unwrap().to_owned()
    };
    let reference = p_wait("200/h", "180s");
    assert_eq!(p_wait("0.0555555555556/s", "3min"), reference);
    assert_eq!(p_wait("3.333333333333/min", "0.05h"), reference);
    assert_eq!(p_wait("200/h", "180000ms"), reference);
}

#[test]
fn impossible_input_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.toml");
    std::fs::write(
        &bad_file,
        "[[department]]\nname = \"a\"\narrival_rate = \"10/h\"\nagents = 2\nhandle_time = { distribution = \"gamma\", mean = \"1min\" }\n",
    )
    .unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["erlang-c", "--arrival-rate", "300/h", "--handle-time", "3min", "--agents", "14"],
            "--agents: 14 agents cannot carry",
        ),
        (
            vec!["erlang-c", "--arrival-rate", "-3/h", "--handle-time", "3min", "--agents", "14"],
            "--arrival-rate: must not be negative",
        ),
        (
            vec!["run", "--arrival-rate", "-3/h", "--handle-time", "3min", "--agents", "2"],
            "--arrival-rate: must not be negative",
        ),
        (
            vec!["run", "--arrival-rate", "30/h", "--handle-time", "3min", "--agents", "0"],
            "--agents: visitors arrive but no agent",
        ),
        (
            vec![
                "run",
                "--arrival-rate",
                "30/h",
                "--handle-time",
                "3min",
                "--agents",
                "2",
                "--handle-time-distribution",
                "gamma",
            ],
            "--handle-time-distribution: unknown distribution \"gamma\"",
        ),
        (
            vec!["run", "--arrival-rate", "30/h", "--handle-time", "3", "--agents", "2"],
            "--handle-time: \"3\" has no unit",
        ),
        (
            vec!["run", "--arrival-rate", "30/h", "--handle-time", "3min", "--agents", "2", "--patience", "soon"],
            "--patience: ",
        ),
        (
            vec!["run", "--scenario", bad_file.to_str().unwrap()],
            "department[0].handle_time.distribution: unknown distribution",
        ),
        (
            vec!["run", "--arrival-rate", "30/h", "--handle-time", "3min", "--agents", "2", "--routing", "random"],
            "--routing: unknown routing method",
        ),
    ];
    for (args, expected) in cases {
        let out = lobby_sim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn run_writes_the_json_keys_and_no_progress_bar_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = lobby_sim(&[
        "run",
        "--arrival-rate",
        "200/h",
        "--handle-time",
        "180s",
        "--agents",
        "14",
        "--hours",
        "1",
        "--seed",
        "9",
        "--replications",
        "2",
        "--patience",
        "none",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "nothing on stderr when it is not a terminal");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Erlang C"), "{stdout}");
    assert!(stdout.contains("events/s"), "{stdout}");
    let value = json_file(&json);
    for key in KEYS {
        assert!(value.get(key).is_some(), "missing {key}: {value}");
    }
    assert_eq!(value["seed"], 9);
    assert!(value["conversations"].as_u64().unwrap() > 250, "{value}");
    assert!(value["confidence_intervals"]["p_wait"]["half_width"].as_f64().is_some());
    assert!(value["simulator"]["events_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn compare_routing_runs_the_same_visitors_through_each_method() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("compare.json");
    let plot = dir.path().join("plot.svg");
    let out = lobby_sim(&[
        "run",
        "--arrival-rate",
        "150/h",
        "--handle-time",
        "4min",
        "--agents",
        "6",
        "--capacity",
        "2",
        "--hours",
        "1",
        "--replications",
        "1",
        "--patience",
        "3min",
        "--compare-routing",
        "manual,auto,load-balancing,load-rotation",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for method in ["manual ", "auto ", "load-balancing ", "load-rotation "] {
        assert!(stdout.lines().any(|l| l.starts_with(method)), "no row for {method}: {stdout}");
    }
    let value = json_file(&json);
    let rows = value["compare_routing"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let arrivals: Vec<u64> = rows.iter().map(|r| r["conversations"].as_u64().unwrap()).collect();
    assert!(arrivals.iter().all(|n| *n == arrivals[0] && *n > 100), "same visitors: {arrivals:?}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Waiting conversations") && svg.contains("load-rotation"));
}

#[test]
fn events_written_by_run_replay_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let out = lobby_sim(&[
        "run",
        "--arrival-rate",
        "100/h",
        "--handle-time",
        "3min",
        "--agents",
        "4",
        "--hours",
        "1",
        "--replications",
        "1",
        "--routing",
        "load-rotation",
        "--events",
        events.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = lobby_sim(&["replay", events.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("decides exactly as recorded"));
    let out = lobby_sim(&["replay", dir.path().join("missing.jsonl").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}
