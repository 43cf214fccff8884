//! The core stays pure: its manifest depends only on an allow-list, and its sources never
//! touch the clock, the environment, files or the network.

#[test]
fn core_dependencies_are_on_the_allow_list() {
    let manifest = include_str!("../../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap_or("")
        .split("\n[")
        .next()
        .unwrap_or("");
    for line in deps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name = line.split(['=', '.']).next().unwrap_or("").trim();
        assert!(
            ["leuko-kb", "time", "thiserror"].contains(&name),
            "leuko-core must stay pure; {name} is not on the allow-list"
        );
    }
}

#[test]
fn core_sources_do_no_io() {
    let sources = [
        include_str!("../../src/assess.rs"),
        include_str!("../../src/differential.rs"),
        include_str!("../../src/explain.rs"),
        include_str!("../../src/findings.rs"),
        include_str!("../../src/grade.rs"),
        include_str!("../../src/lib.rs"),
        include_str!("../../src/record.rs"),
        include_str!("../../src/reference.rs"),
        include_str!("../../src/series.rs"),
        include_str!("../../src/triage.rs"),
        include_str!("../../src/truth.rs"),
        include_str!("../../src/units.rs"),
        include_str!("../../src/workup.rs"),
    ];
    for banned in [
        "now_utc",
        "SystemTime",
        "Instant::now",
        "std::env",
        "std::fs",
        "std::net",
        "std::process",
        "println!",
        "rand::",
    ] {
        for s in sources {
            assert!(!s.contains(banned), "leuko-core must not use {banned}");
        }
    }
}
