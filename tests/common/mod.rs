//! Shared helpers for the integration tests: hand-built graphs and data.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use privacy_inspector::engine::{
    Dim, Graph, Input, Node, Op, OutputKind, Param, ParamRole, ParamSet, Tensor,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 2-layer MLP `features -> hidden (relu) -> classes (softmax)` built by
/// hand (MatMul + Add, as PyTorch/Keras exports look), with random weights.
pub fn mlp(features: usize, hidden: usize, classes: usize, seed: u64) -> (Graph, ParamSet) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rand = |shape: &[usize]| {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.gen_range(-0.5f32..0.5))
    };
    let params = vec![
        rand(&[features, hidden]),
        rand(&[hidden]),
        rand(&[hidden, classes]),
        rand(&[classes]),
    ];
    let p = |name: &str, value, role| Param {
        name: name.into(),
        value,
        role,
    };
    let node = |op: Op, inputs: Vec<usize>, output| Node {
        name: format!("n{output}"),
        source_op: op.name().into(),
        op,
        inputs,
        output,
    };
    let graph = Graph {
        value_names: (0..11).map(|i| format!("v{i}")).collect(),
        input: Input {
            name: "x".into(),
            value: 0,
            shape: vec![Dim::Symbolic("N".into()), Dim::Fixed(features)],
        },
        params: vec![
            p(
                "W1",
                1,
                ParamRole::Weight {
                    fan_in: features,
                    fan_out: hidden,
                },
            ),
            p("b1", 2, ParamRole::Bias),
            p(
                "W2",
                3,
                ParamRole::Weight {
                    fan_in: hidden,
                    fan_out: classes,
                },
            ),
            p("b2", 4, ParamRole::Bias),
        ],
        nodes: vec![
            node(Op::MatMul, vec![0, 1], 5),
            node(Op::Add, vec![5, 2], 6),
            node(Op::Relu, vec![6], 7),
            node(Op::MatMul, vec![7, 3], 8),
            node(Op::Add, vec![8, 4], 9),
            node(
                Op::Softmax {
                    axis: -1,
                    coerce_2d: false,
                },
                vec![9],
                10,
            ),
        ],
        output: 10,
        output_name: "probabilities".into(),
        output_kind: OutputKind::Probabilities,
        opset: 13,
        source_ops: vec![],
    };
    (graph, params)
}

/// `per_class` points around each of `classes` centres in `features` dims.
pub fn blobs(classes: usize, per_class: usize, features: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..classes)
        .map(|_| (0..features).map(|_| rng.gen_range(-3.0f32..3.0)).collect())
        .collect();
    let n = classes * per_class;
    let mut x = Vec::with_capacity(n * features);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % classes;
        for &m in &centres[c] {
            x.push(m + rng.gen_range(-1.0f32..1.0));
        }
        y.push(c);
    }
    (
        Tensor::from_shape_vec(IxDyn(&[n, features]), x).expect("shape"),
        y,
    )
}
