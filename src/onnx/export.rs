//! Write trained parameters back into the ONNX file they were imported
//! from, so a model trained by the inspector (the page's teaching mode) is
//! an ordinary ONNX model: downloadable, with its own SHA-256, and loaded by
//! every front door like any other file.
//!
//! Contract: every trainable parameter of the graph must be an initializer
//! of the file's main graph with the same name, FLOAT data type and the same
//! dimensions (true for the importer's parameters of MatMul/Gemm/Conv/Add
//! weights, which are kept as stored). Its data is replaced by the new
//! values (little-endian `raw_data`); nothing else in the file changes except
//! one `metadata_props` entry `key` = `value` (added or replaced) that
//! records how it was trained. Anything that does not fit (a parameter that
//! was folded or transformed at import, a shape mismatch, a non-finite
//! value) is an [`OnnxError::Export`] naming it; nothing is written.

use super::proto::{ModelProto, StringStringEntryProto};
use super::OnnxError;
use crate::engine::{Graph, ParamSet};
use prost::Message;

/// ONNX TensorProto data type FLOAT.
const FLOAT: i32 = 1;

/// The file `bytes` with the graph's trainable parameters replaced by
/// `params` and the metadata entry `key` set to `value`.
pub fn with_params(
    bytes: &[u8],
    graph: &Graph,
    params: &ParamSet,
    key: &str,
    value: &str,
) -> Result<Vec<u8>, OnnxError> {
    let mut model = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    if params.len() != graph.params.len() {
        return Err(OnnxError::Export(format!(
            "{} parameter tensors for a graph with {}",
            params.len(),
            graph.params.len()
        )));
    }
    let g = model.graph.as_mut().ok_or(OnnxError::NoGraph)?;
    for (p, t) in graph.params.iter().zip(params) {
        if !p.trainable() {
            continue;
        }
        let init = g
            .initializer
            .iter_mut()
            .find(|i| i.name.as_deref() == Some(p.name.as_str()))
            .ok_or_else(|| {
                OnnxError::Export(format!(
                    "parameter '{}' is not an initializer of the file (it was derived at import)",
                    crate::text::Shown(&p.name)
                ))
            })?;
        let dims: Vec<i64> = t.shape().iter().map(|&d| d as i64).collect();
        if init.data_type != Some(FLOAT) || init.dims != dims {
            return Err(OnnxError::Export(format!(
                "initializer '{}' is {:?} of data type {}, the trained parameter is {:?} float",
                crate::text::Shown(&p.name),
                init.dims,
                init.data_type.unwrap_or(0),
                dims
            )));
        }
        if let Some(bad) = t.iter().position(|v| !v.is_finite()) {
            return Err(OnnxError::Export(format!(
                "parameter '{}' has a non-finite value at element {bad}",
                crate::text::Shown(&p.name)
            )));
        }
        let mut raw = Vec::with_capacity(t.len() * 4);
        for v in t.iter() {
            raw.extend_from_slice(&v.to_le_bytes());
        }
        init.raw_data = Some(raw);
        init.float_data.clear();
        init.external_data.clear();
        init.data_location = None;
    }
    model
        .metadata_props
        .retain(|e| e.key.as_deref() != Some(key));
    model.metadata_props.push(StringStringEntryProto {
        key: Some(key.to_string()),
        value: Some(value.to_string()),
    });
    Ok(model.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::train::{init_params, train, Optimizer, TrainConfig};
    use crate::engine::Tensor;

    fn fixture(rel: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(rel),
        )
        .unwrap()
    }

    #[test]
    fn trained_parameters_survive_the_round_trip_exactly() {
        let bytes = fixture("torch_mlp_logits.onnx");
        let m = crate::onnx::load(&bytes).unwrap();
        let mut params = init_params(&m.graph, &m.params, 3);
        let x = Tensor::from_shape_fn(ndarray::IxDyn(&[40, 64]), |i| {
            ((i[0] * 7 + i[1]) % 17) as f32 / 17.0
        });
        let y: Vec<usize> = (0..40).map(|i| i % 10).collect();
        let cfg = TrainConfig {
            optimizer: Optimizer::adam(0.01),
            epochs: 3,
            batch_size: 8,
            seed: 3,
            ..TrainConfig::default()
        };
        train(&m.graph, &mut params, &x, &y, &cfg, &mut |_| true).unwrap();
        let out = with_params(&bytes, &m.graph, &params, "trained_by", "test").unwrap();
        let back = crate::onnx::load(&out).unwrap();
        assert_ne!(back.sha256, m.sha256);
        for (a, b) in back.params.iter().zip(&params) {
            assert_eq!(a, b);
        }
        let want = m.graph.forward(&params, &x).unwrap();
        let got = back.graph.forward(&back.params, &x).unwrap();
        assert_eq!(want, got);
        let proto = ModelProto::decode(out.as_slice()).unwrap();
        assert_eq!(
            proto
                .metadata_props
                .iter()
                .filter(|e| e.key.as_deref() == Some("trained_by"))
                .count(),
            1
        );
        // a second export replaces the entry, not adds one
        let again = with_params(&out, &back.graph, &back.params, "trained_by", "again").unwrap();
        let proto = ModelProto::decode(again.as_slice()).unwrap();
        let e: Vec<_> = proto
            .metadata_props
            .iter()
            .filter(|e| e.key.as_deref() == Some("trained_by"))
            .collect();
        assert_eq!((e.len(), e[0].value.as_deref()), (1, Some("again")));
    }

    #[test]
    fn a_parameter_that_does_not_fit_is_refused_by_name() {
        let bytes = fixture("torch_mlp_logits.onnx");
        let m = crate::onnx::load(&bytes).unwrap();
        let mut params = m.params.clone();
        let i = m.graph.params.iter().position(|p| p.trainable()).unwrap();
        params[i] = Tensor::zeros(ndarray::IxDyn(&[3, 3]));
        let e = with_params(&bytes, &m.graph, &params, "k", "v").unwrap_err();
        assert_eq!(e.code(), "export_failed");
        assert!(e.to_string().contains(&m.graph.params[i].name), "{e}");
        params[i] = m.params[i].clone();
        params[i].as_slice_mut().unwrap()[0] = f32::NAN;
        let e = with_params(&bytes, &m.graph, &params, "k", "v").unwrap_err();
        assert!(e.to_string().contains("non-finite"), "{e}");
    }
}
