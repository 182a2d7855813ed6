//! Differential-privacy accounting for DP-SGD.
//!
//! - [`accountant`]: the Renyi-DP (RDP) accountant of the Poisson-subsampled
//!   Gaussian mechanism (Mironov, Talwar and Zhang 2019), composed over T
//!   steps and converted to (epsilon, delta)-DP the way Opacus 1.6 does
//!   (Balle et al. 2020, Theorem 21), and its inverse: the noise multiplier
//!   that reaches a target epsilon.
//! - [`one_run`]: the one-run canary audit of Steinke, Nasr and Jagielski
//!   2023: an epsilon lower bound from the guesses on canaries included
//!   with probability 1/2 in one training run.
//!
//! Pure: no clocks, no randomness, no JS. Bad arguments are
//! [`PrivacyError`]s naming the numbers, never panics.

pub mod accountant;
pub mod one_run;

pub use accountant::{
    default_orders, epsilon, noise_multiplier_for, rdp_sgm, rdp_to_epsilon, EpsilonSpent,
    NoiseForTarget,
};

use thiserror::Error;

/// Errors of the privacy accountant.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PrivacyError {
    /// An argument outside its range (the message names it and its value).
    #[error("invalid privacy accounting argument: {0}")]
    InvalidArgument(String),
    /// The target epsilon cannot be reached with any noise multiplier up to
    /// the search limit.
    #[error("{0}")]
    Unreachable(String),
}

impl PrivacyError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            PrivacyError::InvalidArgument(_) => "bad_privacy_argument",
            PrivacyError::Unreachable(_) => "privacy_target_unreachable",
        }
    }
}
