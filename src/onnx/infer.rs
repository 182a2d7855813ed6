//! Static shape inference over engine [`Op`]s, used at import to fold
//! `Shape` nodes (PyTorch's `x.view(x.size(0), -1)`) and to fix batch
//! entries of Reshape targets.
//!
//! Contract: shapes are `Vec<i64>` with the symbolic batch dimension
//! carried as the sentinel [`super::import::BATCH`]; `None` means unknown
//! (an unknown input, an invalid combination, or an overflow). Inference
//! never errors: the engine reports real shape errors at run time.

use super::tensor::{
    broadcast, concat_shape, flatten_shape, reshape_target, squeeze_shape, transpose_perm,
    unsqueeze_shape,
};
use crate::engine::graph::{AutoPad, Window};
use crate::engine::Op;

type S = Vec<i64>;

fn window_out(x: &[i64], w: &Window, ceil_pool: bool) -> Option<Vec<i64>> {
    if x.len() != 4 {
        return None;
    }
    let mut out = Vec::with_capacity(2);
    for i in 0..2 {
        let input = x[2 + i];
        let k = w.kernel[i] as i64;
        let s = (w.strides[i] as i64).max(1);
        let d = w.dilations[i] as i64;
        let eff = (k - 1) * d + 1;
        let o = match w.auto_pad {
            AutoPad::SameUpper | AutoPad::SameLower => (input + s - 1) / s,
            AutoPad::Valid => {
                if input < eff {
                    return None;
                }
                (input - eff) / s + 1
            }
            AutoPad::NotSet => {
                let pb = w.pads[i] as i64;
                let span = input + pb + w.pads[i + 2] as i64 - eff;
                if span < 0 {
                    return None;
                }
                if ceil_pool && w.ceil_mode {
                    let mut o = (span + s - 1) / s + 1;
                    // The last window must start inside the input or the
                    // leading padding (onnxruntime's rule).
                    if (o - 1) * s >= input + pb {
                        o -= 1;
                    }
                    o
                } else {
                    span / s + 1
                }
            }
        };
        out.push(o);
    }
    Some(out)
}

fn matmul(a: &[i64], b: &[i64]) -> Option<S> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a2: S = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: S = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k1) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k1 != k2 {
        return None;
    }
    let mut out = broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2]).ok()?;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Some(out)
}

/// Output shape of `op` given its input shapes (ONNX order).
pub fn infer(op: &Op, ins: &[Option<&S>]) -> Option<S> {
    let x = ins.first().copied().flatten();
    match op {
        Op::Gemm {
            trans_a, trans_b, ..
        } => {
            let (a, b) = (x?, ins.get(1).copied().flatten()?);
            if a.len() != 2 || b.len() != 2 {
                return None;
            }
            let (m, k1) = if *trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
            let (k2, n) = if *trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
            (k1 == k2).then(|| vec![m, n])
        }
        Op::MatMul => matmul(x?, ins.get(1).copied().flatten()?),
        Op::Add | Op::Sub | Op::Mul | Op::Div => broadcast(x?, ins.get(1).copied().flatten()?).ok(),
        Op::Neg
        | Op::Exp
        | Op::Log
        | Op::Sqrt
        | Op::Relu
        | Op::LeakyRelu { .. }
        | Op::Sigmoid
        | Op::Tanh
        | Op::Softmax { .. }
        | Op::LogSoftmax { .. }
        | Op::SoftmaxZero
        | Op::BatchNormalization { .. }
        | Op::Identity
        | Op::Normalizer { .. } => x.cloned(),
        Op::Conv { window, .. } => {
            let (x, w) = (x?, ins.get(1).copied().flatten()?);
            let sp = window_out(x, window, false)?;
            Some(vec![x[0], *w.first()?, sp[0], sp[1]])
        }
        Op::MaxPool { window } | Op::AveragePool { window, .. } => {
            let x = x?;
            let sp = window_out(x, window, true)?;
            Some(vec![x[0], x[1], sp[0], sp[1]])
        }
        Op::GlobalAveragePool => {
            let x = x?;
            if x.len() < 3 {
                return None;
            }
            let mut out = x[..2].to_vec();
            out.resize(x.len(), 1);
            Some(out)
        }
        Op::Flatten { axis } => flatten_shape(x?, *axis).ok(),
        Op::Reshape { shape, allowzero } => reshape_target(x?, shape, *allowzero).ok(),
        Op::Transpose { perm } => {
            let x = x?;
            let p: Option<Vec<i64>> = perm.as_ref().map(|p| p.iter().map(|&a| a as i64).collect());
            let p = transpose_perm(x.len(), p.as_deref()).ok()?;
            Some(p.iter().map(|&a| x[a]).collect())
        }
        Op::Squeeze { axes } => squeeze_shape(x?, axes.as_deref()).ok(),
        Op::Unsqueeze { axes } => unsqueeze_shape(x?, axes).ok(),
        Op::Svm(m) => Some(vec![x?.first().copied()?, m.output_width() as i64]),
        Op::TreeEnsemble(m) => Some(vec![x?.first().copied()?, m.output_width() as i64]),
        Op::Concat { axis } => {
            let all: Option<Vec<&[i64]>> = ins.iter().map(|s| s.map(|v| v.as_slice())).collect();
            concat_shape(&all?, *axis).ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn win(k: usize, p: usize, s: usize, ceil: bool) -> Window {
        Window {
            kernel: [k, k],
            pads: [p, p, p, p],
            strides: [s, s],
            dilations: [1, 1],
            auto_pad: AutoPad::NotSet,
            ceil_mode: ceil,
        }
    }

    #[test]
    fn conv_and_pool_shapes() {
        let x = vec![7, 1, 8, 8];
        let w = vec![4, 1, 3, 3];
        let conv = Op::Conv {
            window: win(3, 1, 1, false),
            group: 1,
        };
        assert_eq!(infer(&conv, &[Some(&x), Some(&w)]), Some(vec![7, 4, 8, 8]));
        let pool = Op::MaxPool {
            window: win(2, 0, 2, false),
        };
        assert_eq!(
            infer(&pool, &[Some(&vec![7, 4, 8, 8])]),
            Some(vec![7, 4, 4, 4])
        );
        let pool = Op::MaxPool {
            window: win(2, 0, 2, true),
        };
        assert_eq!(
            infer(&pool, &[Some(&vec![7, 4, 5, 5])]),
            Some(vec![7, 4, 3, 3])
        );
        let pool = Op::MaxPool {
            window: win(2, 0, 2, false),
        };
        assert_eq!(
            infer(&pool, &[Some(&vec![7, 4, 5, 5])]),
            Some(vec![7, 4, 2, 2])
        );
    }

    #[test]
    fn gemm_matmul_shapes() {
        let g = Op::Gemm {
            alpha: 1.0,
            beta: 1.0,
            trans_a: false,
            trans_b: true,
        };
        assert_eq!(
            infer(&g, &[Some(&vec![9, 5]), Some(&vec![8, 5])]),
            Some(vec![9, 8])
        );
        assert_eq!(infer(&g, &[Some(&vec![9, 5]), Some(&vec![5, 8])]), None);
        assert_eq!(
            infer(&Op::MatMul, &[Some(&vec![9, 5]), Some(&vec![5])]),
            Some(vec![9])
        );
        assert_eq!(
            infer(&Op::MatMul, &[Some(&vec![2, 9, 5]), Some(&vec![5, 3])]),
            Some(vec![2, 9, 3])
        );
    }
}
