//! Target `csv`: the streaming preview (`PreviewBuilder`) on arbitrary and
//! mutated bytes, cut into arbitrary chunks, under small random limits.
//!
//! Each case runs the file twice, whole and in random chunks, and checks:
//! no panic; the same result both ways; a failure has a known code and a
//! message; a preview's counts add up as the module documents
//! (`rows = to_renew + not_renewed`, `not_renewed` = the sum of the other
//! buckets with `unlicensed`, `problems_total = not_renewed`), at most
//! `max_problems` problems in row order, at most `max_rows` rows, and the
//! columns and samples within their bounds.

use seatkeeper_core::csv_import::{
    ImportFailure, Limits, Preview, PreviewBuilder, Roster, SAMPLES, SAMPLE_CHARS,
};
use seatkeeper_core::model::LicenceStatus;
use seatkeeper_core::types::Email;

use crate::{run_target, CaseResult, Config, Gen, Report};

pub const TARGET: &str = "csv";

/// The tricky-CSV corpus (tests/fixtures/csv/), the mutation seeds.
const CORPUS: &[&[u8]] = &[
    include_bytes!("../../tests/fixtures/csv/binary.csv"),
    include_bytes!("../../tests/fixtures/csv/blank-lines-and-trailing-columns.csv"),
    include_bytes!("../../tests/fixtures/csv/blank.csv"),
    include_bytes!("../../tests/fixtures/csv/cr-only.csv"),
    include_bytes!("../../tests/fixtures/csv/crlf.csv"),
    include_bytes!("../../tests/fixtures/csv/duplicates.csv"),
    include_bytes!("../../tests/fixtures/csv/empty.csv"),
    include_bytes!("../../tests/fixtures/csv/header-only.csv"),
    include_bytes!("../../tests/fixtures/csv/headerless.csv"),
    include_bytes!("../../tests/fixtures/csv/long-field.csv"),
    include_bytes!("../../tests/fixtures/csv/no-email-header.csv"),
    include_bytes!("../../tests/fixtures/csv/quoted.csv"),
    include_bytes!("../../tests/fixtures/csv/semicolon.csv"),
    include_bytes!("../../tests/fixtures/csv/spaces-and-capitals.csv"),
    include_bytes!("../../tests/fixtures/csv/tab.tsv"),
    include_bytes!("../../tests/fixtures/csv/two-email-headers.csv"),
    include_bytes!("../../tests/fixtures/csv/unclosed-quote.csv"),
    include_bytes!("../../tests/fixtures/csv/unknown-and-invalid.csv"),
    include_bytes!("../../tests/fixtures/csv/utf16.csv"),
    include_bytes!("../../tests/fixtures/csv/utf8-bom.csv"),
    include_bytes!("../../tests/fixtures/csv/utf8.csv"),
    include_bytes!("../../tests/fixtures/csv/wide-row.csv"),
    include_bytes!("../../tests/fixtures/csv/windows-1252.csv"),
];

/// The corpus's members (expected.json), so mutated rows hit every bucket.
const EXPECTED: &str = include_str!("../../tests/fixtures/csv/expected.json");

/// Tokens that shape a CSV file or its decoding.
const DICTIONARY: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b";",
    b"\t",
    b"\r",
    b"\n",
    b"\r\n",
    b",,,",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\0",
    b"\xE9",
    b"\xC3\xAB",
    b"\xE2\x82\xAC",
    b"\xF0\x9F\x98\x80",
    b"\xED\xA0\x80",
    b"\x80",
    b"Email",
    b"E-mail address",
    b"Work email",
    b"email,work email",
    b"Name",
    b"ann@example.com",
    b"EVE@example.com",
    b"uma@example.com",
    b"nobody@example.com",
    b"not-an-email",
    b"%PDF-",
    b"PK\x03\x04",
    b"\x89PNG\r\n\x1a\n",
    b"<!DOCTYPE html>",
];

/// The bytes that shape a CSV file, for random input.
const ALPHABET: &[u8] = b"\",;\t\r\n @.aeE\xEF\xBB\xBF\xE9";

/// The stable failure codes (`ImportFailure::code`).
pub const CODES: &[&str] = &[
    "empty_file",
    "no_rows",
    "binary_file",
    "not_csv",
    "unclosed_quote",
    "file_too_large",
    "too_many_rows",
    "too_many_columns",
    "field_too_long",
    "no_email_column",
    "unknown_column",
];

pub fn members() -> Roster {
    let mut members = Roster::default();
    let Ok(expected) = serde_json::from_str::<serde_json::Value>(EXPECTED) else {
        return members;
    };
    for (list, status) in [
        ("expired", LicenceStatus::Expired),
        ("active", LicenceStatus::Active),
        ("unlicensed", LicenceStatus::Unlicensed),
    ] {
        let emails = expected["members"][list].as_array().cloned();
        for raw in emails.unwrap_or_default() {
            if let Some(Ok(email)) = raw.as_str().map(Email::parse) {
                members.insert(email, status);
            }
        }
    }
    members
}

/// Mostly small limits, so that every limit is hit; sometimes the defaults.
fn limits(gen: &mut Gen) -> Limits {
    match gen.below(10) {
        0 | 1 => Limits::default(),
        2..=6 => Limits {
            max_bytes: gen.range(1, 600),
            max_rows: gen.range(1, 12),
            max_columns: 1 + gen.below(8),
            max_field_bytes: 1 + gen.below(48),
            max_problems: gen.below(6),
        },
        _ => Limits {
            max_bytes: gen.range(100, 20_000),
            max_rows: gen.range(1, 400),
            max_columns: 1 + gen.below(64),
            max_field_bytes: 1 + gen.below(2048),
            max_problems: gen.below(40),
        },
    }
}

/// A CSV-shaped file: a heading and rows of tokens, delimiters and quotes.
fn shaped(gen: &mut Gen) -> Vec<u8> {
    let cells: &[&[u8]] = &[
        b"Email",
        b"email",
        b"Name",
        b"",
        b" ",
        b"ann@example.com",
        b"bob@example.com",
        b"eve@example.com",
        b"uma@example.com",
        b"x@y",
        b"\"a,b\"",
        b"\"line\nbreak\"",
        b"\"q\"\"q\"",
        b"Zo\xEB",
        b"Zo\xC3\xAB",
    ];
    let delimiter = *gen.pick(b",;\t");
    let endings: [&[u8]; 3] = [b"\n", b"\r\n", b"\r"];
    let ending = *gen.pick(&endings);
    let mut out = Vec::new();
    for _ in 0..gen.below(30) {
        for c in 0..gen.below(6) {
            if c > 0 {
                out.push(delimiter);
            }
            let cell: &[u8] = cells[gen.below(cells.len())];
            out.extend_from_slice(cell);
        }
        out.extend_from_slice(ending);
    }
    out
}

fn input(gen: &mut Gen) -> Vec<u8> {
    match gen.below(20) {
        0..=4 => gen.bytes(512, ALPHABET),
        5..=7 => shaped(gen),
        _ => {
            let seed = *gen.pick(CORPUS);
            let other = *gen.pick(CORPUS);
            gen.mutate(seed, DICTIONARY, other)
        }
    }
}

fn column(gen: &mut Gen) -> Option<String> {
    match gen.below(10) {
        0..=5 => None,
        6 => Some(String::new()),
        7 | 8 => Some(
            (*gen.pick(&["Email", " work  EMAIL ", "login", "Username", "Name", "A"])).to_string(),
        ),
        _ => Some(String::from_utf8_lossy(&gen.bytes(12, b"Email ")).into_owned()),
    }
}

fn preview(
    bytes: &[u8],
    sizes: &[usize],
    column: Option<String>,
    limits: Limits,
    members: &Roster,
) -> Result<Preview, ImportFailure> {
    let mut builder = PreviewBuilder::new(column, limits);
    let mut at = 0;
    for size in sizes {
        builder.push(&bytes[at..at + size], members)?;
        at += size;
    }
    let result = builder.finish(members);
    // What a failed preview still shows must be readable too.
    let _ = builder.columns();
    result
}

/// Checks one outcome against the module's promises.
fn check(result: &Result<Preview, ImportFailure>, bytes: &[u8], limits: Limits) -> CaseResult {
    match result {
        Err(failure) => {
            let code = failure.code();
            if !CODES.contains(&code) {
                return Err(format!("unknown failure code {code}"));
            }
            if failure.to_string().is_empty() {
                return Err(format!("{code} without a message"));
            }
            if failure.row() == Some(0) {
                return Err(format!("{code} in row 0"));
            }
            Ok(code.to_string())
        }
        Ok(p) => {
            let c = &p.counts;
            let promises = [
                (
                    "rows = to_renew + not_renewed",
                    c.rows == c.to_renew + c.not_renewed,
                ),
                (
                    "not_renewed = the other buckets",
                    c.not_renewed
                        == c.already_active + c.unknown + c.invalid + c.duplicate + p.unlicensed,
                ),
                (
                    "problems_total = not_renewed",
                    p.problems_total == c.not_renewed,
                ),
                (
                    "problems kept = min(total, max_problems)",
                    p.problems.len() as u64 == p.problems_total.min(limits.max_problems as u64),
                ),
                ("to_renew listed", p.to_renew.len() as u64 == c.to_renew),
                ("rows within max_rows", c.rows <= limits.max_rows),
                ("at least one row", c.rows > 0),
                (
                    "bytes within max_bytes",
                    bytes.len() as u64 <= limits.max_bytes,
                ),
                (
                    "columns within max_columns",
                    p.columns.len() <= limits.max_columns,
                ),
                (
                    "problems in row order",
                    p.problems.windows(2).all(|w| w[0].row < w[1].row)
                        && p.problems
                            .iter()
                            .all(|x| x.row >= 2 && !x.reason.is_empty()),
                ),
                (
                    "problem e-mails cut to 256 characters",
                    p.problems.iter().all(|x| x.email.chars().count() <= 256),
                ),
                (
                    "samples within bounds",
                    p.columns.iter().all(|col| {
                        col.samples.len() <= SAMPLES
                            && col
                                .samples
                                .iter()
                                .all(|s| s.chars().count() <= SAMPLE_CHARS)
                    }),
                ),
                (
                    "the e-mail column is a column",
                    p.columns.iter().any(|col| col.name == p.email_column),
                ),
                (
                    "known encoding and delimiter",
                    ["utf-8", "utf-8-bom", "windows-1252"].contains(&p.encoding)
                        && b",;\t".contains(&p.delimiter),
                ),
            ];
            match promises.iter().find(|(_, kept)| !kept) {
                Some((promise, _)) => Err(format!("broke \"{promise}\": {p:?}")),
                None => Ok("preview".to_string()),
            }
        }
    }
}

pub fn run(config: &Config) -> Report {
    let members = members();
    run_target(TARGET, config, config.cases, |gen| {
        let bytes = input(gen);
        let limits = limits(gen);
        let column = column(gen);
        let sizes = gen.chunk_sizes(bytes.len());
        let whole = preview(&bytes, &[bytes.len()], column.clone(), limits, &members);
        let chunked = preview(&bytes, &sizes, column, limits, &members);
        let result = if whole == chunked {
            check(&whole, &bytes, limits)
        } else {
            Err(format!(
                "chunks {sizes:?} changed the result:\n      whole:   {whole:?}\n      chunked: {chunked:?}"
            ))
        };
        (bytes, result)
    })
}
