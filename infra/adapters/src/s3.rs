//! [`UploadTarget`] and [`ObjectReader`] on Amazon S3.
//!
//! [`S3Uploads`] hands out presigned `PutObject` URLs: the client uploads
//! straight to S3, and the function never sees the bytes. Presigning is
//! local (no request is sent); the URL carries the signer's credentials, so
//! with a Lambda role's temporary credentials it stops working when they
//! expire, even before `expires_in_seconds`.
//!
//! [`S3Objects`] reads an object with `HeadObject` (its size) and
//! `GetObject`, handing the body to the sink chunk by chunk as it arrives
//! from the network: the object is never held whole in memory, and a sink
//! that has seen enough stops the download.
//!
//! A missing object (`NotFound`/`NoSuchKey`, or any 404) is
//! [`ObjectError::NotFound`]; every other failure is
//! [`ObjectError::Unavailable`] with the SDK's full error message.

use std::error::Error;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;
use seatkeeper_core::ports::{ObjectError, ObjectReader, UploadTarget};

/// Presigned PUT URLs for uploads into one bucket. Cloning is cheap: the
/// SDK client is shared.
#[derive(Debug, Clone)]
pub struct S3Uploads {
    client: Client,
    bucket: String,
}

impl S3Uploads {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl UploadTarget for S3Uploads {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A presigned `PUT` of `key`. It signs no content type and no
    /// checksum, so a plain `PUT` of the file's bytes is all a client sends.
    async fn upload_url(&self, key: &str, expires_in_seconds: u64) -> Result<String, ObjectError> {
        // S3 refuses presigned URLs valid for more than 7 days; the SDK checks.
        let config = PresigningConfig::expires_in(Duration::from_secs(expires_in_seconds))
            .map_err(|e| {
                ObjectError::Unavailable(format!("cannot presign for {expires_in_seconds}s: {e}"))
            })?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| {
                ObjectError::Unavailable(format!(
                    "presign PUT s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(request.uri().to_string())
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                ObjectError::Unavailable(format!(
                    "PUT s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                ))
            })
    }
}

/// Reads objects from any bucket the client's credentials can read.
/// Cloning is cheap: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl ObjectReader for S3Objects {
    async fn size(&self, bucket: &str, key: &str) -> Result<u64, ObjectError> {
        let output = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(&e, "HEAD", bucket, key, HeadObjectError::is_not_found))?;
        let length = output.content_length().ok_or_else(|| {
            ObjectError::Unavailable(format!("HEAD s3://{bucket}/{key}: no Content-Length"))
        })?;
        u64::try_from(length).map_err(|_| {
            ObjectError::Unavailable(format!(
                "HEAD s3://{bucket}/{key}: a negative Content-Length ({length})"
            ))
        })
    }

    async fn read_chunks(
        &self,
        bucket: &str,
        key: &str,
        sink: &mut (dyn for<'c> FnMut(&'c [u8]) -> bool + Send),
    ) -> Result<(), ObjectError> {
        let output = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(&e, "GET", bucket, key, GetObjectError::is_no_such_key))?;
        let mut body = output.body;
        // Each chunk as the network delivers it; dropping `body` on an early
        // stop closes the connection instead of downloading the rest.
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            ObjectError::Unavailable(format!(
                "GET s3://{bucket}/{key}: the body failed mid-read: {}",
                DisplayErrorContext(&e)
            ))
        })? {
            if !chunk.is_empty() && !sink(&chunk) {
                break;
            }
        }
        Ok(())
    }
}

/// `NotFound` for the operation's modeled "no such key" error or any 404
/// (a `HEAD` error has no body, so S3 and moto send a bare 404); otherwise
/// `Unavailable` with the whole error chain.
fn classify<E>(
    error: &SdkError<E, HttpResponse>,
    verb: &str,
    bucket: &str,
    key: &str,
    is_not_found: fn(&E) -> bool,
) -> ObjectError
where
    E: Error + 'static,
{
    let not_found = error.as_service_error().is_some_and(is_not_found)
        || error
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 404);
    if not_found {
        ObjectError::NotFound(format!("s3://{bucket}/{key}"))
    } else {
        ObjectError::Unavailable(format!(
            "{verb} s3://{bucket}/{key}: {}",
            DisplayErrorContext(error)
        ))
    }
}

#[cfg(test)]
mod tests {
    //! Against a scripted HTTP server on loopback: the responses S3 gives,
    //! streamed slowly enough to see the chunks and the early stop.

    use std::io::{BufRead, BufReader, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    use std::sync::mpsc;

    use aws_sdk_s3::config::retry::RetryConfig;
    use seatkeeper_test_support::aws::emulator_config;

    use super::*;

    /// What the server does with one request.
    enum Reply {
        /// A status line, headers and a body, all at once.
        Whole(String),
        /// A `200` with a chunked body: each part, then a pause.
        Chunked(Vec<(&'static str, Duration)>),
    }

    /// Serves each connection with the next reply, reporting request lines.
    fn server(replies: Vec<Reply>) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let (seen, requests) = mpsc::channel();
        std::thread::spawn(move || {
            for reply in replies {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let Some(line) = read_request(&stream) else {
                    return;
                };
                let _ = seen.send(line);
                // Errors are the client hanging up early, which tests want.
                let _ = respond(stream, reply);
            }
        });
        (endpoint, requests)
    }

    fn read_request(stream: &TcpStream) -> Option<String> {
        let mut reader = BufReader::new(stream);
        let mut first = String::new();
        reader.read_line(&mut first).ok()?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
                return Some(first.trim_end().to_string());
            }
        }
    }

    fn respond(mut stream: TcpStream, reply: Reply) -> std::io::Result<()> {
        match reply {
            Reply::Whole(text) => stream.write_all(text.as_bytes()),
            Reply::Chunked(parts) => {
                stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n\
                      Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                )?;
                for (part, pause) in parts {
                    write!(stream, "{:x}\r\n{part}\r\n", part.len())?;
                    stream.flush()?;
                    std::thread::sleep(pause);
                }
                stream.write_all(b"0\r\n\r\n")
            }
        }
    }

    /// An S3 error response with its XML body.
    fn error(status: &str, code: &str) -> Reply {
        let body = format!("<Error><Code>{code}</Code><Message>from the test</Message></Error>");
        whole(
            &format!(
                "{status}\r\nContent-Type: application/xml\r\nContent-Length: {}",
                body.len()
            ),
            &body,
        )
    }

    /// A response with no body.
    fn bare(head: &str) -> Reply {
        whole(head, "")
    }

    /// The server answers one request per connection, so it says so: a
    /// client that pooled the connection could otherwise send its next
    /// request down a socket the server is closing, and fail by chance.
    fn whole(head: &str, body: &str) -> Reply {
        Reply::Whole(format!(
            "HTTP/1.1 {head}\r\nConnection: close\r\n\r\n{body}"
        ))
    }

    fn client(endpoint: &str) -> Client {
        Client::from_conf(
            aws_sdk_s3::config::Builder::from(&emulator_config(endpoint))
                .force_path_style(true)
                .retry_config(RetryConfig::disabled())
                .build(),
        )
    }

    const PAUSE: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn the_body_arrives_chunk_by_chunk() {
        let (endpoint, requests) = server(vec![Reply::Chunked(vec![
            ("email\r\n", PAUSE),
            ("a@x.io\r\n", PAUSE),
            ("b@x.io\r\n", PAUSE),
        ])]);
        let mut chunks = Vec::new();
        S3Objects::new(client(&endpoint))
            .read_chunks("uploads", "imports/c/i.csv", &mut |chunk: &[u8]| {
                chunks.push(chunk.to_vec());
                true
            })
            .await
            .expect("read");
        assert_eq!(chunks.concat(), b"email\r\na@x.io\r\nb@x.io\r\n");
        assert!(chunks.len() > 1, "one chunk per write: {chunks:?}");
        assert_eq!(
            requests.recv().expect("a request"),
            "GET /uploads/imports/c/i.csv?x-id=GetObject HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn a_sink_that_says_stop_ends_the_download() {
        // The rest of the body would take a minute to come.
        let (endpoint, _requests) = server(vec![Reply::Chunked(vec![
            ("\u{0}\u{1}binary", Duration::from_secs(60)),
            ("never read", Duration::ZERO),
        ])]);
        let mut calls = 0;
        let objects = S3Objects::new(client(&endpoint));
        let mut sink = |_: &[u8]| {
            calls += 1;
            false
        };
        let read = objects.read_chunks("uploads", "k", &mut sink);
        // Returning at all proves the stop: the rest is a minute away. The
        // timeout only turns a hang into a failure.
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the read returned before the rest of the body")
            .expect("read");
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn size_is_the_content_length() {
        let (endpoint, requests) = server(vec![bare(
            "200 OK\r\nContent-Length: 4194304\r\nETag: \"abc\"",
        )]);
        let size = S3Objects::new(client(&endpoint))
            .size("uploads", "imports/c/i.csv")
            .await;
        assert_eq!(size, Ok(4_194_304));
        assert_eq!(
            requests.recv().expect("a request"),
            "HEAD /uploads/imports/c/i.csv HTTP/1.1"
        );
    }

    #[tokio::test]
    async fn a_missing_object_is_not_found() {
        let (endpoint, _requests) = server(vec![
            bare("404 Not Found\r\nContent-Length: 0"),
            error("404 Not Found", "NoSuchKey"),
        ]);
        let objects = S3Objects::new(client(&endpoint));
        assert_eq!(
            objects.size("uploads", "gone.csv").await,
            Err(ObjectError::NotFound("s3://uploads/gone.csv".into()))
        );
        let result = objects
            .read_chunks("uploads", "gone.csv", &mut |_: &[u8]| true)
            .await;
        assert_eq!(
            result,
            Err(ObjectError::NotFound("s3://uploads/gone.csv".into()))
        );
    }

    #[tokio::test]
    async fn other_failures_are_unavailable_with_the_reason() {
        let (endpoint, _requests) = server(vec![
            bare("500 Internal Server Error\r\nContent-Length: 0"),
            error("403 Forbidden", "AccessDenied"),
        ]);
        let objects = S3Objects::new(client(&endpoint));
        let head = objects.size("uploads", "k").await;
        assert!(
            matches!(&head, Err(ObjectError::Unavailable(m)) if m.starts_with("HEAD s3://uploads/k: ")),
            "{head:?}"
        );
        let get = objects
            .read_chunks("uploads", "k", &mut |_: &[u8]| true)
            .await;
        assert!(
            matches!(&get, Err(ObjectError::Unavailable(m)) if m.contains("AccessDenied")),
            "{get:?}"
        );
        // Nobody listening at all.
        drop(objects);
        let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let endpoint = format!("http://{}", closed.local_addr().expect("address"));
        drop(closed);
        let result = S3Objects::new(client(&endpoint)).size("uploads", "k").await;
        assert!(
            matches!(result, Err(ObjectError::Unavailable(_))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn the_upload_url_is_a_presigned_put_of_the_key() {
        // Presigning sends nothing: no server needed.
        let uploads = S3Uploads::new(client("http://127.0.0.1:9"), "seat-uploads");
        assert_eq!(uploads.bucket(), "seat-uploads");
        let url = uploads
            .upload_url("imports/co_1/imp 1.csv", 900)
            .await
            .expect("a URL");
        assert!(
            url.starts_with("http://127.0.0.1:9/seat-uploads/imports/co_1/imp%201.csv?"),
            "{url}"
        );
        for part in [
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
            "X-Amz-Signature=",
            "x-id=PutObject",
        ] {
            assert!(url.contains(part), "{part} in {url}");
        }
        // No checksum signed in: a plain PUT must match the signature.
        assert!(!url.to_lowercase().contains("checksum"), "{url}");
    }

    #[tokio::test]
    async fn more_than_seven_days_cannot_be_presigned() {
        let uploads = S3Uploads::new(client("http://127.0.0.1:9"), "b");
        let result = uploads.upload_url("k", 8 * 24 * 3600).await;
        assert!(
            matches!(result, Err(ObjectError::Unavailable(_))),
            "{result:?}"
        );
    }
}
