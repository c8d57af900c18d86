//! The licence rules the use cases apply, as pure functions: what a new
//! licence is, when seats may be handed out, what an order may ask and what
//! an assigned order does to the pool and the plan.

mod counts;
mod licences;
mod orders;

pub use counts::*;
pub use licences::*;
pub use orders::*;
