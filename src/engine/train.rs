//! Training fresh copies of a graph (to be written).

use super::{EngineError, Graph};

/// Whether the graph can be trained, and if not, why.
pub fn check_trainable(graph: &Graph) -> Result<(), EngineError> {
    let _ = graph;
    Ok(())
}
