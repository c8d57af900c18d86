//! The domain: companies, plans, seat pools, members, orders, invoices,
//! imports, notices and audit events.

/// The default minimum account size at renewal.
pub const DEFAULT_MIN_SEATS_AT_RENEWAL: u32 = 16;
/// The default length of a premium term.
pub const DEFAULT_TERM_MONTHS: u32 = 12;

mod company;
mod orders;
mod records;
mod seats;
#[cfg(test)]
mod tests;

pub use company::*;
pub use orders::*;
pub use records::*;
pub use seats::*;
