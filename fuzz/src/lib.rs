//! Seeded fuzzing of the CSV preview and of every JSON request body
//! (issue #14, docs/FUZZING.md). `make fuzz` runs the binary in an
//! optimised build with a million cases a target; `make test` runs a short
//! pass of the same targets (tests/short_pass.rs).
//!
//! Not coverage-guided: cargo-fuzz needs libFuzzer and a nightly toolchain,
//! which the build does not rely on. Instead each target generates inputs
//! from a fixed seed, mostly structure-aware mutations of real seeds (the
//! CSV corpus, a valid body per route), and checks every outcome.

pub mod csv;
pub mod gen;
pub mod handlers;
pub mod json;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

pub use gen::Gen;

/// The default seed: printed with every run, so any run can be repeated.
pub const DEFAULT_SEED: u64 = 0x5EA7_CEE9_0014;

/// A number from the environment (`1_000_000` and `0x…` allowed), or `default`.
pub fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => {
            let digits: String = raw.chars().filter(|c| *c != '_').collect();
            let parsed = match digits.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => digits.parse(),
            };
            parsed.map_err(|_| format!("{name}={raw} is not a number"))
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// Cases for the CSV target and for each body type's parsing target.
    pub cases: u64,
    /// Cases through the real handlers on a store (slower: SQLite).
    pub handler_cases: u64,
    /// Run only this case (to replay a failure).
    pub only_case: Option<u64>,
}

impl Config {
    /// The case numbers to run out of `count`.
    pub fn case_numbers(&self, count: u64) -> std::ops::Range<u64> {
        match self.only_case {
            Some(case) => case..case + 1,
            None => 0..count,
        }
    }
}

/// Violations kept in full per target; all are counted.
const KEPT: usize = 5;

/// One target's result.
#[derive(Debug, Default)]
pub struct Report {
    pub target: String,
    pub inputs: u64,
    pub panics: u64,
    /// Cases whose outcome broke a promise (a 5xx, a bad invariant…).
    pub violations: u64,
    /// The first few panics and violations, each with its case number and input.
    pub failures: Vec<String>,
    /// Outcomes by kind: `ok`, a failure code, `400 validation_failed`…
    pub outcomes: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.panics == 0 && self.violations == 0
    }

    /// The lines `make fuzz` prints for the target.
    pub fn render(&self) -> String {
        let rate = self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9);
        let mut out = format!(
            "{:<28} inputs {:>9}  panics {}  violations {}  time {:>7.1}s  ({:.0}/s)\n",
            self.target,
            self.inputs,
            self.panics,
            self.violations,
            self.elapsed.as_secs_f64(),
            rate
        );
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        out.push_str(&format!("    outcomes: {}\n", outcomes.join(", ")));
        for failure in &self.failures {
            out.push_str(&format!("    FAILED {failure}\n"));
        }
        out
    }
}

/// What one case came to: its kind (counted), or a broken promise.
pub type CaseResult = Result<String, String>;

/// Runs `case` for each case number, catching panics, and tallies.
/// `case` returns the input it made (for the report) and its result.
pub fn run_target(
    target: &str,
    config: &Config,
    count: u64,
    mut case: impl FnMut(&mut Gen) -> (Vec<u8>, CaseResult),
) -> Report {
    let started = Instant::now();
    let mut report = Report {
        target: target.to_string(),
        ..Report::default()
    };
    for n in config.case_numbers(count) {
        let mut gen = Gen::for_case(config.seed, target, n);
        // A panic is a finding: caught so that the run goes on and counts.
        let result = catch_unwind(AssertUnwindSafe(|| case(&mut gen)));
        report.inputs += 1;
        match result {
            Ok((_, Ok(kind))) => *report.outcomes.entry(kind).or_default() += 1,
            Ok((input, Err(broken))) => {
                report.violations += 1;
                if report.failures.len() < KEPT {
                    report.failures.push(format!(
                        "case {n}: {broken}\n      input: {}\n      replay: FUZZ_SEED={:#x} FUZZ_TARGETS={target} FUZZ_CASE={n}",
                        gen::show(&input),
                        config.seed
                    ));
                }
            }
            Err(panic) => {
                report.panics += 1;
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                if report.failures.len() < KEPT {
                    report.failures.push(format!(
                        "case {n}: panicked: {message}\n      replay: FUZZ_SEED={:#x} FUZZ_TARGETS={target} FUZZ_CASE={n}",
                        config.seed
                    ));
                }
            }
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Every target's name: `csv`, `json:<body>` for each body type, `handlers`.
pub fn target_names() -> Vec<String> {
    let mut names = vec![csv::TARGET.to_string()];
    names.extend(json::BODIES.iter().map(|b| format!("json:{}", b.name)));
    names.push(handlers::TARGET.to_string());
    names
}

/// Runs the named target.
pub fn run(name: &str, config: &Config) -> Option<Report> {
    if name == csv::TARGET {
        return Some(csv::run(config));
    }
    if name == handlers::TARGET {
        return Some(handlers::run(config));
    }
    let body = name.strip_prefix("json:")?;
    json::BODIES
        .iter()
        .find(|b| b.name == body)
        .map(|b| json::run(b, config))
}
