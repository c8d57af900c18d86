//! Uploads on the local disk, standing in for S3: the local server's
//! `PUT /local/s3/{bucket}/{key}` writes here and hands out URLs to it,
//! and the import reads the file back in chunks, as it would from S3.

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use seatkeeper_core::ports::{ObjectError, ObjectReader, UploadTarget};
use tokio::io::AsyncReadExt;

/// Bytes read per chunk.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
    bucket: String,
    base_url: String,
}

impl LocalObjects {
    /// Objects live under `root/<bucket>/<key>`; URLs start at `base_url`.
    pub fn new(root: PathBuf, bucket: impl Into<String>, base_url: impl Into<String>) -> Self {
        Self {
            root,
            bucket: bucket.into(),
            base_url: base_url.into(),
        }
    }

    /// The file of an object; a key that would leave the root is refused.
    pub fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, ObjectError> {
        let relative = Path::new(bucket).join(key);
        let escapes = relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)));
        if escapes || bucket.is_empty() || key.is_empty() {
            return Err(ObjectError::NotFound(format!("{bucket}/{key}")));
        }
        Ok(self.root.join(relative))
    }

    /// Stores an upload, replacing any earlier one; written aside then
    /// renamed, so a reader never sees half a file.
    pub async fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        let path = self.path(bucket, key)?;
        let io = |e: std::io::Error| ObjectError::Unavailable(format!("{}: {e}", path.display()));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let partial = path.with_extension("partial");
        tokio::fs::write(&partial, bytes).await.map_err(io)?;
        tokio::fs::rename(&partial, &path).await.map_err(io)
    }
}

#[async_trait]
impl UploadTarget for LocalObjects {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn upload_url(&self, key: &str, _expires_in_seconds: u64) -> Result<String, ObjectError> {
        Ok(format!(
            "{}/local/s3/{}/{key}",
            self.base_url.trim_end_matches('/'),
            self.bucket
        ))
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        LocalObjects::put(self, &self.bucket, key, bytes).await
    }
}

fn not_found_or(path: &Path, e: std::io::Error) -> ObjectError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ObjectError::NotFound(path.display().to_string()),
        _ => ObjectError::Unavailable(format!("{}: {e}", path.display())),
    }
}

#[async_trait]
impl ObjectReader for LocalObjects {
    async fn size(&self, bucket: &str, key: &str) -> Result<u64, ObjectError> {
        let path = self.path(bucket, key)?;
        let metadata = tokio::fs::metadata(&path)
            .await
            .map_err(|e| not_found_or(&path, e))?;
        Ok(metadata.len())
    }

    async fn read_chunks(
        &self,
        bucket: &str,
        key: &str,
        sink: &mut (dyn for<'c> FnMut(&'c [u8]) -> bool + Send),
    ) -> Result<(), ObjectError> {
        let path = self.path(bucket, key)?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| not_found_or(&path, e))?;
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            let read = file
                .read(&mut buffer)
                .await
                .map_err(|e| not_found_or(&path, e))?;
            if read == 0 || !sink(&buffer[..read]) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stores_and_reads_back_in_chunks() {
        let dir = tempfile::TempDir::new().unwrap();
        let objects = LocalObjects::new(
            dir.path().to_path_buf(),
            "imports",
            "http://127.0.0.1:3000/",
        );
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        objects
            .put("imports", "imports/c1/i1.csv", &bytes)
            .await
            .unwrap();
        assert_eq!(
            objects.size("imports", "imports/c1/i1.csv").await.unwrap(),
            200_000
        );
        let mut back = Vec::new();
        let mut chunks = 0;
        objects
            .read_chunks("imports", "imports/c1/i1.csv", &mut |chunk: &[u8]| {
                chunks += 1;
                back.extend_from_slice(chunk);
                true
            })
            .await
            .unwrap();
        assert_eq!(back, bytes);
        assert!(chunks >= 4, "read in chunks, not whole");
        assert_eq!(
            objects.upload_url("imports/c1/i1.csv", 60).await.unwrap(),
            "http://127.0.0.1:3000/local/s3/imports/imports/c1/i1.csv"
        );
    }

    #[tokio::test]
    async fn refuses_keys_that_leave_the_root_and_reports_missing_files() {
        let dir = tempfile::TempDir::new().unwrap();
        let objects = LocalObjects::new(dir.path().to_path_buf(), "imports", "http://x");
        assert!(objects.path("imports", "../../etc/passwd").is_err());
        assert!(objects.put("imports", "/abs", b"x").await.is_err());
        assert!(matches!(
            objects.size("imports", "imports/none.csv").await,
            Err(ObjectError::NotFound(_))
        ));
    }
}
