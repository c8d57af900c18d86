//! `make fuzz`: every target, `FUZZ_CASES` cases each (default 1 000 000),
//! `FUZZ_HANDLER_CASES` through the handlers (default 100 000), from
//! `FUZZ_SEED`. `FUZZ_TARGETS` (comma-separated) picks targets and
//! `FUZZ_CASE` replays one case. Exits 1 on any panic or broken promise.

use std::process::ExitCode;
use std::time::Instant;

use seatkeeper_fuzz::{env_number as number, run, target_names, Config, DEFAULT_SEED};

fn main() -> ExitCode {
    let config = (|| {
        Ok::<_, String>(Config {
            seed: number("FUZZ_SEED", DEFAULT_SEED)?,
            cases: number("FUZZ_CASES", 1_000_000)?,
            handler_cases: number("FUZZ_HANDLER_CASES", 100_000)?,
            only_case: std::env::var("FUZZ_CASE")
                .ok()
                .map(|_| number("FUZZ_CASE", 0))
                .transpose()?,
        })
    })();
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::FAILURE;
        }
    };
    let all = target_names();
    let chosen: Vec<String> = match std::env::var("FUZZ_TARGETS") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|s| s.trim().to_string()).collect()
        }
        _ => all.clone(),
    };
    println!(
        "fuzz: seed {:#x}, {} cases per target, {} through the handlers",
        config.seed, config.cases, config.handler_cases
    );
    let started = Instant::now();
    let (mut inputs, mut panics, mut failed) = (0, 0, false);
    for name in &chosen {
        let Some(report) = run(name, &config) else {
            eprintln!("fuzz: no target {name}; targets: {}", all.join(", "));
            return ExitCode::FAILURE;
        };
        print!("{}", report.render());
        inputs += report.inputs;
        panics += report.panics;
        failed |= !report.passed();
    }
    println!(
        "fuzz: {} targets, {inputs} inputs, {panics} panics, {} in {:.1}s (seed {:#x})",
        chosen.len(),
        if failed {
            "FAILED"
        } else {
            "all promises kept"
        },
        started.elapsed().as_secs_f64(),
        config.seed
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
