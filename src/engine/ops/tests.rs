//! Tests of every operator: forward golden values from onnxruntime (see
//! golden.rs for the generating script), small hand-computed cases, shape
//! errors that must not panic, and a finite-difference check of every
//! backward pass for every differentiable input.

use super::super::graph::{AutoPad, Norm, Window};
use super::super::{EngineError, Op, Tensor};
use super::golden::CASES;
use super::{backward, forward};
use ndarray::{arr1, arr2, ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// ---------------------------------------------------------------- helpers

/// `scale * sin(a * i + b) + offset` in f64, rounded to f32 (the same
/// formula as gen_golden.py).
fn seq(shape: &[usize], a: f64, b: f64, scale: f64, offset: f64) -> Tensor {
    let n: usize = shape.iter().product();
    let v = (0..n)
        .map(|i| (scale * (a * i as f64 + b).sin() + offset) as f32)
        .collect();
    Tensor::from_shape_vec(IxDyn(shape), v).unwrap()
}

fn t(shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_shape_vec(IxDyn(shape), v.to_vec()).unwrap()
}

/// Uniform in (-1, 1).
fn rand_t(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    t(
        shape,
        &(0..n).map(|_| rng.gen_range(-1.0..1.0)).collect::<Vec<_>>(),
    )
}

/// Uniform in [lo, hi) with a random sign.
fn rand_away(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let m = rng.gen_range(lo..hi);
            if rng.gen_bool(0.5) {
                m
            } else {
                -m
            }
        })
        .collect();
    t(shape, &v)
}

/// Uniform in [lo, hi).
fn rand_pos(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    t(
        shape,
        &(0..n).map(|_| rng.gen_range(lo..hi)).collect::<Vec<_>>(),
    )
}

/// Distinct values 0.1 apart in random order (no ties within 2 * FD eps,
/// so max-like ops are smooth under the finite-difference perturbation).
fn rand_distinct(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.1).collect();
    for i in (1..n).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
    t(shape, &v)
}

fn fwd(op: &Op, inputs: &[&Tensor]) -> Tensor {
    forward(op, inputs).unwrap_or_else(|e| panic!("{} forward failed: {e}", op.name()))
}

#[track_caller]
fn assert_close(got: &Tensor, shape: &[usize], want: &[f32], tol: f32) {
    assert_eq!(got.shape(), shape, "shape");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "element {i}: got {g}, want {w}\n got {got:?}"
        );
    }
}

fn window(kernel: [usize; 2]) -> Window {
    Window {
        kernel,
        pads: [0; 4],
        strides: [1, 1],
        dilations: [1, 1],
        auto_pad: AutoPad::NotSet,
        ceil_mode: false,
    }
}

fn win(
    kernel: [usize; 2],
    pads: [usize; 4],
    strides: [usize; 2],
    dilations: [usize; 2],
    auto_pad: AutoPad,
    ceil_mode: bool,
) -> Window {
    Window {
        kernel,
        pads,
        strides,
        dilations,
        auto_pad,
        ceil_mode,
    }
}

/// Central finite differences of `loss = sum(forward(inputs) * r)` against
/// `backward`, for every input (those in `none_inputs` must get `None`)
/// and every element for which `skip(input, flat index)` is false.
#[track_caller]
fn check_grad_with(
    op: &Op,
    inputs: &[Tensor],
    none_inputs: &[usize],
    skip: impl Fn(usize, usize) -> bool,
) -> usize {
    const EPS: f32 = 1e-2;
    const ATOL: f64 = 2e-3;
    const RTOL: f64 = 1e-2;
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let out = fwd(op, &refs);
    let r = rand_t(out.shape(), 99);
    let loss = |ins: &[Tensor]| -> f64 {
        let refs: Vec<&Tensor> = ins.iter().collect();
        let y = fwd(op, &refs);
        y.iter()
            .zip(r.iter())
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum()
    };
    let grads = backward(op, &refs, &out, &r)
        .unwrap_or_else(|e| panic!("{} backward failed: {e}", op.name()));
    assert_eq!(
        grads.len(),
        inputs.len(),
        "{}: one gradient per input",
        op.name()
    );
    let mut checked = 0;
    for (k, g) in grads.iter().enumerate() {
        if none_inputs.contains(&k) {
            assert!(
                g.is_none(),
                "{}: input {k} should have no gradient",
                op.name()
            );
            continue;
        }
        let g = g
            .as_ref()
            .unwrap_or_else(|| panic!("{}: input {k} has no gradient", op.name()));
        assert_eq!(
            g.shape(),
            inputs[k].shape(),
            "{}: gradient {k} shape",
            op.name()
        );
        let gs: Vec<f32> = g.iter().copied().collect();
        for (idx, &an) in gs.iter().enumerate() {
            if skip(k, idx) {
                continue;
            }
            let mut plus = inputs.to_vec();
            let mut minus = inputs.to_vec();
            let x0 = inputs[k].as_slice().unwrap()[idx];
            let (xp, xm) = (x0 + EPS, x0 - EPS);
            plus[k].as_slice_mut().unwrap()[idx] = xp;
            minus[k].as_slice_mut().unwrap()[idx] = xm;
            let fd = (loss(&plus) - loss(&minus)) / (xp as f64 - xm as f64);
            let an = an as f64;
            assert!(
                (fd - an).abs() <= ATOL + RTOL * fd.abs().max(an.abs()),
                "{:?}: d loss / d input {k}[{idx}]: backward {an}, finite difference {fd}",
                op
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "{}: nothing was checked", op.name());
    checked
}

#[track_caller]
fn check_grad(op: &Op, inputs: &[Tensor]) -> usize {
    check_grad_with(op, inputs, &[], |_, _| false)
}

// ---------------------------------------------------------- golden values

fn golden_op(name: &str) -> Option<Op> {
    let ws = |kernel, pads, strides, dil| win(kernel, pads, strides, dil, AutoPad::NotSet, false);
    Some(match name {
        "gemm_tt_c" => Op::Gemm {
            alpha: 0.5,
            beta: 2.0,
            trans_a: true,
            trans_b: true,
        },
        "gemm_nn_c2d" => Op::Gemm {
            alpha: 1.5,
            beta: -1.0,
            trans_a: false,
            trans_b: false,
        },
        "matmul_batch" | "matmul_1d_left" | "matmul_1d_right" => Op::MatMul,
        "add_bcast" => Op::Add,
        "sub_bcast" => Op::Sub,
        "mul_bcast" => Op::Mul,
        "div_bcast" => Op::Div,
        "neg" => Op::Neg,
        "exp" => Op::Exp,
        "relu" => Op::Relu,
        "sigmoid" => Op::Sigmoid,
        "tanh" => Op::Tanh,
        "log" => Op::Log,
        "sqrt" => Op::Sqrt,
        "leakyrelu" => Op::LeakyRelu { alpha: 0.1 },
        "softmax13_axis1" => Op::Softmax {
            axis: 1,
            coerce_2d: false,
        },
        "softmax11_axis1" => Op::Softmax {
            axis: 1,
            coerce_2d: true,
        },
        "softmax11_default" => Op::Softmax {
            axis: 1,
            coerce_2d: true,
        },
        "logsoftmax11_axis1" => Op::LogSoftmax {
            axis: 1,
            coerce_2d: true,
        },
        "logsoftmax13_axis0" => Op::LogSoftmax {
            axis: 0,
            coerce_2d: false,
        },
        "softmax_zero" => Op::SoftmaxZero,
        "normalizer_max" => Op::Normalizer { norm: Norm::Max },
        "normalizer_l1" => Op::Normalizer { norm: Norm::L1 },
        "normalizer_l2" => Op::Normalizer { norm: Norm::L2 },
        "conv_pads_strides_dil" => Op::Conv {
            window: ws([3, 2], [1, 0, 2, 1], [2, 1], [1, 2]),
            group: 1,
        },
        "conv_group" => Op::Conv {
            window: ws([3, 3], [1, 1, 1, 1], [2, 2], [1, 1]),
            group: 2,
        },
        "conv_same_upper" => Op::Conv {
            window: win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameUpper, false),
            group: 1,
        },
        "conv_same_lower" => Op::Conv {
            window: win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameLower, false),
            group: 1,
        },
        "conv_valid" => Op::Conv {
            window: win([3, 2], [0; 4], [1, 2], [1, 1], AutoPad::Valid, false),
            group: 1,
        },
        "maxpool_ceil" => Op::MaxPool {
            window: win([3, 3], [1, 1, 1, 1], [2, 2], [1, 1], AutoPad::NotSet, true),
        },
        "maxpool_ceil_drop" => Op::MaxPool {
            window: win([3, 3], [0, 0, 1, 1], [3, 3], [1, 1], AutoPad::NotSet, true),
        },
        "maxpool_dil" => Op::MaxPool {
            window: ws([2, 2], [0, 1, 1, 0], [1, 2], [2, 1]),
        },
        "maxpool_same_upper" => Op::MaxPool {
            window: win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameUpper, false),
        },
        "avgpool_ceil_exclude" => Op::AveragePool {
            window: win([3, 3], [1, 1, 1, 1], [2, 2], [1, 1], AutoPad::NotSet, true),
            count_include_pad: false,
        },
        "avgpool_ceil_include" => Op::AveragePool {
            window: win([3, 3], [1, 1, 1, 1], [2, 2], [1, 1], AutoPad::NotSet, true),
            count_include_pad: true,
        },
        "avgpool_pads_include" => Op::AveragePool {
            window: ws([2, 3], [1, 0, 0, 2], [1, 2], [1, 1]),
            count_include_pad: true,
        },
        "avgpool_same_lower" => Op::AveragePool {
            window: win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameLower, false),
            count_include_pad: false,
        },
        "globalavgpool" => Op::GlobalAveragePool,
        "batchnorm" => Op::BatchNormalization { epsilon: 1e-3 },
        _ => return None,
    })
}

#[test]
fn forward_matches_onnxruntime_golden_values() {
    assert!(CASES.len() >= 40);
    for case in CASES {
        let op =
            golden_op(case.name).unwrap_or_else(|| panic!("no op for golden case {}", case.name));
        let mut inputs: Vec<Tensor> = case
            .inputs
            .iter()
            .map(|&(shape, a, b, scale, offset)| seq(shape, a, b, scale, offset))
            .collect();
        for &z in case.zeros {
            inputs[0].as_slice_mut().unwrap()[z] = 0.0;
        }
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let y = forward(&op, &refs).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(y.shape(), case.out_shape, "{}: output shape", case.name);
        for (i, (&got, &want)) in y.iter().zip(case.out).enumerate() {
            // onnxruntime divides an all-zero SOFTMAX_ZERO row by zero (NaN);
            // the engine returns zeros there.
            let want = if want.is_nan() { 0.0 } else { want };
            assert!(
                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{}: element {i}: got {got}, onnxruntime {want}",
                case.name
            );
        }
    }
}

// ------------------------------------------------------ hand-computed cases

#[test]
fn gemm_and_matmul_by_hand() {
    let a = t(&[2, 2], &[1., 2., 3., 4.]);
    let b = t(&[2, 2], &[5., 6., 7., 8.]);
    let c = t(&[2], &[10., 20.]);
    let op = Op::Gemm {
        alpha: 1.0,
        beta: 1.0,
        trans_a: false,
        trans_b: true,
    };
    // A B^T = [[17, 23], [39, 53]] + C
    assert_close(
        &fwd(&op, &[&a, &b, &c]),
        &[2, 2],
        &[27., 43., 49., 73.],
        0.0,
    );
    // 1-D x 1-D is a scalar
    let u = t(&[3], &[1., 2., 3.]);
    let v = t(&[3], &[4., 5., 6.]);
    assert_close(&fwd(&Op::MatMul, &[&u, &v]), &[], &[32.], 0.0);
}

#[test]
fn softmax_coerce_2d_differs_from_single_axis() {
    // [1, 2, 2]: opset 13 normalises each column of the 2x2 over axis 1;
    // opset 11 normalises all four values together.
    let x = t(&[1, 2, 2], &[0., 0., 0., 0.]);
    let y13 = fwd(
        &Op::Softmax {
            axis: 1,
            coerce_2d: false,
        },
        &[&x],
    );
    let y11 = fwd(
        &Op::Softmax {
            axis: 1,
            coerce_2d: true,
        },
        &[&x],
    );
    assert_close(&y13, &[1, 2, 2], &[0.5; 4], 1e-7);
    assert_close(&y11, &[1, 2, 2], &[0.25; 4], 1e-7);
    // large logits stay finite
    let big = t(&[1, 3], &[1000., 1000., -1000.]);
    let y = fwd(
        &Op::LogSoftmax {
            axis: -1,
            coerce_2d: false,
        },
        &[&big],
    );
    assert_close(
        &y,
        &[1, 3],
        &[
            -std::f32::consts::LN_2,
            -std::f32::consts::LN_2,
            -2000.0 - std::f32::consts::LN_2,
        ],
        1e-6,
    );
}

#[test]
fn shape_ops_by_hand() {
    let x = seq(&[2, 3, 4], 1.0, 0.0, 1.0, 0.0);
    let flat: Vec<f32> = x.iter().copied().collect();
    let y = fwd(&Op::Flatten { axis: -1 }, &[&x]);
    assert_close(&y, &[6, 4], &flat, 0.0);
    let y = fwd(&Op::Flatten { axis: 0 }, &[&x]);
    assert_close(&y, &[1, 24], &flat, 0.0);
    let y = fwd(
        &Op::Reshape {
            shape: vec![0, -1],
            allowzero: false,
        },
        &[&x],
    );
    assert_close(&y, &[2, 12], &flat, 0.0);
    let y = fwd(
        &Op::Reshape {
            shape: vec![4, 0, 2],
            allowzero: false,
        },
        &[&x],
    );
    assert_close(&y, &[4, 3, 2], &flat, 0.0);
    let z = Tensor::zeros(IxDyn(&[0, 3]));
    let y = fwd(
        &Op::Reshape {
            shape: vec![3, 0],
            allowzero: true,
        },
        &[&z],
    );
    assert_eq!(y.shape(), &[3, 0]);

    let m = arr2(&[[1., 2., 3.], [4., 5., 6.]]).into_dyn();
    let y = fwd(&Op::Transpose { perm: None }, &[&m]);
    assert_close(&y, &[3, 2], &[1., 4., 2., 5., 3., 6.], 0.0);
    let y = fwd(
        &Op::Transpose {
            perm: Some(vec![2, 0, 1]),
        },
        &[&x],
    );
    assert_eq!(y.shape(), &[4, 2, 3]);
    assert_eq!(y[[3, 1, 2]], x[[1, 2, 3]]);

    let s = Tensor::zeros(IxDyn(&[1, 3, 1, 2]));
    assert_eq!(fwd(&Op::Squeeze { axes: None }, &[&s]).shape(), &[3, 2]);
    assert_eq!(
        fwd(
            &Op::Squeeze {
                axes: Some(vec![-2])
            },
            &[&s]
        )
        .shape(),
        &[1, 3, 2]
    );
    assert_eq!(
        fwd(&Op::Unsqueeze { axes: vec![0, -1] }, &[&m]).shape(),
        &[1, 2, 3, 1]
    );
    assert_eq!(
        fwd(&Op::Unsqueeze { axes: vec![1] }, &[&m]).shape(),
        &[2, 1, 3]
    );

    let a = arr2(&[[1., 2.]]).into_dyn();
    let b = arr2(&[[3., 4.], [5., 6.]]).into_dyn();
    let y = fwd(&Op::Concat { axis: 0 }, &[&a, &b]);
    assert_close(&y, &[3, 2], &[1., 2., 3., 4., 5., 6.], 0.0);
    let y = fwd(&Op::Concat { axis: -1 }, &[&b, &b]);
    assert_close(&y, &[2, 4], &[3., 4., 3., 4., 5., 6., 5., 6.], 0.0);
    assert_close(&fwd(&Op::Identity, &[&a]), &[1, 2], &[1., 2.], 0.0);
}

#[test]
fn pools_by_hand() {
    // 1x1x3x3 = 1..9; 2x2 max pool, stride 1, no padding.
    let x = t(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    let y = fwd(
        &Op::MaxPool {
            window: window([2, 2]),
        },
        &[&x],
    );
    assert_close(&y, &[1, 1, 2, 2], &[5., 6., 8., 9.], 0.0);
    // Negative input with padding: padding never wins the max.
    let neg = x.mapv(|v| -v);
    let w = win([2, 2], [1, 1, 1, 1], [2, 2], [1, 1], AutoPad::NotSet, false);
    let y = fwd(&Op::MaxPool { window: w.clone() }, &[&neg]);
    assert_close(&y, &[1, 1, 2, 2], &[-1., -2., -4., -5.], 0.0);
    // Average with padding: exclude pad divides by the in-image count,
    // include pad by the full window (4).
    let ex = fwd(
        &Op::AveragePool {
            window: w.clone(),
            count_include_pad: false,
        },
        &[&x],
    );
    assert_close(&ex, &[1, 1, 2, 2], &[1., 2.5, 5.5, 7.], 1e-7);
    let inc = fwd(
        &Op::AveragePool {
            window: w,
            count_include_pad: true,
        },
        &[&x],
    );
    assert_close(&inc, &[1, 1, 2, 2], &[0.25, 1.25, 2.75, 7.], 1e-7);
    let g = fwd(&Op::GlobalAveragePool, &[&x]);
    assert_close(&g, &[1, 1, 1, 1], &[5.], 1e-7);
    // MaxPool backward on ties goes to the first maximum.
    let tie = t(&[1, 1, 2, 2], &[3., 3., 3., 3.]);
    let op = Op::MaxPool {
        window: window([2, 2]),
    };
    let out = fwd(&op, &[&tie]);
    let gx = backward(&op, &[&tie], &out, &t(&[1, 1, 1, 1], &[1.])).unwrap();
    assert_close(
        gx[0].as_ref().unwrap(),
        &[1, 1, 2, 2],
        &[1., 0., 0., 0.],
        0.0,
    );
}

#[test]
fn normalizer_and_softmax_zero_by_hand() {
    let x = arr2(&[[1., -3., 2.], [0., 0., 0.]]).into_dyn();
    let y = fwd(&Op::Normalizer { norm: Norm::Max }, &[&x]);
    assert_close(&y, &[2, 3], &[0.5, -1.5, 1., 0., 0., 0.], 1e-7);
    let y = fwd(&Op::Normalizer { norm: Norm::L1 }, &[&x]);
    assert_close(&y, &[2, 3], &[1. / 6., -0.5, 1. / 3., 0., 0., 0.], 1e-6);
    let y = fwd(&Op::Normalizer { norm: Norm::L2 }, &[&x]);
    let n = 14f32.sqrt();
    assert_close(&y, &[2, 3], &[1. / n, -3. / n, 2. / n, 0., 0., 0.], 1e-6);
    // zeros stay zero, the rest is a softmax of the non-zero entries
    let x = arr1(&[0., 1., 0., 1.]).into_dyn();
    let y = fwd(&Op::SoftmaxZero, &[&x]);
    assert_close(&y, &[4], &[0., 0.5, 0., 0.5], 1e-7);
}

// ---------------------------------------------------------------- errors

#[track_caller]
fn assert_op_err(op: &Op, inputs: &[&Tensor], needle: &str) {
    match forward(op, inputs) {
        Err(EngineError::Op {
            op: name, message, ..
        }) => {
            assert_eq!(name, op.name());
            assert!(
                message.contains(needle),
                "{}: message {message:?} lacks {needle:?}",
                op.name()
            );
        }
        other => panic!("{}: expected an error, got {other:?}", op.name()),
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let a23 = Tensor::zeros(IxDyn(&[2, 3]));
    let a4 = Tensor::zeros(IxDyn(&[4]));
    let a34 = Tensor::zeros(IxDyn(&[3, 4]));
    let a24 = Tensor::zeros(IxDyn(&[2, 4]));
    assert_op_err(&Op::Add, &[&a23, &a4], "[2, 3] and [4]");
    assert_op_err(&Op::Add, &[&a23], "expects 2 inputs, got 1");
    assert_op_err(&Op::MatMul, &[&a23, &a24], "inner dimensions 3 and 2");
    let gemm = Op::Gemm {
        alpha: 1.0,
        beta: 1.0,
        trans_a: false,
        trans_b: false,
    };
    assert_op_err(&gemm, &[&a23, &a24], "inner dimensions 3 and 2");
    assert_op_err(
        &gemm,
        &[&a23, &a34, &a23],
        "[2, 3] does not broadcast to [2, 4]",
    );
    assert_op_err(&gemm, &[&a4, &a34], "A must be 2-D");
    let conv = Op::Conv {
        window: window([3, 3]),
        group: 1,
    };
    let x = Tensor::zeros(IxDyn(&[1, 2, 5, 5]));
    let w_bad = Tensor::zeros(IxDyn(&[4, 3, 3, 3]));
    assert_op_err(&conv, &[&x, &w_bad], "[4, 3, 3, 3]");
    assert_op_err(&conv, &[&a23, &w_bad], "4-D");
    let w = Tensor::zeros(IxDyn(&[4, 2, 3, 3]));
    assert_op_err(&conv, &[&x, &w, &Tensor::zeros(IxDyn(&[3]))], "bias");
    let grouped = Op::Conv {
        window: window([3, 3]),
        group: 3,
    };
    assert_op_err(&grouped, &[&x, &w], "group 3");
    let big = Op::MaxPool {
        window: window([7, 7]),
    };
    assert_op_err(&big, &[&x], "smaller than the dilated kernel 7");
    let bn = Op::BatchNormalization { epsilon: 1e-5 };
    assert_op_err(&bn, &[&x, &a4, &a4, &a4, &a4], "expected [2]");
    assert_op_err(
        &Op::Reshape {
            shape: vec![5, -1],
            allowzero: false,
        },
        &[&a23],
        "cannot infer",
    );
    assert_op_err(
        &Op::Reshape {
            shape: vec![-1, -1],
            allowzero: false,
        },
        &[&a23],
        "more than one -1",
    );
    assert_op_err(
        &Op::Transpose {
            perm: Some(vec![0, 0]),
        },
        &[&a23],
        "not a permutation",
    );
    assert_op_err(
        &Op::Squeeze {
            axes: Some(vec![0]),
        },
        &[&a23],
        "size 2, not 1",
    );
    assert_op_err(&Op::Unsqueeze { axes: vec![0, 0] }, &[&a23], "twice");
    assert_op_err(&Op::Concat { axis: 0 }, &[&a23, &a24], "differ off axis 0");
    assert_op_err(&Op::Concat { axis: 2 }, &[&a23, &a23], "out of range");
    assert_op_err(
        &Op::Softmax {
            axis: 2,
            coerce_2d: false,
        },
        &[&a23],
        "out of range",
    );
    assert_op_err(&Op::Flatten { axis: 3 }, &[&a23], "out of range");
    // sizes from an untrusted file: too large or overflowing, never a panic
    let tall = Tensor::zeros(IxDyn(&[100_000, 1]));
    let wide = Tensor::zeros(IxDyn(&[100_000]));
    assert!(matches!(
        forward(&Op::Add, &[&tall, &wide]),
        Err(EngineError::TooLarge {
            elements: 10_000_000_000,
            ..
        })
    ));
    let col = Tensor::zeros(IxDyn(&[20_000, 1]));
    let row = Tensor::zeros(IxDyn(&[1, 20_000]));
    assert!(matches!(
        forward(&gemm, &[&col, &row]),
        Err(EngineError::TooLarge { .. })
    ));
    assert!(matches!(
        forward(&Op::MatMul, &[&col, &row]),
        Err(EngineError::TooLarge { .. })
    ));
    assert_op_err(
        &Op::Reshape {
            shape: vec![i64::MAX, 4],
            allowzero: false,
        },
        &[&a23],
        "cannot reshape",
    );
    let huge_pad = Op::MaxPool {
        window: win(
            [2, 2],
            [usize::MAX, 0, usize::MAX, 0],
            [1, 1],
            [1, 1],
            AutoPad::NotSet,
            false,
        ),
    };
    assert_op_err(&huge_pad, &[&x], "exceed");
    let huge_dil = Op::Conv {
        window: win([3, 3], [0; 4], [1, 1], [1 << 27, 1], AutoPad::NotSet, false),
        group: 1,
    };
    assert_op_err(&huge_dil, &[&x, &w], "smaller than the dilated kernel");
    let many = Op::AveragePool {
        window: win(
            [1, 1],
            [1 << 20, 1 << 20, 1 << 20, 1 << 20],
            [1, 1],
            [1, 1],
            AutoPad::NotSet,
            false,
        ),
        count_include_pad: true,
    };
    assert!(matches!(
        forward(&many, &[&x]),
        Err(EngineError::TooLarge { .. })
    ));
    // backward with a gradient of the wrong shape
    let out = fwd(&Op::Relu, &[&a23]);
    assert!(backward(&Op::Relu, &[&a23], &out, &a24).is_err());
}

// -------------------------------------------------- gradient checks

#[test]
fn grad_binary_broadcasting() {
    let shapes: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[3, 4]),
        (&[3, 4], &[4]),
        (&[2, 3, 1], &[4]),
        (&[3, 1], &[2, 1, 4]),
        (&[], &[2, 3]),
        (&[2, 3], &[1]),
        (&[2, 1, 3], &[2, 4, 1]),
    ];
    for (i, &(sa, sb)) in shapes.iter().enumerate() {
        let a = rand_t(sa, i as u64);
        let b = rand_t(sb, 100 + i as u64);
        check_grad(&Op::Add, &[a.clone(), b.clone()]);
        check_grad(&Op::Sub, &[a.clone(), b.clone()]);
        check_grad(&Op::Mul, &[a.clone(), b.clone()]);
        let b_away = rand_away(sb, 200 + i as u64, 0.5, 2.0);
        check_grad(&Op::Div, &[a, b_away]);
    }
}

#[test]
fn grad_unary() {
    let x = rand_t(&[3, 5], 1);
    for op in [Op::Neg, Op::Exp, Op::Sigmoid, Op::Tanh] {
        check_grad(&op, std::slice::from_ref(&x));
    }
    let away = rand_away(&[3, 5], 2, 0.1, 2.0);
    check_grad(&Op::Relu, std::slice::from_ref(&away));
    check_grad(&Op::LeakyRelu { alpha: 0.2 }, &[away]);
    let pos = rand_pos(&[3, 5], 3, 0.5, 2.0);
    check_grad(&Op::Log, std::slice::from_ref(&pos));
    check_grad(&Op::Sqrt, &[pos]);
}

#[test]
fn grad_gemm_all_transposes_and_c_shapes() {
    let (m, k, n) = (3, 4, 2);
    let c_shapes: &[Option<&[usize]>] =
        &[None, Some(&[]), Some(&[n]), Some(&[m, 1]), Some(&[m, n])];
    let mut seed = 0;
    for trans_a in [false, true] {
        for trans_b in [false, true] {
            for &cs in c_shapes {
                seed += 1;
                let sa = if trans_a { [k, m] } else { [m, k] };
                let sb = if trans_b { [n, k] } else { [k, n] };
                let a = rand_t(&sa, seed);
                let b = rand_t(&sb, 50 + seed);
                let mut inputs = vec![a, b];
                if let Some(cs) = cs {
                    inputs.push(rand_t(cs, 90 + seed));
                }
                let op = Op::Gemm {
                    alpha: 0.7,
                    beta: -1.3,
                    trans_a,
                    trans_b,
                };
                let y = fwd(&op, &inputs.iter().collect::<Vec<_>>());
                assert_eq!(y.shape(), &[m, n]);
                check_grad(&op, &inputs);
            }
        }
    }
}

#[test]
fn grad_matmul() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[5, 3], &[3, 4]),
        (&[2, 5, 3], &[3, 4]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
        (&[3, 4], &[2, 4, 2]),
        (&[4], &[2, 4, 3]),
        (&[2, 3, 4], &[4]),
        (&[4], &[4]),
    ];
    for (i, &(sa, sb)) in cases.iter().enumerate() {
        check_grad(
            &Op::MatMul,
            &[rand_t(sa, i as u64), rand_t(sb, 10 + i as u64)],
        );
    }
}

#[test]
fn grad_softmax_family() {
    let x = rand_t(&[2, 3, 4], 7).mapv(|v| 2.0 * v);
    for axis in [0, 1, 2, -1, -2] {
        for coerce_2d in [false, true] {
            check_grad(&Op::Softmax { axis, coerce_2d }, std::slice::from_ref(&x));
            check_grad(
                &Op::LogSoftmax { axis, coerce_2d },
                std::slice::from_ref(&x),
            );
        }
    }
    // SoftmaxZero: entries that are exactly zero are not perturbed (the
    // operator is discontinuous there).
    let mut z = rand_t(&[3, 5], 8);
    for i in [1, 4, 7, 8] {
        z.as_slice_mut().unwrap()[i] = 0.0;
    }
    let zeros = z.clone();
    let n = check_grad_with(&Op::SoftmaxZero, &[z], &[], |_, i| {
        zeros.as_slice().unwrap()[i] == 0.0
    });
    assert_eq!(n, 11);
}

#[test]
fn grad_normalizer() {
    // rows well away from a zero maximum / zero entries
    let x = rand_distinct(&[3, 5], 9).mapv(|v| v + 1.0);
    for norm in [Norm::Max, Norm::L1, Norm::L2] {
        check_grad(&Op::Normalizer { norm }, std::slice::from_ref(&x));
    }
    // a row whose max is negative
    let neg = rand_distinct(&[2, 4], 10).mapv(|v| v - 1.0);
    check_grad(&Op::Normalizer { norm: Norm::Max }, &[neg]);
}

#[test]
fn grad_conv() {
    let configs: Vec<(Window, usize, [usize; 4], usize, bool)> = vec![
        // window, group, x shape, out channels, bias
        (window([3, 3]), 1, [2, 2, 5, 5], 3, true),
        (
            win([3, 2], [1, 0, 2, 1], [2, 1], [1, 2], AutoPad::NotSet, false),
            1,
            [1, 2, 7, 6],
            3,
            true,
        ),
        (
            win([3, 3], [1, 1, 1, 1], [2, 2], [1, 1], AutoPad::NotSet, false),
            2,
            [2, 4, 5, 5],
            6,
            true,
        ),
        (
            win([3, 3], [2, 1, 0, 1], [1, 2], [2, 1], AutoPad::NotSet, false),
            3,
            [1, 3, 6, 5],
            3,
            false,
        ),
        (
            win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameUpper, false),
            1,
            [1, 1, 5, 6],
            2,
            false,
        ),
        (
            win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameLower, false),
            1,
            [1, 2, 5, 6],
            2,
            true,
        ),
        (
            win([3, 2], [0; 4], [1, 2], [1, 1], AutoPad::Valid, false),
            1,
            [1, 2, 6, 5],
            1,
            true,
        ),
        (window([1, 1]), 1, [2, 3, 2, 2], 4, true),
    ];
    for (i, (w, group, xs, m, bias)) in configs.into_iter().enumerate() {
        let x = rand_t(&xs, i as u64);
        let wt = rand_t(&[m, xs[1] / group, w.kernel[0], w.kernel[1]], 20 + i as u64);
        let mut inputs = vec![x, wt];
        if bias {
            inputs.push(rand_t(&[m], 40 + i as u64));
        }
        check_grad(&Op::Conv { window: w, group }, &inputs);
    }
}

#[test]
fn grad_pools() {
    let windows = vec![
        window([2, 2]),
        win([3, 3], [1, 1, 1, 1], [2, 2], [1, 1], AutoPad::NotSet, true),
        win([3, 3], [0, 0, 1, 1], [3, 3], [1, 1], AutoPad::NotSet, true),
        win([2, 2], [0, 1, 1, 0], [1, 2], [2, 1], AutoPad::NotSet, false),
        win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameUpper, false),
        win([2, 3], [0; 4], [2, 2], [1, 1], AutoPad::SameLower, false),
    ];
    for (i, w) in windows.into_iter().enumerate() {
        let x = rand_distinct(&[2, 2, 6, 7], i as u64);
        check_grad(&Op::MaxPool { window: w.clone() }, std::slice::from_ref(&x));
        for count_include_pad in [false, true] {
            check_grad(
                &Op::AveragePool {
                    window: w.clone(),
                    count_include_pad,
                },
                std::slice::from_ref(&x),
            );
        }
    }
    check_grad(&Op::GlobalAveragePool, &[rand_t(&[2, 3, 4, 5], 11)]);
    check_grad(&Op::GlobalAveragePool, &[rand_t(&[2, 3, 4], 12)]);
}

#[test]
fn grad_batch_norm() {
    let x = rand_t(&[2, 3, 2, 2], 1);
    let scale = rand_t(&[3], 2);
    let b = rand_t(&[3], 3);
    let mean = rand_t(&[3], 4);
    let var = rand_pos(&[3], 5, 0.5, 2.0);
    let op = Op::BatchNormalization { epsilon: 1e-5 };
    check_grad_with(
        &op,
        &[x, scale.clone(), b.clone(), mean.clone(), var.clone()],
        &[3, 4],
        |_, _| false,
    );
    // 2-D input [N, C]
    check_grad_with(
        &op,
        &[rand_t(&[4, 3], 6), scale, b, mean, var],
        &[3, 4],
        |_, _| false,
    );
}

#[test]
fn grad_shape_ops() {
    let x = rand_t(&[2, 3, 4], 1);
    check_grad(&Op::Flatten { axis: 1 }, std::slice::from_ref(&x));
    check_grad(
        &Op::Reshape {
            shape: vec![4, -1],
            allowzero: false,
        },
        std::slice::from_ref(&x),
    );
    check_grad(&Op::Transpose { perm: None }, std::slice::from_ref(&x));
    check_grad(
        &Op::Transpose {
            perm: Some(vec![1, 2, 0]),
        },
        std::slice::from_ref(&x),
    );
    check_grad(&Op::Squeeze { axes: None }, &[rand_t(&[1, 3, 1, 2], 2)]);
    check_grad(
        &Op::Unsqueeze { axes: vec![-1, 0] },
        std::slice::from_ref(&x),
    );
    check_grad(&Op::Identity, std::slice::from_ref(&x));
    check_grad(
        &Op::Concat { axis: 1 },
        &[x.clone(), rand_t(&[2, 1, 4], 3), rand_t(&[2, 2, 4], 4)],
    );
    check_grad(&Op::Concat { axis: -1 }, &[x.clone(), x]);
}

#[test]
fn non_standard_layout_inputs() {
    // A transposed (column-major) view made owned keeps its strides.
    let x = rand_t(&[3, 4], 1);
    let xt: ArrayD<f32> = x.t().to_owned();
    let xt_std = xt.as_standard_layout().into_owned();
    assert!(
        xt.as_slice().is_none(),
        "the test input must be non-standard"
    );
    let b = rand_t(&[3], 2);
    for op in [Op::Add, Op::Mul, Op::Sub, Op::Div] {
        assert_eq!(fwd(&op, &[&xt, &b]), fwd(&op, &[&xt_std, &b]));
        assert_eq!(fwd(&op, &[&xt, &xt]), fwd(&op, &[&xt_std, &xt_std]));
    }
    let sm = Op::Softmax {
        axis: -1,
        coerce_2d: false,
    };
    assert_eq!(fwd(&sm, &[&xt]), fwd(&sm, &[&xt_std]));
    let w = rand_t(&[3, 2], 3);
    assert_eq!(
        fwd(&Op::MatMul, &[&xt, &w]),
        fwd(&Op::MatMul, &[&xt_std, &w])
    );
}

// ------------------------------------------------------------ timing smoke

/// Forward + backward through one layer sequence, returning the output.
fn run_layers(layers: &[(Op, Vec<Tensor>)], x: &Tensor) -> Tensor {
    let mut acts = vec![x.clone()];
    for (op, params) in layers {
        let mut ins: Vec<&Tensor> = vec![acts.last().unwrap()];
        ins.extend(params.iter());
        let y = fwd(op, &ins);
        acts.push(y);
    }
    let mut g = acts.last().unwrap().mapv(|_| 1.0);
    for (i, (op, params)) in layers.iter().enumerate().rev() {
        let mut ins: Vec<&Tensor> = vec![&acts[i]];
        ins.extend(params.iter());
        let gs = backward(op, &ins, &acts[i + 1], &g).unwrap();
        g = gs.into_iter().next().unwrap().unwrap();
    }
    g
}

/// Timings of an MLP (64-128-10, 10,000 rows) and a small CNN. Run with
/// `cargo test --release --lib ops::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn timing_mlp_and_cnn() {
    let mlp = vec![
        (
            Op::Gemm {
                alpha: 1.0,
                beta: 1.0,
                trans_a: false,
                trans_b: true,
            },
            vec![rand_t(&[128, 64], 1), rand_t(&[128], 2)],
        ),
        (Op::Relu, vec![]),
        (Op::MatMul, vec![rand_t(&[128, 10], 3)]),
        (Op::Add, vec![rand_t(&[10], 4)]),
        (
            Op::Softmax {
                axis: -1,
                coerce_2d: false,
            },
            vec![],
        ),
    ];
    let data = rand_t(&[10_000, 64], 5);
    let start = std::time::Instant::now();
    for chunk in data.axis_chunks_iter(ndarray::Axis(0), 128) {
        run_layers(&mlp, &chunk.to_owned());
    }
    println!(
        "MLP 64-128-10, 10k rows, batch 128, fwd+bwd: {:?}",
        start.elapsed()
    );
    let pool = Op::MaxPool {
        window: win([2, 2], [0; 4], [2, 2], [1, 1], AutoPad::NotSet, false),
    };
    let cw = win([3, 3], [1, 1, 1, 1], [1, 1], [1, 1], AutoPad::NotSet, false);
    let cnn = vec![
        (
            Op::Conv {
                window: cw.clone(),
                group: 1,
            },
            vec![rand_t(&[8, 1, 3, 3], 6), rand_t(&[8], 7)],
        ),
        (Op::Relu, vec![]),
        (pool.clone(), vec![]),
        (
            Op::Conv {
                window: cw,
                group: 1,
            },
            vec![rand_t(&[16, 8, 3, 3], 8), rand_t(&[16], 9)],
        ),
        (Op::Relu, vec![]),
        (pool, vec![]),
        (Op::Flatten { axis: 1 }, vec![]),
        (
            Op::Gemm {
                alpha: 1.0,
                beta: 1.0,
                trans_a: false,
                trans_b: true,
            },
            vec![rand_t(&[10, 784], 10), rand_t(&[10], 11)],
        ),
    ];
    let images = rand_t(&[1024, 1, 28, 28], 12);
    let start = std::time::Instant::now();
    for chunk in images.axis_chunks_iter(ndarray::Axis(0), 64) {
        run_layers(&cnn, &chunk.to_owned());
    }
    println!(
        "CNN 28x28 (8, 16 channels), 1024 images, batch 64, fwd+bwd: {:?}",
        start.elapsed()
    );
}
