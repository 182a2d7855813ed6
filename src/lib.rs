//! privacy-inspector: a model privacy inspector whose core runs both natively
//! (the `privacy-inspector` CLI) and in the browser (WebAssembly).
//!
//! The crate is a pure core plus one boundary module:
//! - [`onnx`]: protobuf types generated once from `onnx-ml.proto` and the
//!   importer that turns a `ModelProto` into the engine's [`engine::Graph`].
//! - [`engine`]: the graph IR, every operator's forward and backward pass,
//!   reverse-mode autodiff, and training of fresh copies of a graph.
//! - [`data`]: CSV/tabular datasets, validated against a model's input.
//! - [`scan`]: the model-file privacy scan (training records stored in
//!   tensors, personal details in metadata) and the metadata stripper.
//! - [`summary`]: the model summary shown by `inspect` and the page.
//! - [`privacy`]: the RDP accountant of DP-SGD (epsilon, and the noise
//!   multiplier for a target epsilon).
//! - [`guidance`]: findings turned into actions, each with its measured
//!   figure, its user-adjustable threshold and its source.
//! - [`gate`]: `--fail-on` conditions (guidance rules, figure thresholds),
//!   parsed and evaluated on a report.
//! - [`limits`]: every resource limit on untrusted input, with its default
//!   and error code.
//! - [`text`]: untrusted text in messages, escaped and cut ([`text::Shown`]).
//! - [`settings`]: the declared range of every number a user types that
//!   sizes work or memory, and the one check that applies them.
//! - `wasm` (wasm32 only): THE JS boundary. Nothing else imports
//!   wasm-bindgen, js-sys or web-sys.
//!
//! See ARCHITECTURE.md for the codemap, invariants and data flow.

pub mod attacks;
pub mod data;
pub mod engine;
pub mod gate;
pub mod guidance;
pub mod limits;
pub mod onnx;
pub mod privacy;
pub mod report;
pub mod scan;
pub mod settings;
pub mod stats;
pub mod summary;
pub mod text;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The tool version recorded in every summary and report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
