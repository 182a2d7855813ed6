//! Privacy attacks on a loaded model. `membership` holds the membership
//! inference attacks (one file per attack family); each produces one
//! continuous score per record, higher = more likely a member. Statistics on
//! those scores live in `crate::stats`.

pub mod attribute;
pub mod dp_audit;
pub mod inversion;
pub mod membership;
