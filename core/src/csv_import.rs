//! The CSV renewal preview: reads an uploaded spreadsheet, streaming, and
//! says which rows will renew whom, and why the others will not.
//!
//! Pure: bytes in, a [`Preview`] or an [`ImportFailure`] out. Reading the
//! object, storing the preview and renewing are the caller's job.
//!
//! # Streaming and memory
//!
//! [`PreviewBuilder::push`] takes the file in chunks of any size; the result
//! never depends on how the file was cut (a property test checks this). What
//! it keeps is bounded by the limits, not by the file:
//!
//! - the first 8 KiB, until they have been sniffed;
//! - the heading row (at most `max_columns` fields of `max_field_bytes`);
//! - the e-mail field of the row being read;
//! - the rows already seen, to spot duplicates: the e-mail of each member
//!   seen (at most the member index), and an 8-byte hash of each other
//!   address (at most `max_rows`);
//! - the members to renew, and at most `max_problems` problems.
//!
//! The CSV parser is a small byte state machine written here (no crate):
//! every byte that shapes a CSV file (`"` `,` `;` tab CR LF) is ASCII, and
//! so the same in UTF-8 and Windows-1252, so the file is split into fields
//! before it is decoded, and only the fields that matter are decoded.
//!
//! # Reading the file
//!
//! - **Encoding.** A UTF-8 byte order mark means UTF-8 (`utf-8-bom`); a
//!   stray invalid sequence in such a file becomes U+FFFD. Without one, the
//!   file is UTF-8 (`utf-8`) until a byte sequence that is not valid UTF-8
//!   shows it is Windows-1252 from an older Excel (`windows-1252`). The
//!   first 8 KiB are checked before any field is decoded; after that a field
//!   is decoded as UTF-8 only if it is valid UTF-8 and nothing before it in
//!   the file was invalid. Windows-1252 is decoded with the WHATWG table
//!   (0x80–0x9F from a 32-entry table, 0xA0–0xFF as Latin-1). UTF-16 files
//!   ("Unicode Text" in Excel) are refused with a message saying how to save.
//! - **Binary.** A NUL byte, a known binary signature (PNG, JPEG, PDF, ZIP or
//!   .xlsx, old .xls), or more than 10% ASCII control characters in the first
//!   8 KiB: [`ImportFailure::Binary`].
//! - **Delimiter.** Comma, semicolon or tab, whichever is most frequent
//!   outside quotes on the first line that holds any text (the heading row).
//!   A tie goes to comma, then semicolon, then tab; none at all means comma.
//! - **Quotes.** RFC 4180: a quoted field may hold delimiters, line breaks
//!   and doubled quotes (`""`). Like Excel, the parser is lenient: a quote in
//!   the middle of an unquoted field, or text after a closing quote, is kept
//!   as text. A quote never closed by the end of the file fails the import
//!   ([`ImportFailure::UnclosedQuote`]) rather than swallowing rows.
//! - **Line ends.** LF, CRLF and a lone CR all end a row.
//! - **Blank rows.** A row with nothing but spaces, tabs and delimiters
//!   (e.g. `,,,` as Excel writes an empty row) is skipped: it is not counted
//!   in `rows` and is neither the heading nor a problem.
//! - **Trailing empty columns** are ignored: in the heading, in the width
//!   limit, everywhere.
//! - **The heading row** is the first row that is not blank. Its cells are
//!   trimmed; `columns` lists them up to the last non-empty one.
//!
//! # Choosing the e-mail column
//!
//! 1. The column named when the import was created, compared ignoring case
//!    and white space (the first match if the heading repeats it); a name
//!    that matches no column fails with [`ImportFailure::UnknownColumn`]
//!    listing the columns. A blank name counts as no name.
//! 2. Otherwise the one column whose heading is plainly an e-mail heading
//!    ([`is_email_heading`]: "Email", "E-mail address", "Work email",
//!    "User_Email", "Mail"…). None, or more than one, fails with
//!    [`ImportFailure::NoEmailColumn`], listing the columns (and the
//!    candidates) so that the manager can pick one.
//!
//! # Classifying a row
//!
//! Each data row (not the heading, not blank) counts once in `rows`, and
//! falls in exactly one bucket, checked in this order:
//!
//! | bucket | when |
//! |---|---|
//! | `invalid` | the e-mail cell is empty or not an e-mail address ([`Email::parse`], which trims and lower-cases) |
//! | `duplicate` | the same address (after normalising) is in an earlier row |
//! | `unknown` | not a member of the company |
//! | `already_active` | a member whose licence is active: nothing to renew |
//! | [`Preview::unlicensed`] | a member who has no licence at all (see below) |
//! | `to_renew` | a member whose licence has expired |
//!
//! `not_renewed = rows - to_renew`, which is the sum of every bucket but
//! `to_renew`. Every row not renewed is a problem.
//!
//! **Unlicensed members are not renewed.** The help centre's "Import Licence
//! Renewal" allocates new licences *to expired learners*; a member who never
//! had a licence is given one from the members page, not renewed by CSV.
//! They are counted in `not_renewed`, in [`Preview::unlicensed`] (the model's
//! `ImportCounts` has no field for them yet), and are problems with the
//! reason "has no licence to renew…".
//!
//! `stay_expired` counts the company's expired members that no row names
//! ([`Roster::expired`] minus `to_renew`): they stay expired.
//!
//! # Column samples
//!
//! Each column of the heading comes with up to [`SAMPLES`] sample values:
//! the first non-empty cells under it, in file order, trimmed, control
//! characters as spaces, cut to [`SAMPLE_CHARS`] characters. They let the
//! manager pick the e-mail column from a list. When the column cannot be
//! chosen (`no_email_column`, `unknown_column`), the failure is held back
//! while up to [`SAMPLE_ROWS`] more rows are read for samples only: it is
//! still the import's failure, whatever those rows hold, and the columns
//! it leaves (see [`PreviewBuilder::columns`]) carry their samples.
//!
//! # Problems and row numbers
//!
//! A problem's `row` is the row number a spreadsheet program shows for the
//! same file: the first row of the file is 1 (normally the heading, so the
//! first data row is 2), blank rows count, and a quoted cell that holds line
//! breaks stays within its row. `email` is the cell as written (decoded, cut
//! to 256 characters). Only the first `max_problems` are kept;
//! `problems_total` counts them all.
//!
//! # Failures
//!
//! The first thing wrong, in file order, fails the import, as soon as it is
//! known; see [`ImportFailure`] for each kind, its `code()` and its message.
//! A heading row with no data rows under it fails with
//! [`ImportFailure::NoRows`]: a preview that renews nobody helps no one, and
//! the message says what to add.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::model::{ImportColumn, ImportCounts, ImportProblem, LicenceStatus};
use crate::types::Email;

/// How much of a file the preview reads before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The size of the whole file.
    pub max_bytes: u64,
    /// Data rows (not the heading, not blank rows).
    pub max_rows: u64,
    /// Columns in any row, trailing empty ones not counted.
    pub max_columns: usize,
    /// Bytes in one cell, as stored (a doubled quote counts once).
    pub max_field_bytes: usize,
    /// Problems kept in the preview; `problems_total` counts them all.
    pub max_problems: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_rows: 200_000,
            max_columns: 200,
            max_field_bytes: 4 * 1024,
            max_problems: 1000,
        }
    }
}

/// What the preview needs to know about a company's members: each one's
/// licence status, by e-mail as [`Email`] spells it.
#[derive(Debug, Default, Clone)]
pub struct Roster {
    members: HashMap<Email, Listed>,
    expired: u64,
}

/// A member as the roster lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub status: LicenceStatus,
    /// Unique to this member in its roster, counting from 0: what the
    /// preview tells members apart by without copying their addresses.
    pub number: usize,
}

impl Roster {
    pub fn with_capacity(members: usize) -> Self {
        Self {
            members: HashMap::with_capacity(members),
            expired: 0,
        }
    }

    /// Lists `email` with `status` (again: the new status, the same number);
    /// returns its number.
    pub fn insert(&mut self, email: Email, status: LicenceStatus) -> usize {
        let next = self.members.len();
        let number = match self.members.entry(email) {
            Entry::Occupied(mut listed) => {
                if listed.get().status == LicenceStatus::Expired {
                    self.expired -= 1;
                }
                listed.get_mut().status = status;
                listed.get().number
            }
            Entry::Vacant(slot) => {
                slot.insert(Listed {
                    status,
                    number: next,
                });
                next
            }
        };
        if status == LicenceStatus::Expired {
            self.expired += 1;
        }
        number
    }

    /// The member with this address, normalised as [`Email::parse`] does.
    pub fn find(&self, email: &str) -> Option<Listed> {
        self.members.get(email).copied()
    }

    /// How many members are expired: those the file does not name stay so.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

impl FromIterator<(Email, LicenceStatus)> for Roster {
    fn from_iter<I: IntoIterator<Item = (Email, LicenceStatus)>>(members: I) -> Self {
        let mut roster = Self::default();
        for (email, status) in members {
            roster.insert(email, status);
        }
        roster
    }
}

/// What an import would do, for the manager to review before confirming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The heading row's cells, trimmed, up to the last non-empty one, each
    /// with its first [`SAMPLES`] non-empty values.
    pub columns: Vec<ImportColumn>,
    /// The chosen column, as spelled in `columns`.
    pub email_column: String,
    /// `b','`, `b';'` or `b'\t'`.
    pub delimiter: u8,
    /// `"utf-8"`, `"utf-8-bom"` or `"windows-1252"`.
    pub encoding: &'static str,
    pub counts: ImportCounts,
    /// Rows of members who have no licence to renew; part of
    /// `counts.not_renewed`.
    pub unlicensed: u64,
    /// The first `max_problems` rows not renewed, in file order.
    pub problems: Vec<ImportProblem>,
    /// Every row not renewed (`counts.not_renewed`).
    pub problems_total: u64,
    /// The expired members to renew, in file order, each once.
    pub to_renew: Vec<Email>,
}

/// Why a file cannot be previewed. Each has a stable [`code`](Self::code)
/// and a message a manager can act on (its `Display`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportFailure {
    /// No bytes, or nothing but white space, blank rows and a byte order mark.
    Empty,
    /// A heading row and nothing under it.
    NoRows {
        columns: Vec<String>,
    },
    /// Not text: `looks_like` names the kind of file when it is recognised.
    Binary {
        looks_like: Option<&'static str>,
    },
    /// Text, but not a CSV file that can be read; `reason` says why and what
    /// to do, as a whole sentence.
    NotCsv {
        reason: String,
    },
    /// A quote opened in `row` is still open at the end of the file.
    UnclosedQuote {
        row: u64,
    },
    TooLarge {
        max_bytes: u64,
    },
    TooManyRows {
        max_rows: u64,
    },
    /// `row` has a value beyond column `max_columns`.
    TooWide {
        row: u64,
        max_columns: usize,
    },
    /// `column` is a label such as `C ("Notes")`.
    FieldTooLong {
        row: u64,
        column: String,
        max_field_bytes: usize,
    },
    /// No column, or more than one (`candidates`), is plainly the e-mail
    /// column.
    NoEmailColumn {
        columns: Vec<String>,
        candidates: Vec<String>,
    },
    /// The column named when the import was created is not in the file.
    UnknownColumn {
        name: String,
        columns: Vec<String>,
    },
}

impl ImportFailure {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            ImportFailure::Empty => "empty_file",
            ImportFailure::NoRows { .. } => "no_rows",
            ImportFailure::Binary { .. } => "binary_file",
            ImportFailure::NotCsv { .. } => "not_csv",
            ImportFailure::UnclosedQuote { .. } => "unclosed_quote",
            ImportFailure::TooLarge { .. } => "file_too_large",
            ImportFailure::TooManyRows { .. } => "too_many_rows",
            ImportFailure::TooWide { .. } => "too_many_columns",
            ImportFailure::FieldTooLong { .. } => "field_too_long",
            ImportFailure::NoEmailColumn { .. } => "no_email_column",
            ImportFailure::UnknownColumn { .. } => "unknown_column",
        }
    }

    /// The spreadsheet row the failure is in, when it is in one.
    pub fn row(&self) -> Option<u64> {
        match self {
            ImportFailure::UnclosedQuote { row }
            | ImportFailure::TooWide { row, .. }
            | ImportFailure::FieldTooLong { row, .. } => Some(*row),
            _ => None,
        }
    }

    /// The heading row's columns, when the file got that far and the
    /// manager may need them to pick the e-mail column; empty otherwise.
    pub fn columns(&self) -> &[String] {
        match self {
            ImportFailure::NoRows { columns }
            | ImportFailure::NoEmailColumn { columns, .. }
            | ImportFailure::UnknownColumn { columns, .. } => columns,
            _ => &[],
        }
    }
}

const SAVE_AS_CSV: &str =
    "In your spreadsheet program choose File > Save As > \"CSV UTF-8 (Comma delimited)\" and upload that file.";
const SPLIT: &str = "Split it into smaller files and import them one at a time.";

impl fmt::Display for ImportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportFailure::Empty => write!(
                f,
                "The file is empty. Upload a CSV file with a heading row (such as \"Email\") and one person per row."
            ),
            ImportFailure::NoRows { columns } => write!(
                f,
                "The file has a heading row ({}) but no rows under it. Add one row for each person to renew and upload it again.",
                list_columns(columns)
            ),
            ImportFailure::Binary { looks_like } => {
                f.write_str("This is not a CSV file")?;
                if let Some(kind) = looks_like {
                    write!(f, ": it looks like {kind}")?;
                }
                write!(f, ". {SAVE_AS_CSV}")
            }
            ImportFailure::NotCsv { reason } => f.write_str(reason),
            ImportFailure::UnclosedQuote { row } => write!(
                f,
                "A quote (\") opened in row {row} is never closed, so the rest of the file would be read \
                 as one cell. Close or remove that quote, or save the file again as CSV."
            ),
            ImportFailure::TooLarge { max_bytes } => write!(
                f,
                "The file is larger than {}, the most one import can read. {SPLIT}",
                human_bytes(*max_bytes)
            ),
            ImportFailure::TooManyRows { max_rows } => write!(
                f,
                "The file has more than {} rows, the most one import can read. {SPLIT}",
                thousands(*max_rows)
            ),
            ImportFailure::TooWide { row, max_columns } => write!(
                f,
                "Row {row} has values in more than {max_columns} columns, the most one import can read. \
                 Only the e-mail column is used: delete the others, or check that the file uses commas, \
                 semicolons or tabs between values."
            ),
            ImportFailure::FieldTooLong {
                row,
                column,
                max_field_bytes,
            } => write!(
                f,
                "Row {row}, column {column} holds more than {} of text, the most one cell may hold. \
                 If that is unexpected, a quote (\") in or above that row is probably never closed.",
                human_bytes(*max_field_bytes as u64)
            ),
            ImportFailure::NoEmailColumn {
                columns,
                candidates,
            } => {
                if candidates.len() > 1 {
                    write!(
                        f,
                        "More than one column looks like the e-mail column: {}. Choose the one that holds the e-mail addresses to renew.",
                        list_columns(candidates)
                    )
                } else {
                    write!(
                        f,
                        "No column is headed \"Email\". The columns are: {}. Choose the one that holds the e-mail addresses to renew.",
                        list_columns(columns)
                    )?;
                    if columns.iter().any(|c| Email::parse(c).is_ok()) {
                        f.write_str(
                            " The first row seems to hold an e-mail address rather than headings: \
                             add a heading row (such as \"Email\") above it.",
                        )?;
                    }
                    Ok(())
                }
            }
            ImportFailure::UnknownColumn { name, columns } => write!(
                f,
                "There is no column named \"{name}\" in the file. The columns are: {}. Choose one of them.",
                list_columns(columns)
            ),
        }
    }
}

impl std::error::Error for ImportFailure {}

/// `"Email", "Name" and column C` (empty headings by letter), at most 20.
fn list_columns(columns: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut names: Vec<String> = columns
        .iter()
        .take(SHOWN)
        .enumerate()
        .map(|(i, c)| {
            if c.is_empty() {
                format!("column {} (no heading)", column_letter(i))
            } else {
                format!("\"{c}\"")
            }
        })
        .collect();
    if columns.len() > SHOWN {
        names.push(format!("{} more", columns.len() - SHOWN));
    }
    match names.len() {
        0 => "none".to_string(),
        1 => names.remove(0),
        n => {
            let last = names.remove(n - 1);
            format!("{} and {last}", names.join(", "))
        }
    }
}

/// The spreadsheet letter of a 0-based column: A … Z, AA, AB …
fn column_letter(index: usize) -> String {
    let mut n = index as u64 + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        letters.push(b'A' + rem);
        n = (n - 1) / 26;
    }
    letters.iter().rev().map(|&b| b as char).collect()
}

fn human_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    match (n / MIB, n / KIB) {
        (mib, _) if mib > 0 && mib * MIB == n => format!("{mib} MiB"),
        (_, kib) if kib > 0 && kib * KIB == n => format!("{kib} KiB"),
        _ => format!("{} bytes", thousands(n)),
    }
}

/// `200000` as `200,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.join(",")
}

/// Whether a heading plainly names the e-mail column: compared ignoring case
/// and everything but letters and digits ("E-mail Address" = "emailaddress").
pub fn is_email_heading(heading: &str) -> bool {
    const HEADINGS: &[&str] = &[
        "email",
        "emailaddress",
        "mail",
        "mailaddress",
        "useremail",
        "useremailaddress",
        "workemail",
        "workemailaddress",
        "learneremail",
        "memberemail",
        "emailid",
        // Excel in other languages.
        "emailadresse",
        "adresseemail",
        "adressemail",
        "emailadres",
        "courriel",
        "correo",
        "correoelectronico",
    ];
    let key: String = heading
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    HEADINGS.contains(&key.as_str())
}

/// A heading compared with a name the manager gave: case and white space
/// ignored.
pub(crate) fn same_heading(a: &str, b: &str) -> bool {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect()
    };
    key(a) == key(b)
}

/// Sample values kept per column.
pub const SAMPLES: usize = 3;
/// A sample longer than this many characters is cut, with an ellipsis.
pub const SAMPLE_CHARS: usize = 100;
/// Rows read for samples alone once the e-mail column is known to be missing.
pub const SAMPLE_ROWS: u64 = 1000;

/// A cell as a sample: trimmed, on one line, at most [`SAMPLE_CHARS`].
fn sample(cell: &str) -> Option<String> {
    let text: String = cell
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= SAMPLE_CHARS {
        return Some(text);
    }
    let mut cut: String = text.chars().take(SAMPLE_CHARS - 1).collect();
    cut.push('…');
    Some(cut)
}

/// How much of the file's start is checked before parsing starts.
const SNIFF_LEN: usize = 8 * 1024;
/// Problem e-mails longer than this are cut to it, an ellipsis last.
const PROBLEM_EMAIL_CHARS: usize = 256;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Windows-1252 0x80–0x9F (WHATWG: the five unassigned bytes map to the C1
/// controls of the same value).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn decode_cp1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// An incremental UTF-8 check, fed one byte at a time, so that a sequence
/// split between two chunks is judged exactly as if it were not.
#[derive(Debug, Clone, Default)]
struct Utf8Check {
    /// Continuation bytes still expected.
    need: u8,
    lo: u8,
    hi: u8,
    invalid: bool,
}

impl Utf8Check {
    fn feed(&mut self, b: u8) {
        if self.invalid {
            return;
        }
        if self.need > 0 {
            if (self.lo..=self.hi).contains(&b) {
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
            } else {
                self.invalid = true;
            }
            return;
        }
        let (need, lo, hi) = match b {
            0x00..=0x7F => return,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => {
                self.invalid = true;
                return;
            }
        };
        self.need = need;
        self.lo = lo;
        self.hi = hi;
    }

    fn end(&mut self) {
        if self.need > 0 {
            self.invalid = true;
        }
    }
}

/// Where the parser is within a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing of the field read yet.
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: a doubled quote or the closing one.
    QuoteInQuoted,
}

#[derive(Debug)]
struct Header {
    columns: Vec<String>,
    /// `None` while a column failure is held back for samples.
    email_index: Option<usize>,
    samples: Vec<Vec<String>>,
}

/// The per-row outcome, before it is counted.
enum Outcome {
    Renew(Email),
    Invalid(String),
    Duplicate(u64),
    Unknown,
    AlreadyActive,
    Unlicensed,
}

/// Builds a [`Preview`] from a file fed in chunks. See the module docs.
#[derive(Debug)]
pub struct PreviewBuilder {
    limits: Limits,
    requested_column: Option<String>,
    failed: Option<ImportFailure>,
    bytes_seen: u64,
    /// The file's first bytes, until they are sniffed; `None` once parsing.
    sniff: Option<Vec<u8>>,
    has_bom: bool,
    delimiter: u8,
    utf8: Utf8Check,

    // The parser.
    state: State,
    /// The previous row ended with CR: an LF next is part of that ending.
    skip_lf: bool,
    /// The spreadsheet row number of the row being read (1-based).
    row: u64,
    /// Whether any byte of the current row has been read.
    row_started: bool,
    /// The row where the quoted field being read opened.
    quote_row: u64,
    field_index: usize,
    field_len: usize,
    field_has_text: bool,
    /// Whether the current field's bytes are kept in `field`.
    capture: bool,
    field: Vec<u8>,
    /// The 0-based index of the row's last non-blank field.
    last_text_field: Option<usize>,

    /// The heading row's cells while it is read.
    heading_cells: Vec<Vec<u8>>,
    header: Option<Header>,
    /// The e-mail cell of the data row being read.
    email_cell: Vec<u8>,

    /// A failure to choose the e-mail column, held back while samples are read.
    pending: Option<ImportFailure>,
    /// Rows read for samples alone since.
    sample_rows: u64,

    counts: ImportCounts,
    unlicensed: u64,
    problems: Vec<ImportProblem>,
    to_renew: Vec<Email>,
    /// The row each member was first seen in, by [`Listed::number`]; 0
    /// for not yet (rows count from 1).
    seen_members: Vec<u64>,
    /// The row's address normalised: one buffer for every row.
    normalised: String,
    /// Hashes of the other valid addresses seen, and their first row. A
    /// collision (about 1 in 10^9 at 200 000 rows) can only turn an
    /// `unknown` into a `duplicate`: neither is renewed.
    seen_others: HashMap<u64, u64>,
}

impl PreviewBuilder {
    /// `email_column` is the column named when the import was created, if
    /// any (blank counts as none).
    pub fn new(email_column: Option<String>, limits: Limits) -> Self {
        Self {
            limits,
            requested_column: email_column.filter(|c| !c.trim().is_empty()),
            failed: None,
            bytes_seen: 0,
            sniff: Some(Vec::new()),
            has_bom: false,
            delimiter: b',',
            utf8: Utf8Check::default(),
            state: State::FieldStart,
            skip_lf: false,
            row: 1,
            row_started: false,
            quote_row: 1,
            field_index: 0,
            field_len: 0,
            field_has_text: false,
            capture: true,
            field: Vec::new(),
            last_text_field: None,
            heading_cells: Vec::new(),
            header: None,
            email_cell: Vec::new(),
            pending: None,
            sample_rows: 0,
            counts: ImportCounts::default(),
            unlicensed: 0,
            problems: Vec::new(),
            to_renew: Vec::new(),
            seen_members: Vec::new(),
            normalised: String::new(),
            seen_others: HashMap::new(),
        }
    }

    /// Feeds the next chunk of the file. Fails as soon as the file is known
    /// to be bad; after a failure every call returns that failure again.
    pub fn push(&mut self, chunk: &[u8], members: &Roster) -> Result<(), ImportFailure> {
        if let Some(failure) = &self.failed {
            return Err(failure.clone());
        }
        let result = self.push_inner(chunk, members);
        self.settle(result)
    }

    /// Ends the file and returns the preview, or why there is none.
    pub fn finish(&mut self, members: &Roster) -> Result<Preview, ImportFailure> {
        if let Some(failure) = &self.failed {
            return Err(failure.clone());
        }
        let result = self.finish_inner(members);
        let result = match self.pending.take() {
            Some(held) => Err(held),
            None => result,
        };
        match result {
            Ok(preview) => Ok(preview),
            Err(failure) => {
                self.failed = Some(failure.clone());
                Err(failure)
            }
        }
    }

    /// The heading's columns as read so far, with their samples: what a
    /// failed preview still shows the manager. Empty before the heading.
    pub fn columns(&self) -> Vec<ImportColumn> {
        self.header.as_ref().map_or_else(Vec::new, |h| {
            h.columns
                .iter()
                .zip(&h.samples)
                .map(|(name, samples)| ImportColumn {
                    name: name.clone(),
                    samples: samples.clone(),
                })
                .collect()
        })
    }

    /// A held-back column failure wins over anything read after it, and
    /// ends the file once the samples are in.
    fn settle(&mut self, result: Result<(), ImportFailure>) -> Result<(), ImportFailure> {
        let result = match (&self.pending, result) {
            (Some(held), Err(_)) => Err(held.clone()),
            (Some(held), Ok(())) if self.samples_done() => Err(held.clone()),
            (_, result) => result,
        };
        if let Err(failure) = &result {
            self.pending = None;
            self.failed = Some(failure.clone());
        }
        result
    }

    fn samples_done(&self) -> bool {
        self.sample_rows >= SAMPLE_ROWS
            || self
                .header
                .as_ref()
                .is_some_and(|h| h.samples.iter().all(|s| s.len() >= SAMPLES))
    }

    fn push_inner(&mut self, chunk: &[u8], members: &Roster) -> Result<(), ImportFailure> {
        let room = self.limits.max_bytes.saturating_sub(self.bytes_seen);
        let take = usize::try_from(room).map_or(chunk.len(), |room| room.min(chunk.len()));
        let (within, beyond) = chunk.split_at(take);
        self.bytes_seen += within.len() as u64;
        self.consume(within, members)?;
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(ImportFailure::TooLarge {
                max_bytes: self.limits.max_bytes,
            })
        }
    }

    fn consume(&mut self, mut bytes: &[u8], members: &Roster) -> Result<(), ImportFailure> {
        if let Some(window) = &mut self.sniff {
            let n = (SNIFF_LEN - window.len().min(SNIFF_LEN)).min(bytes.len());
            window.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if window.len() < SNIFF_LEN {
                return Ok(());
            }
            self.start(members)?;
        }
        for &b in bytes {
            self.utf8.feed(b);
            self.step(b, members)?;
        }
        Ok(())
    }

    /// Sniffs the first bytes, then parses them.
    fn start(&mut self, members: &Roster) -> Result<(), ImportFailure> {
        let window = self.sniff.take().unwrap_or_default();
        let body = match window.strip_prefix(UTF8_BOM) {
            Some(rest) => {
                self.has_bom = true;
                rest
            }
            None => &window[..],
        };
        check_text(body)?;
        for &b in body {
            self.utf8.feed(b);
        }
        self.delimiter = sniff_delimiter(body);
        for &b in body {
            self.step(b, members)?;
        }
        Ok(())
    }

    fn finish_inner(&mut self, members: &Roster) -> Result<Preview, ImportFailure> {
        if self.sniff.is_some() {
            self.start(members)?;
        }
        self.utf8.end();
        match self.state {
            State::Quoted => {
                return Err(ImportFailure::UnclosedQuote {
                    row: self.quote_row,
                })
            }
            _ if self.row_started => self.end_row(members)?,
            _ => {}
        }
        let Some(header) = &self.header else {
            return Err(ImportFailure::Empty);
        };
        if self.pending.is_some() {
            // Reported by `finish`; the samples are complete.
            return Err(ImportFailure::Empty);
        }
        if self.counts.rows == 0 {
            return Err(ImportFailure::NoRows {
                columns: header.columns.clone(),
            });
        }
        let encoding = if self.has_bom {
            "utf-8-bom"
        } else if self.utf8.invalid {
            "windows-1252"
        } else {
            "utf-8"
        };
        let email_column = header
            .email_index
            .and_then(|i| header.columns.get(i))
            .cloned()
            .unwrap_or_default();
        let problems_total = self.counts.not_renewed;
        self.counts.stay_expired = members.expired().saturating_sub(self.counts.to_renew);
        Ok(Preview {
            columns: self.columns(),
            email_column,
            delimiter: self.delimiter,
            encoding,
            counts: std::mem::take(&mut self.counts),
            unlicensed: self.unlicensed,
            problems: std::mem::take(&mut self.problems),
            problems_total,
            to_renew: std::mem::take(&mut self.to_renew),
        })
    }

    /// One byte of the file through the CSV state machine.
    fn step(&mut self, b: u8, members: &Roster) -> Result<(), ImportFailure> {
        if self.skip_lf {
            self.skip_lf = false;
            if b == b'\n' {
                return Ok(());
            }
        }
        match self.state {
            State::FieldStart | State::Unquoted => {
                if b == self.delimiter {
                    self.row_started = true;
                    self.end_field()
                } else if b == b'\r' || b == b'\n' {
                    self.skip_lf = b == b'\r';
                    self.end_row(members)
                } else if b == b'"' && self.state == State::FieldStart {
                    self.row_started = true;
                    self.state = State::Quoted;
                    self.quote_row = self.row;
                    Ok(())
                } else {
                    self.row_started = true;
                    self.state = State::Unquoted;
                    self.push_byte(b)
                }
            }
            State::Quoted => {
                if b == b'"' {
                    self.state = State::QuoteInQuoted;
                    Ok(())
                } else {
                    self.push_byte(b)
                }
            }
            State::QuoteInQuoted => {
                if b == b'"' {
                    self.state = State::Quoted;
                    self.push_byte(b)
                } else if b == self.delimiter {
                    self.end_field()
                } else if b == b'\r' || b == b'\n' {
                    self.skip_lf = b == b'\r';
                    self.end_row(members)
                } else {
                    // Text after a closing quote: kept, as Excel does.
                    self.state = State::Unquoted;
                    self.push_byte(b)
                }
            }
        }
    }

    fn push_byte(&mut self, b: u8) -> Result<(), ImportFailure> {
        self.field_len += 1;
        if self.field_len > self.limits.max_field_bytes {
            return Err(ImportFailure::FieldTooLong {
                row: self.row,
                column: self.column_label(self.field_index),
                max_field_bytes: self.limits.max_field_bytes,
            });
        }
        if !matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            self.field_has_text = true;
        }
        if self.capture {
            self.field.push(b);
        }
        Ok(())
    }

    /// `C ("Notes")`, or `C` where the heading is unknown or empty.
    fn column_label(&self, index: usize) -> String {
        let letter = column_letter(index);
        match self
            .header
            .as_ref()
            .and_then(|h| h.columns.get(index))
            .filter(|name| !name.is_empty())
        {
            Some(name) => format!("{letter} (\"{name}\")"),
            None => letter,
        }
    }

    fn end_field(&mut self) -> Result<(), ImportFailure> {
        let index = self.field_index;
        if self.field_has_text {
            if index >= self.limits.max_columns {
                return Err(ImportFailure::TooWide {
                    row: self.row,
                    max_columns: self.limits.max_columns,
                });
            }
            self.last_text_field = Some(index);
        }
        if self.capture {
            let cell = std::mem::take(&mut self.field);
            if self.header.is_none() {
                self.heading_cells.push(cell);
            } else {
                let text = self
                    .wants_sample(index)
                    .then(|| sample(&self.decode(&cell)))
                    .flatten();
                if let Some(header) = &mut self.header {
                    if let (Some(text), Some(kept)) = (text, header.samples.get_mut(index)) {
                        kept.push(text);
                    }
                    if header.email_index == Some(index) {
                        self.email_cell = cell;
                    }
                }
            }
        }
        self.field_index += 1;
        self.field_len = 0;
        self.field_has_text = false;
        self.state = State::FieldStart;
        self.capture = self.should_capture(self.field_index);
        Ok(())
    }

    fn should_capture(&self, index: usize) -> bool {
        match &self.header {
            None => index < self.limits.max_columns,
            Some(header) => header.email_index == Some(index) || self.wants_sample(index),
        }
    }

    /// Whether a data row's cell in column `index` may still be a sample.
    fn wants_sample(&self, index: usize) -> bool {
        self.sample_rows < SAMPLE_ROWS
            && self
                .header
                .as_ref()
                .and_then(|h| h.samples.get(index))
                .is_some_and(|s| s.len() < SAMPLES)
    }

    fn end_row(&mut self, members: &Roster) -> Result<(), ImportFailure> {
        self.end_field()?;
        let row = self.row;
        if self.last_text_field.is_some() {
            if self.header.is_none() {
                self.read_heading()?;
            } else {
                self.count_row(row, members)?;
            }
        }
        self.row += 1;
        self.row_started = false;
        self.field_index = 0;
        self.last_text_field = None;
        self.heading_cells.clear();
        self.email_cell.clear();
        self.capture = self.should_capture(0);
        Ok(())
    }

    /// Decodes a cell: see "Encoding" in the module docs.
    fn decode<'a>(&self, bytes: &'a [u8]) -> Cow<'a, str> {
        if self.has_bom {
            return String::from_utf8_lossy(bytes);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) if !self.utf8.invalid => Cow::Borrowed(text),
            _ => Cow::Owned(decode_cp1252(bytes)),
        }
    }

    fn read_heading(&mut self) -> Result<(), ImportFailure> {
        let width = self.last_text_field.map_or(0, |i| i + 1);
        let cells = std::mem::take(&mut self.heading_cells);
        let columns: Vec<String> = cells
            .iter()
            .take(width)
            .map(|cell| self.decode(cell).trim().to_string())
            .collect();
        let chosen = match &self.requested_column {
            Some(name) => columns
                .iter()
                .position(|c| same_heading(c, name))
                .ok_or_else(|| ImportFailure::UnknownColumn {
                    name: name.clone(),
                    columns: columns.clone(),
                }),
            None => {
                let candidates: Vec<usize> = (0..columns.len())
                    .filter(|&i| is_email_heading(&columns[i]))
                    .collect();
                match candidates[..] {
                    [only] => Ok(only),
                    _ => Err(ImportFailure::NoEmailColumn {
                        candidates: candidates.iter().map(|&i| columns[i].clone()).collect(),
                        columns: columns.clone(),
                    }),
                }
            }
        };
        // Without a column the rows are read for samples only (module docs).
        let email_index = match chosen {
            Ok(index) => Some(index),
            Err(failure) => {
                self.pending = Some(failure);
                None
            }
        };
        self.header = Some(Header {
            samples: vec![Vec::new(); columns.len()],
            columns,
            email_index,
        });
        Ok(())
    }

    fn count_row(&mut self, row: u64, members: &Roster) -> Result<(), ImportFailure> {
        if self.pending.is_some() {
            self.sample_rows += 1;
            return Ok(());
        }
        self.counts.rows += 1;
        if self.counts.rows > self.limits.max_rows {
            return Err(ImportFailure::TooManyRows {
                max_rows: self.limits.max_rows,
            });
        }
        // Taken out to be read while `self` changes; `end_row` clears it.
        let cell = std::mem::take(&mut self.email_cell);
        let written = self.decode(&cell);
        let outcome = self.classify(&written, row, members);
        let reason = match outcome {
            Outcome::Renew(email) => {
                self.counts.to_renew += 1;
                self.to_renew.push(email);
                return Ok(());
            }
            Outcome::Invalid(reason) => {
                self.counts.invalid += 1;
                reason
            }
            Outcome::Duplicate(first) => {
                self.counts.duplicate += 1;
                format!("duplicate: the same e-mail address is in row {first}")
            }
            Outcome::Unknown => {
                self.counts.unknown += 1;
                "not a member of this company".to_string()
            }
            Outcome::AlreadyActive => {
                self.counts.already_active += 1;
                "licence is still active: nothing to renew".to_string()
            }
            Outcome::Unlicensed => {
                self.unlicensed += 1;
                "has no licence to renew: allocate them a seat from the members page".to_string()
            }
        };
        self.counts.not_renewed += 1;
        if self.problems.len() < self.limits.max_problems {
            let email = if written.chars().count() > PROBLEM_EMAIL_CHARS {
                // The ellipsis counts in the 256, as a sample's does in its 100.
                let mut cut: String = written.chars().take(PROBLEM_EMAIL_CHARS - 1).collect();
                cut.push('…');
                cut
            } else {
                written.into_owned()
            };
            self.problems.push(ImportProblem { row, email, reason });
        }
        self.email_cell = cell;
        Ok(())
    }

    fn classify(&mut self, written: &str, row: u64, members: &Roster) -> Outcome {
        if written.trim().is_empty() {
            return Outcome::Invalid("no e-mail address".to_string());
        }
        if let Err(e) = Email::normalise_into(written, &mut self.normalised) {
            return Outcome::Invalid(format!("not an e-mail address: {}", e.reason));
        }
        let listed = members.find(&self.normalised);
        let first = match listed {
            Some(Listed { number, .. }) => {
                if self.seen_members.len() < members.len() {
                    self.seen_members.resize(members.len(), 0);
                }
                match self.seen_members.get_mut(number) {
                    Some(first) if *first != 0 => Some(*first),
                    Some(first) => {
                        *first = row;
                        None
                    }
                    // Never: a roster numbers its members below its length.
                    None => None,
                }
            }
            None => {
                let mut hasher = std::hash::DefaultHasher::new();
                self.normalised.hash(&mut hasher);
                let first = *self.seen_others.entry(hasher.finish()).or_insert(row);
                (first != row).then_some(first)
            }
        };
        if let Some(first) = first {
            return Outcome::Duplicate(first);
        }
        match listed.map(|l| l.status) {
            None => Outcome::Unknown,
            Some(LicenceStatus::Active) => Outcome::AlreadyActive,
            Some(LicenceStatus::Unlicensed) => Outcome::Unlicensed,
            Some(LicenceStatus::Expired) => match Email::parse(&self.normalised) {
                Ok(email) => Outcome::Renew(email),
                // Unreachable: the address was just normalised.
                Err(e) => Outcome::Invalid(format!("not an e-mail address: {}", e.reason)),
            },
        }
    }
}

/// Refuses what is plainly not a CSV text file, from its first bytes (after
/// any UTF-8 byte order mark).
fn check_text(body: &[u8]) -> Result<(), ImportFailure> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "an Excel workbook (.xlsx) or a ZIP archive"),
        (b"\xD0\xCF\x11\xE0", "an Excel 97-2003 workbook (.xls)"),
    ];
    for (signature, kind) in SIGNATURES {
        if body.starts_with(signature) {
            return Err(ImportFailure::Binary {
                looks_like: Some(kind),
            });
        }
    }
    if body.starts_with(b"\xFF\xFE") || body.starts_with(b"\xFE\xFF") {
        return Err(ImportFailure::NotCsv {
            reason: format!(
                "The file is saved as UTF-16 (\"Unicode Text\"), which cannot be read. {SAVE_AS_CSV}"
            ),
        });
    }
    if body.contains(&0) {
        return Err(ImportFailure::Binary { looks_like: None });
    }
    let controls = body
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7F)
        .count();
    if controls * 10 > body.len() {
        return Err(ImportFailure::Binary { looks_like: None });
    }
    let start = body.trim_ascii_start();
    let lower: Vec<u8> = start.iter().take(16).map(u8::to_ascii_lowercase).collect();
    let markup = [&b"<!doctype"[..], b"<html", b"<?xml", b"<table"]
        .iter()
        .any(|m| lower.starts_with(m));
    if markup {
        return Err(ImportFailure::NotCsv {
            reason: format!(
                "The file is a web page or XML document, not a CSV file. {SAVE_AS_CSV}"
            ),
        });
    }
    if lower.starts_with(b"{\\rtf") {
        return Err(ImportFailure::NotCsv {
            reason: format!(
                "The file is a Rich Text (RTF) document, not a CSV file. {SAVE_AS_CSV}"
            ),
        });
    }
    Ok(())
}

/// The delimiter most frequent outside quotes on the first line that holds
/// any text; ties go to comma, then semicolon, then tab.
fn sniff_delimiter(body: &[u8]) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    let mut has_text = false;
    for &b in body {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\r' | b'\n' if !in_quotes => {
                if has_text {
                    break;
                }
                counts = [0; 3];
            }
            _ => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    if !in_quotes {
                        counts[i] += 1;
                    }
                } else if b != b' ' {
                    has_text = true;
                }
            }
        }
    }
    // The first of the most frequent: `max_by_key` would keep the last.
    let most = counts.iter().copied().max().unwrap_or(0);
    let best = counts.iter().position(|&n| n == most).unwrap_or(0);
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn members() -> Roster {
        Roster::from_iter([
            (email("ann@x.io"), LicenceStatus::Expired),
            (email("bob@x.io"), LicenceStatus::Expired),
            (email("eve@x.io"), LicenceStatus::Active),
            (email("uma@x.io"), LicenceStatus::Unlicensed),
        ])
    }

    fn preview_with(
        bytes: &[u8],
        column: Option<&str>,
        limits: Limits,
    ) -> Result<Preview, ImportFailure> {
        let m = members();
        let mut b = PreviewBuilder::new(column.map(str::to_string), limits);
        b.push(bytes, &m)?;
        b.finish(&m)
    }

    fn names(p: &Preview) -> Vec<&str> {
        p.columns.iter().map(|c| c.name.as_str()).collect()
    }

    fn preview(bytes: &[u8]) -> Result<Preview, ImportFailure> {
        preview_with(bytes, None, Limits::default())
    }

    fn chunked(bytes: &[u8], size: usize, limits: Limits) -> Result<Preview, ImportFailure> {
        let m = members();
        let mut b = PreviewBuilder::new(None, limits);
        for chunk in bytes.chunks(size.max(1)) {
            b.push(chunk, &m)?;
        }
        b.finish(&m)
    }

    fn samples_of(p: &Preview) -> Vec<Vec<String>> {
        p.columns.iter().map(|c| c.samples.clone()).collect()
    }

    #[test]
    fn columns_carry_their_first_non_empty_values() {
        let long = "x".repeat(150);
        let file = format!(
            "Name,Email,Notes,Empty\n A ,ann@x.io,,\n\n,bob@x.io,\"two\nlines\",\nC,eve@x.io,{long},\nD,zed@x.io,more,\n"
        );
        let p = preview(file.as_bytes()).unwrap();
        let samples = samples_of(&p);
        assert_eq!(samples[0], vec!["A", "C", "D"], "trimmed, blanks skipped");
        assert_eq!(samples[1], vec!["ann@x.io", "bob@x.io", "eve@x.io"]);
        assert_eq!(samples[2][0], "two lines", "on one line");
        assert_eq!(samples[2][1].chars().count(), SAMPLE_CHARS);
        assert!(samples[2][1].ends_with('…'));
        assert_eq!(samples[2][2], "more");
        assert!(samples[3].is_empty(), "a heading with no values");
        // Members: ann and bob expired (renewed), and nobody else expired.
        assert_eq!(p.counts.stay_expired, 0);
    }

    #[test]
    fn stay_expired_counts_the_expired_members_not_named() {
        let p = preview(b"email\nann@x.io\nANN@x.io\neve@x.io\n").unwrap();
        // ann and bob are expired; the file names ann (twice).
        assert_eq!((p.counts.to_renew, p.counts.stay_expired), (1, 1));
    }

    /// A file whose e-mail column cannot be chosen still shows its columns'
    /// samples, so the manager can pick one; the column failure wins over
    /// anything wrong further down.
    #[test]
    fn a_column_failure_reads_on_for_samples() {
        let m = members();
        let mut b = PreviewBuilder::new(None, Limits::default());
        let mut file = b"Name,Login\nAnn,ann@x.io\nBob,bob@x.io\nCy,cy@x.io\n".to_vec();
        while file.len() < 2 * SNIFF_LEN {
            file.extend_from_slice(b"Dee,dee@x.io,too,wide,for,the,limits\n");
        }
        file.extend_from_slice(b"\"open\n");
        assert_eq!(
            b.push(&file, &m).unwrap_err().code(),
            "no_email_column",
            "ends once every column has its samples"
        );
        assert_eq!(
            b.columns()
                .into_iter()
                .map(|c| c.samples)
                .collect::<Vec<_>>(),
            vec![
                vec!["Ann", "Bob", "Cy"],
                vec!["ann@x.io", "bob@x.io", "cy@x.io"]
            ]
        );
        // Fewer rows than samples: the failure comes at the end of the file,
        // after an unclosed quote that would otherwise have been reported.
        let mut b = PreviewBuilder::new(Some("Mail".into()), Limits::default());
        b.push(b"Name,Login\nAnn,ann@x.io\n\"Bob", &m).unwrap();
        assert_eq!(b.finish(&m).unwrap_err().code(), "unknown_column");
        assert_eq!(b.columns()[1].samples, vec!["ann@x.io"]);
    }

    #[test]
    fn every_bucket_is_counted_with_a_problem() {
        let p = preview(
            b"Name,Email\nA,ann@x.io\nE,eve@x.io\nU,uma@x.io\nZ,zed@x.io\nX,nope\nA2, ANN@X.IO \nB,Bob@X.io\n",
        )
        .unwrap();
        let c = &p.counts;
        assert_eq!((c.rows, c.to_renew, c.not_renewed), (7, 2, 5), "{p:#?}");
        assert_eq!(
            (
                c.already_active,
                c.unknown,
                c.invalid,
                c.duplicate,
                p.unlicensed
            ),
            (1, 1, 1, 1, 1)
        );
        assert_eq!(p.to_renew, vec![email("ann@x.io"), email("bob@x.io")]);
        let rows: Vec<u64> = p.problems.iter().map(|p| p.row).collect();
        assert_eq!(rows, vec![3, 4, 5, 6, 7]);
        assert_eq!(p.problems[4].email, " ANN@X.IO ");
        assert!(
            p.problems[4].reason.contains("row 2"),
            "{:?}",
            p.problems[4]
        );
        assert_eq!(p.problems_total, 5);
        assert_eq!(p.email_column, "Email");
        assert_eq!(names(&p), vec!["Name", "Email"]);
        assert_eq!(p.encoding, "utf-8");
        assert_eq!(p.delimiter, b',');
    }

    /// Found by the fuzzer (fuzz/): the cut e-mail was 256 characters and
    /// an ellipsis, one more than the module promises.
    #[test]
    fn long_problem_emails_are_cut_to_256_characters() {
        let file = format!("email\n{}\n", "x".repeat(300));
        let p = preview(file.as_bytes()).unwrap();
        let cut = &p.problems[0].email;
        assert_eq!(cut.chars().count(), 256, "{cut}");
        assert!(cut.ends_with('…'));
        let exact = format!("email\n{}\n", "y".repeat(256));
        let p = preview(exact.as_bytes()).unwrap();
        assert_eq!(p.problems[0].email, "y".repeat(256), "256 is kept whole");
    }

    #[test]
    fn problems_are_capped_but_all_counted() {
        let mut file = b"email\n".to_vec();
        for i in 0..50 {
            file.extend_from_slice(format!("nobody{i}@x.io\n").as_bytes());
        }
        let limits = Limits {
            max_problems: 10,
            ..Limits::default()
        };
        let p = preview_with(&file, None, limits).unwrap();
        assert_eq!(p.problems.len(), 10);
        assert_eq!(p.problems_total, 50);
        assert_eq!(p.counts.unknown, 50);
    }

    #[test]
    fn delimiter_is_sniffed_from_the_heading() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,2,3,4,5"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,b\";c\n"), b';');
        assert_eq!(sniff_delimiter(b"a,b;c\n"), b',', "tie goes to comma");
        assert_eq!(sniff_delimiter(b"email\n"), b',');
        assert_eq!(
            sniff_delimiter(b"\n;;;\n\na;b\n"),
            b';',
            "blank lines skipped"
        );
    }

    #[test]
    fn quoted_fields_hold_delimiters_newlines_and_quotes() {
        let p =
            preview(b"\"Name, full\",Email\n\"Lee, \"\"Ann\"\"\nline 2\",ann@x.io\nX,zed@x.io\n")
                .unwrap();
        assert_eq!(p.counts.to_renew, 1);
        assert_eq!(p.problems[0].row, 3, "a quoted newline stays in its row");
        assert_eq!(names(&p), vec!["Name, full", "Email"]);
    }

    #[test]
    fn blank_rows_and_trailing_columns() {
        let p = preview(b"\n,,,\nemail,,,\n\n ann@x.io ,,\n,,,\r\n   \nzed@x.io\n\n").unwrap();
        assert_eq!(names(&p), vec!["email"]);
        assert_eq!(p.counts.rows, 2);
        assert_eq!(p.problems[0].row, 8, "blank rows count in row numbers");
    }

    #[test]
    fn cr_crlf_and_lf_all_end_rows() {
        for sep in ["\n", "\r\n", "\r"] {
            let file = ["email", "ann@x.io", "zed@x.io", ""].join(sep);
            let p = preview(file.as_bytes()).unwrap();
            assert_eq!((p.counts.rows, p.counts.to_renew), (2, 1), "{sep:?}");
            assert_eq!(p.problems[0].row, 3, "{sep:?}");
        }
    }

    #[test]
    fn no_final_newline_still_reads_the_last_row() {
        let p = preview(b"email\nzed@x.io\nann@x.io").unwrap();
        assert_eq!(p.counts.to_renew, 1);
    }

    #[test]
    fn encodings() {
        let p = preview(b"\xEF\xBB\xBFName,Email\nZo\xC3\xAB,ann@x.io\n").unwrap();
        assert_eq!(p.encoding, "utf-8-bom");
        assert_eq!(p.columns[0].name, "Name");
        let p = preview(b"Pr\xE9nom,Email\nZo\xEB,ann@x.io\n\x80,caf\xE9@x.io\n").unwrap();
        assert_eq!(p.encoding, "windows-1252");
        assert_eq!(p.columns[0].name, "Prénom");
        assert_eq!(p.problems[0].email, "café@x.io");
        let p = preview("Name,Email\nZoë,ann@x.io\n".as_bytes()).unwrap();
        assert_eq!(p.encoding, "utf-8");
    }

    #[test]
    fn windows_1252_found_after_the_first_8_kib() {
        let mut file = b"Email,Name\n".to_vec();
        while file.len() < SNIFF_LEN + 100 {
            file.extend_from_slice("zoë@x.io,Zoë\n".as_bytes());
        }
        file.extend_from_slice(b"caf\xE9@x.io,Caf\xE9\nzo\xC3\xAB@x.io,\n");
        for size in [1, 3, 4096, file.len()] {
            let p = chunked(&file, size, Limits::default()).unwrap();
            assert_eq!(p.encoding, "windows-1252");
            let n = p.problems.len();
            assert_eq!(p.problems[0].email, "zoë@x.io", "UTF-8 while it looked so");
            assert_eq!(p.problems[n - 2].email, "café@x.io");
            assert_eq!(p.problems[n - 1].email, "zoÃ«@x.io", "1252 from then on");
        }
    }

    #[test]
    fn cp1252_table() {
        assert_eq!(decode_cp1252(b"\x80\x92\x9F\xA0\xE9\xFF"), "€’Ÿ\u{a0}éÿ");
        assert_eq!(decode_cp1252(b"\x81\x8D"), "\u{81}\u{8d}");
    }

    #[test]
    fn utf8_check_matches_std() {
        let samples: &[&[u8]] = &[
            b"plain",
            "Zoë €".as_bytes(),
            b"\xC0\x80",
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
            b"\xE0\x80\x80",
            b"\xF0\x9F\x98\x80",
            b"\xE9",
            b"a\xC3",
        ];
        for s in samples {
            let mut c = Utf8Check::default();
            s.iter().for_each(|&b| c.feed(b));
            c.end();
            assert_eq!(c.invalid, std::str::from_utf8(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn failures() {
        let code = |bytes: &[u8]| preview(bytes).unwrap_err().code();
        assert_eq!(code(b""), "empty_file");
        assert_eq!(code(b"\xEF\xBB\xBF \r\n\n ,, \n"), "empty_file");
        assert_eq!(code(b"email\n\n,,\n"), "no_rows");
        assert_eq!(code(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "binary_file");
        assert_eq!(code(b"email\nann@x.io\0\n"), "binary_file");
        assert_eq!(code(b"\x01\x02\x03\x04email\n"), "binary_file");
        assert_eq!(code(b"\xFF\xFEe\0m\0"), "not_csv");
        assert_eq!(code(b"  <!DOCTYPE html><html>"), "not_csv");
        assert_eq!(
            preview(b"email\nann@x.io\n\"ann@x.io\n").unwrap_err(),
            ImportFailure::UnclosedQuote { row: 3 }
        );
        assert_eq!(code(b"name,login\nA,ann@x.io\n"), "no_email_column");
        assert_eq!(
            code(b"email,work email\nann@x.io,b@x.io\n"),
            "no_email_column"
        );
        let e = preview_with(b"email\nann@x.io\n", Some("Login"), Limits::default()).unwrap_err();
        assert_eq!(e.code(), "unknown_column");
        assert_eq!(e.columns(), ["email"]);
    }

    #[test]
    fn a_named_column_wins_ignoring_case_and_spaces() {
        let p = preview_with(
            b"Email,Log In\nbad,ann@x.io\n",
            Some(" log in "),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(p.email_column, "Log In");
        assert_eq!(p.counts.to_renew, 1);
        assert!(preview_with(
            b"Email,Log In\nbad,ann@x.io\n",
            Some("  "),
            Limits::default()
        )
        .is_ok_and(|p| p.email_column == "Email"));
    }

    #[test]
    fn limits_fail_early() {
        let small = Limits {
            max_bytes: 100,
            max_rows: 2,
            max_columns: 3,
            max_field_bytes: 10,
            max_problems: 5,
        };
        let run = |bytes: &[u8]| preview_with(bytes, None, small);
        assert_eq!(
            run(&[b'a'; 101]).unwrap_err(),
            ImportFailure::TooLarge { max_bytes: 100 }
        );
        assert_eq!(
            run(b"email\na@x.io\nb@x.io\nc@x.io\n").unwrap_err(),
            ImportFailure::TooManyRows { max_rows: 2 }
        );
        assert_eq!(
            run(b"email,,,,,,,\na@x.io,b,c,,,,\na,b,c,d\n").unwrap_err(),
            ImportFailure::TooWide {
                row: 3,
                max_columns: 3
            }
        );
        assert_eq!(
            run(b"email,b\na@x.io,\"01234567890\"\n").unwrap_err(),
            ImportFailure::FieldTooLong {
                row: 2,
                column: "B (\"b\")".to_string(),
                max_field_bytes: 10
            }
        );
    }

    #[test]
    fn messages_are_actionable() {
        let msg = |f: ImportFailure| f.to_string();
        assert!(msg(ImportFailure::TooLarge {
            max_bytes: 10 * 1024 * 1024
        })
        .contains("10 MiB"));
        assert!(msg(ImportFailure::TooManyRows { max_rows: 200_000 }).contains("200,000"));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(human_bytes(4096), "4 KiB");
        assert_eq!(human_bytes(1000), "1,000 bytes");
        let m = msg(ImportFailure::NoEmailColumn {
            columns: vec!["a@x.io".into(), "".into(), "Name".into()],
            candidates: vec![],
        });
        assert!(
            m.contains("\"a@x.io\", column B (no heading) and \"Name\""),
            "{m}"
        );
        assert!(m.contains("add a heading row"), "{m}");
        let m = msg(ImportFailure::Binary {
            looks_like: Some("a PNG image"),
        });
        assert!(m.contains("PNG") && m.contains("Save As"), "{m}");
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn a_failure_sticks() {
        let m = members();
        let mut b = PreviewBuilder::new(None, Limits::default());
        assert!(b.push(b"\0\0\0", &m).is_ok(), "still sniffing");
        let mut filler = vec![b'a'; SNIFF_LEN];
        filler[0] = 0;
        assert_eq!(b.push(&filler, &m).unwrap_err().code(), "binary_file");
        assert_eq!(b.push(b"email\n", &m).unwrap_err().code(), "binary_file");
        assert_eq!(b.finish(&m).unwrap_err().code(), "binary_file");
    }

    #[test]
    fn email_headings() {
        for h in [
            "Email",
            " E-mail ",
            "EMAIL ADDRESS",
            "e-mail address",
            "Mail",
            "User Email",
            "work_email",
            "E-Mail-Adresse",
        ] {
            assert!(is_email_heading(h), "{h}");
        }
        for h in ["Name", "Login", "email2", "Manager email", ""] {
            assert!(!is_email_heading(h), "{h}");
        }
    }

    fn csv_ish() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => prop::sample::select(b"\",;\t\r\n @.ax".to_vec()),
            1 => any::<u8>(),
        ];
        let word = prop_oneof![
            Just(b"email".to_vec()),
            Just(b"ann@x.io".to_vec()),
            Just(b"EVE@x.io".to_vec()),
            Just(b"uma@x.io".to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(b"Zo\xEB".to_vec()),
            prop::collection::vec(byte, 1..4),
        ];
        prop::collection::vec(word, 0..120).prop_map(|w| w.concat())
    }

    fn limits() -> impl Strategy<Value = Limits> {
        prop_oneof![
            Just(Limits::default()),
            (1u64..400, 1u64..8, 1usize..6, 1usize..24, 0usize..4).prop_map(
                |(max_bytes, max_rows, max_columns, max_field_bytes, max_problems)| Limits {
                    max_bytes,
                    max_rows,
                    max_columns,
                    max_field_bytes,
                    max_problems,
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn chunking_never_changes_the_result(
            bytes in prop_oneof![csv_ish(), prop::collection::vec(any::<u8>(), 0..600)],
            sizes in prop::collection::vec(1usize..40, 1..8),
            limits in limits(),
        ) {
            let whole = chunked(&bytes, bytes.len(), limits);
            let m = members();
            let mut b = PreviewBuilder::new(None, limits);
            let mut rest = &bytes[..];
            let mut i = 0;
            let mut result = Ok(());
            while !rest.is_empty() && result.is_ok() {
                let n = sizes[i % sizes.len()].min(rest.len());
                result = b.push(&rest[..n], &m);
                rest = &rest[n..];
                i += 1;
            }
            let pieces = result.and_then(|()| b.finish(&m));
            prop_assert_eq!(&pieces, &whole);
            prop_assert_eq!(&chunked(&bytes, 1, limits), &whole);
            if let Ok(p) = &whole {
                let c = &p.counts;
                prop_assert_eq!(c.rows, c.to_renew + c.not_renewed);
                prop_assert_eq!(
                    c.not_renewed,
                    c.already_active + c.unknown + c.invalid + c.duplicate + p.unlicensed
                );
                prop_assert_eq!(p.problems_total, c.not_renewed);
                prop_assert!(p.problems.len() <= limits.max_problems);
            }
        }

        /// Files that cross the 8 KiB sniff window, with a character split
        /// across it and Windows-1252 bytes appearing only after it.
        #[test]
        fn chunking_across_the_sniff_window(
            pad in 0usize..16,
            tail in csv_ish(),
            sizes in prop::collection::vec(1usize..5000, 1..6),
        ) {
            let mut bytes = b"Name,Email\n".to_vec();
            while bytes.len() < SNIFF_LEN - 40 {
                bytes.extend_from_slice("Zoë,ann@x.io\n".as_bytes());
            }
            bytes.extend(std::iter::repeat_n(b'a', pad));
            bytes.extend_from_slice("ë€,bob@x.io\nZo\u{eb},zed@x.io\n".as_bytes());
            bytes.extend_from_slice(b"Zo\xEB,caf\xE9@x.io\n");
            bytes.extend_from_slice(&tail);
            let whole = chunked(&bytes, bytes.len(), Limits::default());
            let m = members();
            let mut b = PreviewBuilder::new(None, Limits::default());
            let mut rest = &bytes[..];
            let mut i = 0;
            let mut result = Ok(());
            while !rest.is_empty() && result.is_ok() {
                let n = sizes[i % sizes.len()].min(rest.len());
                result = b.push(&rest[..n], &m);
                rest = &rest[n..];
                i += 1;
            }
            prop_assert_eq!(&result.and_then(|()| b.finish(&m)), &whole);
            prop_assert_eq!(&chunked(&bytes, 1, Limits::default()), &whole);
        }

        #[test]
        fn messages_never_panic(bytes in csv_ish(), column in proptest::option::of("[ a-zA-Z@]{0,8}")) {
            if let Err(e) = preview_with(&bytes, column.as_deref(), Limits::default()) {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(!e.code().is_empty());
            }
        }
    }
}
