//! ONNX import: protobuf types generated once from the official
//! `onnx-ml.proto` (checked in as `proto.rs`, no protoc at build time) and
//! the importer that turns a `ModelProto` into an engine [`Graph`] with its
//! [`ParamSet`].
//!
//! Contract of [`load`]:
//! - accepts default-domain opsets 9-22 (duplicated opset entries tolerated)
//!   and `ai.onnx.ml` 1-5;
//! - initializers in raw_data, float_data, int64_data or double_data;
//!   external data is an error;
//! - picks the output holding class probabilities or logits (or the one the
//!   caller names), prunes everything the output does not need (label paths:
//!   ArgMax, ArrayFeatureExtractor, int casts), treats ZipMap as identity;
//! - folds shape subgraphs (Shape/Gather/Unsqueeze/Concat/Slice feeding
//!   Reshape, with the symbolic batch kept symbolic) and every all-constant
//!   node at import; Gather/Slice of run-time values become selection
//!   MatMuls;
//! - lowers ai.onnx.ml LinearClassifier / LinearRegressor / Scaler to core
//!   ops with parameters, so they run, differentiate and train like the rest;
//!   SVMClassifier / SVMRegressor and TreeEnsembleClassifier / Regressor to
//!   one engine op each holding the model's data (SVMs differentiate, trees
//!   do not; neither re-trains);
//! - lists every unsupported operator at once (op, node, opset);
//! - enforces size limits and rejects NaN/inf weights.

pub mod error;
pub mod export;
pub mod import;
mod infer;
mod lower;
#[allow(clippy::all, missing_docs, rustdoc::all)]
pub mod proto;
pub mod schema;
pub mod tensor;

pub use error::OnnxError;
pub use import::{load, load_with, ImportOptions};

use crate::engine::{Graph, ParamSet};

/// A loaded model: the pruned graph, its weights and file-level facts.
#[derive(Debug, Clone)]
pub struct Model {
    pub graph: Graph,
    pub params: ParamSet,
    /// Hex SHA-256 of the file bytes.
    pub sha256: String,
    pub file_size: usize,
    pub producer_name: String,
    pub producer_version: String,
    pub ir_version: i64,
    /// Every output the file declares (the chosen one is `graph.output_name`).
    pub declared_outputs: Vec<String>,
}
