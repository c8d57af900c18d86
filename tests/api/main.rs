//! Over HTTP against the local server: the journeys, the edge's promises and
//! the authorisation matrix.

mod helpers;
mod journeys;
