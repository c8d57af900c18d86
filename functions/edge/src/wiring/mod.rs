//! The app wired to its ports: on AWS, or on the embedded stores that the
//! local server and `cargo lambda watch` share.

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "embedded")]
pub mod embedded;
