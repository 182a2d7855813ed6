//! generated (placeholder)
