//! The tricky-CSV corpus in `tests/fixtures/csv/` against its hand-written
//! `expected.json`, each file fed in chunks of 1, 7, 4096 bytes and whole;
//! and 100 000 rows against 100 000 members.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use seatkeeper_core::csv_import::{ImportFailure, Limits, Preview, PreviewBuilder, Roster};
use seatkeeper_core::model::{ImportCounts, LicenceStatus};
use seatkeeper_core::types::Email;
use serde::Deserialize;

#[derive(Deserialize)]
struct Expected {
    members: Members,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Members {
    expired: Vec<String>,
    active: Vec<String>,
    unlicensed: Vec<String>,
}

#[derive(Deserialize)]
struct Case {
    file: String,
    email_column: Option<String>,
    preview: Option<ExpectedPreview>,
    failure: Option<String>,
    failure_columns: Option<Vec<String>>,
    failure_row: Option<u64>,
    /// Each column's samples, read on past a column failure.
    failure_samples: Option<Vec<Vec<String>>>,
}

#[derive(Deserialize)]
struct ExpectedPreview {
    encoding: String,
    delimiter: String,
    columns: Vec<String>,
    samples: Option<Vec<Vec<String>>>,
    email_column: String,
    counts: ImportCounts,
    unlicensed: u64,
    to_renew: Vec<String>,
    problems: Vec<(u64, String)>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/csv")
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

/// The preview or failure, and the columns' samples as the builder left them.
fn run(
    bytes: &[u8],
    column: Option<String>,
    chunk: usize,
    members: &Roster,
) -> (Result<Preview, ImportFailure>, Vec<Vec<String>>) {
    let mut builder = PreviewBuilder::new(column, Limits::default());
    let mut result = Ok(());
    for piece in bytes.chunks(chunk.max(1)) {
        result = builder.push(piece, members);
        if result.is_err() {
            break;
        }
    }
    let result = result.and_then(|()| builder.finish(members));
    let samples = builder.columns().into_iter().map(|c| c.samples).collect();
    (result, samples)
}

fn check(
    case: &Case,
    (got, samples): &(Result<Preview, ImportFailure>, Vec<Vec<String>>),
) -> Result<(), String> {
    match (got, &case.preview, &case.failure) {
        (Ok(p), Some(want), None) => {
            let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
            let got_samples: Vec<Vec<String>> =
                p.columns.iter().map(|c| c.samples.clone()).collect();
            let delimiter = String::from(char::from(p.delimiter));
            let to_renew: Vec<&str> = p.to_renew.iter().map(Email::as_str).collect();
            let problems: Vec<(u64, String)> = p
                .problems
                .iter()
                .map(|x| (x.row, x.email.clone()))
                .collect();
            let checks = [
                ("encoding", p.encoding == want.encoding),
                ("delimiter", delimiter == want.delimiter),
                ("columns", names == want.columns),
                (
                    "samples",
                    want.samples.as_ref().is_none_or(|w| *w == got_samples)
                        && got_samples == *samples,
                ),
                ("email_column", p.email_column == want.email_column),
                ("counts", p.counts == want.counts),
                ("unlicensed", p.unlicensed == want.unlicensed),
                ("to_renew", to_renew == want.to_renew),
                ("problems", problems == want.problems),
                (
                    "problems_total",
                    p.problems_total == want.problems.len() as u64,
                ),
                ("reasons", p.problems.iter().all(|x| !x.reason.is_empty())),
            ];
            match checks.iter().find(|(_, ok)| !ok) {
                Some((what, _)) => Err(format!("{what} differs: got {p:#?}")),
                None => Ok(()),
            }
        }
        (Err(e), None, Some(code)) => {
            if e.code() != code {
                return Err(format!("failed with {} ({e}), expected {code}", e.code()));
            }
            if let Some(columns) = &case.failure_columns {
                if e.columns() != columns.as_slice() {
                    return Err(format!("failure columns {:?}", e.columns()));
                }
            }
            if case
                .failure_samples
                .as_ref()
                .is_some_and(|want| want != samples)
            {
                return Err(format!("failure samples {samples:?}"));
            }
            if case.failure_row.is_some() && e.row() != case.failure_row {
                return Err(format!("failure row {:?}", e.row()));
            }
            if e.to_string().len() < 20 {
                return Err(format!("message too terse: {e}"));
            }
            Ok(())
        }
        (Ok(p), _, _) => Err(format!("expected a failure, got {p:#?}")),
        (Err(e), _, _) => Err(format!("unexpected failure {}: {e}", e.code())),
    }
}

#[test]
fn every_corpus_file_gives_its_expected_outcome_in_any_chunking() {
    let dir = corpus_dir();
    let expected: Expected =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let mut members = Roster::default();
    for (list, status) in [
        (&expected.members.expired, LicenceStatus::Expired),
        (&expected.members.active, LicenceStatus::Active),
        (&expected.members.unlicensed, LicenceStatus::Unlicensed),
    ] {
        for raw in list {
            members.insert(email(raw), status);
        }
    }

    let mut failures = Vec::new();
    for case in &expected.cases {
        assert!(
            case.preview.is_some() != case.failure.is_some(),
            "{}: a case has a preview or a failure",
            case.file
        );
        let bytes = std::fs::read(dir.join(&case.file))
            .unwrap_or_else(|e| panic!("{}: {e} (run make_corpus.py)", case.file));
        for chunk in [1, 7, 4096, bytes.len()] {
            let got = run(&bytes, case.email_column.clone(), chunk, &members);
            if let Err(why) = check(case, &got) {
                failures.push(format!(
                    "{} (email_column {:?}, chunks of {chunk}): {why}",
                    case.file, case.email_column
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));

    // Every file in the corpus is checked by at least one case.
    let listed: BTreeSet<&str> = expected.cases.iter().map(|c| c.file.as_str()).collect();
    let unlisted: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "expected.json" && name != "make_corpus.py")
        .filter(|name| !listed.contains(name.as_str()))
        .collect();
    assert!(unlisted.is_empty(), "not in expected.json: {unlisted:?}");
}

/// 100 000 rows (about 4 MB) against a company of 100 000 members, fed in
/// 64 KiB chunks as an S3 body would arrive. Runs in a second or two in a
/// debug build.
#[test]
fn a_hundred_thousand_rows_against_a_hundred_thousand_members() {
    const N: usize = 100_000;
    let mut members = Roster::with_capacity(N);
    let mut expired = 0;
    for i in 0..N {
        // Every tenth member active, every fiftieth unlicensed, the rest expired.
        let status = if i % 10 == 0 {
            LicenceStatus::Active
        } else if i % 50 == 5 {
            LicenceStatus::Unlicensed
        } else {
            expired += 1;
            LicenceStatus::Expired
        };
        members.insert(email(&format!("learner{i:06}@big.example")), status);
    }

    // Rows: member i for most i; every 1000th row a stranger, every 997th an
    // invalid cell, every 499th a repeat of the row before (in capitals).
    let mut file = String::from("Email,Department\r\n");
    let mut want = ImportCounts::default();
    let mut unlicensed = 0;
    let mut previous = String::new();
    for i in 0..N {
        let cell = if i % 1000 == 999 {
            want.unknown += 1;
            format!("stranger{i}@else.example")
        } else if i % 997 == 996 {
            want.invalid += 1;
            format!("learner {i} at big")
        } else if i % 499 == 498 && previous.contains('@') {
            want.duplicate += 1;
            previous.to_uppercase()
        } else {
            let cell = format!("learner{i:06}@big.example");
            if i % 10 == 0 {
                want.already_active += 1;
            } else if i % 50 == 5 {
                unlicensed += 1;
            } else {
                want.to_renew += 1;
            }
            cell
        };
        file.push_str(&format!("{cell},\"Sales, EMEA\"\r\n"));
        previous = cell;
    }
    want.rows = N as u64;
    want.not_renewed = want.rows - want.to_renew;
    assert!(
        (3_500_000..5_000_000).contains(&file.len()),
        "{} bytes",
        file.len()
    );

    let started = Instant::now();
    want.stay_expired = expired - want.to_renew;
    let mut builder = PreviewBuilder::new(None, Limits::default());
    for chunk in file.as_bytes().chunks(64 * 1024) {
        builder.push(chunk, &members).unwrap();
    }
    let preview = builder.finish(&members).unwrap();
    eprintln!(
        "previewed {} rows, {} bytes in {:?}",
        N,
        file.len(),
        started.elapsed()
    );

    assert_eq!(preview.counts, want);
    assert_eq!(preview.unlicensed, unlicensed);
    assert_eq!(preview.to_renew.len() as u64, want.to_renew);
    assert_eq!(preview.problems.len(), Limits::default().max_problems);
    assert_eq!(preview.problems_total, want.not_renewed);
    assert_eq!(preview.email_column, "Email");
}
