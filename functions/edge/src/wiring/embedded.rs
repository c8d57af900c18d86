//! The service on the local stand-ins: any store, e-mail to a file outbox,
//! uploads as files. The local server and `cargo lambda watch` both run on it,
//! so the two never wire the service differently.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use seatkeeper_adapters::local_files::LocalObjects;
use seatkeeper_adapters::outbox::OutboxMailer;
use seatkeeper_core::ports::{Clock, ItemStore, Mailer};
use seatkeeper_core::service::Settings;
use seatkeeper_core::Seatkeeper;

use crate::pipeline::App;

/// The local stand-in for the imports bucket.
pub const IMPORTS_BUCKET: &str = "seatkeeper-imports";
/// The SQLite file in a data directory.
pub const SQLITE_FILE: &str = "seatkeeper.sqlite";
/// The outbox in a data directory: one JSON e-mail a line.
pub const OUTBOX_FILE: &str = "outbox.jsonl";
/// Where uploads live in a data directory.
const OBJECTS_DIR: &str = "s3";

#[derive(Debug, thiserror::Error)]
#[error("cannot use the data directory {0}: {1}")]
pub struct DataDirError(pub PathBuf, #[source] pub std::io::Error);

/// The app, and the stand-ins the local server also serves directly.
pub struct Embedded {
    pub app: App,
    pub objects: Arc<LocalObjects>,
    pub outbox: PathBuf,
}

/// Creates `dir` if need be; the SQLite store for it lives at [`sqlite_path`].
pub fn data_dir(dir: &Path) -> Result<(), DataDirError> {
    std::fs::create_dir_all(dir).map_err(|e| DataDirError(dir.to_path_buf(), e))
}

pub fn sqlite_path(dir: &Path) -> PathBuf {
    dir.join(SQLITE_FILE)
}

impl Embedded {
    /// The service on `store`, with e-mail and uploads under `dir` (which
    /// must exist: see [`data_dir`]). `base_url` is where e-mail links and
    /// upload URLs point.
    pub fn open(
        dir: &Path,
        base_url: &str,
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::open_mailing(dir, base_url, store, clock, |outbox| outbox)
    }

    /// As [`Self::open`], the outbox mailer seen through `mailer` (tests put
    /// faults there).
    pub fn open_mailing(
        dir: &Path,
        base_url: &str,
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        mailer: impl FnOnce(Arc<dyn Mailer>) -> Arc<dyn Mailer>,
    ) -> Self {
        let outbox = dir.join(OUTBOX_FILE);
        let outbox_mailer = OutboxMailer::new(outbox.clone()).with_clock(clock.clone());
        let settings = Settings {
            app_base_url: base_url.to_string(),
        };
        let mailer = mailer(Arc::new(outbox_mailer));
        let service = Seatkeeper::new(store, clock, mailer, settings);
        let objects = Arc::new(LocalObjects::new(
            dir.join(OBJECTS_DIR),
            IMPORTS_BUCKET,
            base_url.to_string(),
        ));
        Self {
            app: App::new(service, objects.clone(), objects.clone()),
            objects,
            outbox,
        }
    }
}
