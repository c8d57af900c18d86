//! Stand-ins for API Gateway off AWS. Each hands the pipeline a request as
//! API Gateway would, claims in the authorizer's context included.

#[cfg(feature = "local")]
pub mod local_event;
#[cfg(feature = "watch")]
pub mod watch;
