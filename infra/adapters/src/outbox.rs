//! [`Mailer`] into a file: each e-mail becomes one JSON line appended to an
//! outbox file ([JSON Lines](https://jsonlines.org/)). The local server sends
//! through it and shows the file at `GET /local/outbox`.
//!
//! Appends are safe within a process (a mutex) and across processes: the
//! file is opened in append mode and each line goes out in one `write`, so
//! lines from different writers never interleave. A reader may still meet a
//! line that is being written, or one torn by a crash: [`read_all`] skips it,
//! and the next append starts on a new line.

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seatkeeper_core::ports::{Clock, MailError, Mailer, OutgoingEmail, SystemClock};
use serde::{Deserialize, Serialize};

/// One line of the outbox: the e-mail and when it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub kind: String,
    /// RFC 3339, UTC, e.g. `2025-03-01T12:00:00.123456Z`.
    pub sent_at: DateTime<Utc>,
}

impl OutboxEntry {
    pub fn new(email: &OutgoingEmail, sent_at: DateTime<Utc>) -> Self {
        Self {
            to: email.to.clone(),
            cc: email.cc.clone(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
            kind: email.kind.clone(),
            sent_at,
        }
    }
}

/// A [`Mailer`] that appends to a JSON Lines file instead of sending.
pub struct OutboxMailer {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Serialises this process's appends (other processes rely on append mode).
    lock: Arc<Mutex<()>>,
}

impl OutboxMailer {
    /// An outbox at `path`; the file and its parent directories are created
    /// on the first send. `sent_at` is the system clock's time.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            clock: Arc::new(SystemClock),
            lock: Arc::new(Mutex::new(())),
        }
    }

    /// Stamps `sent_at` with `clock`'s time instead, e.g. the local server's
    /// settable clock, so the outbox agrees with the service's "today".
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Debug for OutboxMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMailer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let entry = OutboxEntry::new(email, self.clock.now());
        let mut line = serde_json::to_vec(&entry)
            .map_err(|e| MailError::Unavailable(format!("encode the outbox entry: {e}")))?;
        line.push(b'\n');
        let path = self.path.clone();
        let lock = Arc::clone(&self.lock);
        // File I/O blocks: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            // A poisoned lock guards no data, only the order of appends.
            let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
            append_line(&path, &line)
                .map_err(|e| format!("append to the outbox {}: {e}", path.display()))
        })
        .await
        .map_err(|e| MailError::Unavailable(format!("the outbox writer failed: {e}")))?
        .map_err(MailError::Unavailable)?;
        tracing::debug!(kind = %email.kind, to = ?email.to, "e-mail written to the outbox");
        Ok(())
    }
}

fn append_line(path: &Path, line: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    // After a torn line (a writer died mid-write), start a new line, so that
    // this entry is not lost with it. Another process's append in progress
    // looks torn too: that costs a blank line, which readers skip.
    let mut buffer = Vec::with_capacity(line.len() + 1);
    if !ends_with_newline(&mut file)? {
        buffer.push(b'\n');
    }
    buffer.extend_from_slice(line);
    // One write of the whole line: with O_APPEND it lands at the end in one
    // piece, even with other processes appending.
    file.write_all(&buffer)
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(file: &mut fs::File) -> io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    // Reads honour the position; append-mode writes ignore it.
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Every entry of the outbox at `path`, oldest first. A missing file is an
/// empty outbox. A line that does not parse (one being written right now,
/// or torn by a crash) is skipped, not an error.
pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<OutboxEntry>, io::Error> {
    let path = path.as_ref();
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries = Vec::new();
    let mut lines = BufReader::new(file).split(b'\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<OutboxEntry>(&line) {
            Ok(entry) => entries.push(entry),
            // The last line may be an append in progress: expected, quiet.
            Err(_) if lines.peek().is_none() => {}
            Err(e) => tracing::warn!(
                path = %path.display(),
                line = index + 1,
                error = %e,
                "skipping an unreadable outbox line"
            ),
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use seatkeeper_core::ports::ManualClock;

    fn email(n: usize) -> OutgoingEmail {
        OutgoingEmail {
            to: vec![format!("lead{n}@example.com")],
            cc: vec!["am@vendor.example".into()],
            subject: format!("Order {n} — confirmed ✓"),
            text: format!("Line one\nline \"two\" of {n}"),
            html: format!("<p>Order {n}</p>"),
            kind: "order_assigned".into(),
        }
    }

    #[tokio::test]
    async fn a_missing_outbox_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_all(dir.path().join("nope.jsonl")).unwrap(), vec![]);
    }

    #[tokio::test]
    async fn sends_append_one_line_each_creating_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/outbox.jsonl");
        let clock = Arc::new(ManualClock::at(
            NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        ));
        let mailer = OutboxMailer::new(path.clone()).with_clock(clock);
        mailer.send(&email(1)).await.unwrap();
        mailer.send(&email(2)).await.unwrap();

        let raw = fs::read_to_string(&path).unwrap();
        assert_eq!(raw.lines().count(), 2);
        assert!(raw.ends_with('\n'));
        let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
        assert_eq!(first["to"], serde_json::json!(["lead1@example.com"]));
        assert_eq!(first["kind"], "order_assigned");
        assert_eq!(first["sent_at"], "2025-03-01T12:00:00Z");

        let entries = read_all(&path).unwrap();
        let sent_at = "2025-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            entries,
            vec![
                OutboxEntry::new(&email(1), sent_at),
                OutboxEntry::new(&email(2), sent_at)
            ]
        );
    }

    #[tokio::test]
    async fn sent_at_is_rfc3339_utc_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let before = Utc::now();
        OutboxMailer::new(path.clone())
            .send(&email(1))
            .await
            .unwrap();
        let raw = fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(raw.trim_end()).unwrap();
        let stamp = value["sent_at"].as_str().unwrap();
        assert!(stamp.ends_with('Z'), "{stamp}");
        let parsed = DateTime::parse_from_rfc3339(stamp).unwrap();
        assert!(parsed >= before && parsed <= Utc::now());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_sends_from_many_mailers_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        // Separate mailers share no mutex: like separate processes, they
        // rely on append mode alone. Two clones of one share it.
        let mailers: Vec<Arc<OutboxMailer>> = (0..4)
            .map(|_| Arc::new(OutboxMailer::new(path.clone())))
            .collect();
        let mut tasks = Vec::new();
        for n in 0..200 {
            let mailer = Arc::clone(&mailers[n % mailers.len()]);
            let mut message = email(n);
            // Big enough that a split write would show.
            message.html = "x".repeat(16 * 1024);
            tasks.push(tokio::spawn(async move { mailer.send(&message).await }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        // Each line whole. A writer may see another's append in progress,
        // take it for a torn line and start with a newline: a blank line.
        let raw = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = raw.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 200);
        for line in lines {
            serde_json::from_str::<OutboxEntry>(line).unwrap();
        }
        let entries = read_all(&path).unwrap();
        assert_eq!(entries.len(), 200);
        let mut subjects: Vec<String> = entries.into_iter().map(|e| e.subject).collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(subjects.len(), 200);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let mailer = OutboxMailer::new(path.clone());
        mailer.send(&email(1)).await.unwrap();
        mailer.send(&email(2)).await.unwrap();
        let whole = fs::read(&path).unwrap();
        // Cut the second line short, as a crash mid-write would.
        let first_end = whole.iter().position(|b| *b == b'\n').unwrap() + 1;
        fs::write(&path, &whole[..first_end + 20]).unwrap();

        let entries = read_all(&path).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].subject, email(1).subject);

        // A later append starts a new line: nothing after the tear is lost.
        mailer.send(&email(3)).await.unwrap();
        mailer.send(&email(4)).await.unwrap();
        let subjects: Vec<String> = read_all(&path)
            .unwrap()
            .into_iter()
            .map(|e| e.subject)
            .collect();
        assert_eq!(
            subjects,
            vec![email(1).subject, email(3).subject, email(4).subject]
        );
    }

    #[tokio::test]
    async fn blank_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outbox.jsonl");
        let mailer = OutboxMailer::new(path.clone());
        mailer.send(&email(1)).await.unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"\n  \n").unwrap();
        mailer.send(&email(2)).await.unwrap();
        assert_eq!(read_all(&path).unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_unwritable_outbox_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        // The parent "directory" is a file.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"").unwrap();
        let mailer = OutboxMailer::new(blocker.join("outbox.jsonl"));
        match mailer.send(&email(1)).await {
            Err(MailError::Unavailable(message)) => assert!(message.contains("outbox")),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    #[test]
    fn a_directory_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_all(dir.path()).is_err());
    }
}
