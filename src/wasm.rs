//! THE JS boundary (to be written).
