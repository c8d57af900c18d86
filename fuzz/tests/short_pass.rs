//! The short pass `make test` (and so CI) runs: every fuzz target with few
//! cases, in the debug build, from the same fixed seed as `make fuzz`
//! (`FUZZ_SEED` overrides it). `make fuzz` runs the million.

use std::collections::BTreeSet;

use seatkeeper_edge::routes::ROUTES;
use seatkeeper_fuzz::handlers::body_routes;
use seatkeeper_fuzz::json::BODIES;
use seatkeeper_fuzz::{csv, env_number, handlers, json, Config, Report, DEFAULT_SEED};

/// Cases per target here; `make fuzz` runs 1 000 000 (docs/FUZZING.md).
const CSV_CASES: u64 = 20_000;
/// Per body type: 14 of them, so 280 000 bodies in all.
const JSON_CASES: u64 = 20_000;
/// Through the handlers, on SQLite: the slowest target in a debug build.
const HANDLER_CASES: u64 = 10_000;

fn config(cases: u64, handler_cases: u64) -> Config {
    let seed = env_number("FUZZ_SEED", DEFAULT_SEED).unwrap_or(DEFAULT_SEED);
    Config {
        seed,
        cases,
        handler_cases,
        only_case: None,
    }
}

fn assert_passed(report: &Report) {
    print!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
}

#[test]
fn every_route_that_reads_a_body_is_fuzzed() {
    let fuzzed: BTreeSet<_> = body_routes()
        .iter()
        .map(|(r, _)| (r.method, r.path))
        .collect();
    let writes: BTreeSet<_> = ROUTES
        .iter()
        .filter(|r| matches!(r.method, "POST" | "PUT" | "PATCH"))
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        fuzzed, writes,
        "every POST, PUT and PATCH route needs a body in json::BODIES"
    );
    let listed: usize = BODIES.iter().map(|b| b.routes.len()).sum();
    assert_eq!(listed, writes.len(), "each route in one body's list, once");
}

#[test]
fn csv_short_pass() {
    assert_passed(&csv::run(&config(CSV_CASES, 0)));
}

#[test]
fn json_short_pass() {
    for body in BODIES {
        assert_passed(&json::run(body, &config(JSON_CASES, 0)));
    }
}

#[test]
fn handlers_short_pass() {
    let report = handlers::run(&config(0, HANDLER_CASES));
    assert_passed(&report);
    // Valid bodies must get through: a fuzzer that only meets 400s proves little.
    let successes: u64 = report
        .outcomes
        .iter()
        .filter(|(kind, _)| kind.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    assert!(successes > HANDLER_CASES / 50, "{}", report.render());
}

/// The harness itself: a panic is caught and counted, a broken promise is
/// reported with its input and the line that replays it.
#[test]
fn panics_and_broken_promises_are_caught_and_reported() {
    let config = config(10, 0);
    let mut n = 0;
    let report = seatkeeper_fuzz::run_target("self-test", &config, 10, |_| {
        n += 1;
        match n % 3 {
            0 => panic!("a finding"),
            1 => (b"input".to_vec(), Err("a broken promise".to_string())),
            _ => (Vec::new(), Ok("fine".to_string())),
        }
    });
    assert_eq!(report.inputs, 10);
    assert!(
        report.panics > 0 && report.violations > 0,
        "{}",
        report.render()
    );
    assert!(!report.passed());
    let text = report.render();
    assert!(
        text.contains("FUZZ_CASE=") && text.contains("input: input"),
        "{text}"
    );
}
