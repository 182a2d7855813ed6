//! The model engine: a small graph IR over `ndarray` f32 tensors, every
//! operator's forward and backward pass, reverse-mode autodiff over the graph,
//! and training of freshly initialised copies of a graph.
//!
//! Contract:
//! - A [`Graph`] is produced by the ONNX importer (`crate::onnx`), already
//!   pruned to the probability/logit output and topologically sorted. It has
//!   exactly one data input whose first dimension is the batch.
//! - Weights live in a [`ParamSet`] separate from the graph, so one graph
//!   serves the target model and any number of reference copies.
//! - [`exec`] runs the graph forward (optionally keeping a tape) and backward,
//!   giving gradients with respect to the input and to every parameter.
//! - [`train`] re-initialises trainable parameters (seeded, fan-in based) and
//!   fits them with minibatch SGD or Adam on cross-entropy.
//!
//! Nothing here knows about JS, files, clocks or OS randomness.

pub mod bench_data;
pub mod error;
pub mod exec;
pub mod graph;
pub mod math;
pub mod ops;
pub mod proba;
pub mod train;

pub use error::EngineError;
pub use exec::{Gradients, Tape};
pub use graph::{Dim, Graph, Input, Node, Op, OutputKind, Param, ParamRole, ParamSet, ValueId};

/// Every tensor in the engine: a dynamically shaped f32 array.
pub type Tensor = ndarray::ArrayD<f32>;
