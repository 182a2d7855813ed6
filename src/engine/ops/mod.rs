//! Forward and backward passes of every operator in [`Op`].
//!
//! Contract (the only interface `exec` uses):
//! - [`forward`]`(op, inputs)` computes the node output from its inputs (in
//!   ONNX input order).
//! - [`backward`]`(op, inputs, output, grad_out)` returns, for each input, the
//!   gradient of the scalar loss with respect to that input (same shape as the
//!   input), given `grad_out` = dLoss/dOutput. `None` means the input is not
//!   differentiable (e.g. BatchNormalization running statistics are treated as
//!   constants) or its gradient is not needed.
//!
//! Broadcasting follows numpy; gradients of broadcast operands are summed back
//! to the operand's shape. Every backward is checked against central finite
//! differences in this module's tests.
//!
//! Shapes come from an untrusted file: every operator validates its inputs
//! and returns [`EngineError::Op`] naming the shapes instead of panicking.
//! Outputs are always in standard (row-major) layout; inputs may have any
//! layout. Errors carry the op name; `exec` fills in the node name.
//!
//! Layout of this module: `elementwise` (broadcast binary ops, unary ops,
//! BatchNormalization), `linalg` (Gemm, MatMul), `softmax` (Softmax,
//! LogSoftmax, SoftmaxZero, Normalizer), `conv` (window geometry, Conv),
//! `pool` (MaxPool, AveragePool, GlobalAveragePool), `shape` (Flatten,
//! Reshape, Transpose, Squeeze, Unsqueeze, Concat, Identity), `svm`
//! (ai.onnx.ml SVMClassifier / SVMRegressor), `tree` (ai.onnx.ml tree
//! ensembles, no gradient, and the leaf each record reaches), `ml_post`
//! (onnxruntime's post transforms).

use super::{EngineError, Op, Tensor};

mod conv;
mod elementwise;
pub(crate) mod gemm;
mod linalg;
pub mod ml_post;
mod pool;
mod shape;
mod softmax;
pub mod svm;
pub mod tree;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

use elementwise::{Binary, Unary};

/// The largest tensor (in elements) an operator may allocate: 2^28 f32 =
/// 1 GiB, a quarter of the wasm32 address space. Shapes come from an
/// untrusted file, so a product of dimensions can be huge or overflow.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// The number of elements of `dims`, or [`EngineError::TooLarge`].
pub(crate) fn checked_len(dims: &[usize]) -> Result<usize, EngineError> {
    let mut n: usize = 1;
    for &d in dims {
        n = n.checked_mul(d).ok_or(EngineError::TooLarge {
            elements: usize::MAX,
            limit: MAX_ELEMENTS,
        })?;
    }
    if n > MAX_ELEMENTS {
        return Err(EngineError::TooLarge {
            elements: n,
            limit: MAX_ELEMENTS,
        });
    }
    Ok(n)
}

/// Checks the number of inputs of `op`.
fn arity(op: &Op, inputs: &[&Tensor], min: usize, max: usize) -> Result<(), EngineError> {
    if inputs.len() < min || inputs.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(EngineError::op(
            op.name(),
            format!("expects {want} inputs, got {}", inputs.len()),
        ));
    }
    Ok(())
}

/// The number of inputs each operator accepts, as (min, max).
fn input_range(op: &Op) -> (usize, usize) {
    match op {
        Op::Gemm { .. } => (2, 3),
        Op::MatMul | Op::Add | Op::Sub | Op::Mul | Op::Div => (2, 2),
        Op::Conv { .. } => (2, 3),
        Op::BatchNormalization { .. } => (5, 5),
        Op::Concat { .. } => (1, usize::MAX),
        _ => (1, 1),
    }
}

/// Forward pass of one operator.
pub fn forward(op: &Op, inputs: &[&Tensor]) -> Result<Tensor, EngineError> {
    let (min, max) = input_range(op);
    arity(op, inputs, min, max)?;
    let unary = |kind| Ok(elementwise::unary_forward(kind, inputs[0]));
    let binary = |kind| elementwise::binary_forward(kind, inputs[0], inputs[1]);
    match op {
        Op::Neg => unary(Unary::Neg),
        Op::Exp => unary(Unary::Exp),
        Op::Log => unary(Unary::Log),
        Op::Sqrt => unary(Unary::Sqrt),
        Op::Relu => unary(Unary::Relu),
        Op::LeakyRelu { alpha } => unary(Unary::LeakyRelu(*alpha)),
        Op::Sigmoid => unary(Unary::Sigmoid),
        Op::Tanh => unary(Unary::Tanh),
        Op::Add => binary(Binary::Add),
        Op::Sub => binary(Binary::Sub),
        Op::Mul => binary(Binary::Mul),
        Op::Div => binary(Binary::Div),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => linalg::gemm_forward(*alpha, *beta, *trans_a, *trans_b, inputs),
        Op::MatMul => linalg::matmul_forward(inputs[0], inputs[1]),
        Op::Softmax { axis, coerce_2d } => {
            softmax::softmax_forward("Softmax", inputs[0], *axis, *coerce_2d, false)
        }
        Op::LogSoftmax { axis, coerce_2d } => {
            softmax::softmax_forward("LogSoftmax", inputs[0], *axis, *coerce_2d, true)
        }
        Op::SoftmaxZero => softmax::softmax_zero_forward(inputs[0]),
        Op::Normalizer { norm } => softmax::normalizer_forward(*norm, inputs[0]),
        Op::Conv { window, group } => conv::conv_forward(window, *group, inputs),
        Op::MaxPool { window } => pool::max_pool_forward(window, inputs[0]),
        Op::AveragePool {
            window,
            count_include_pad,
        } => pool::avg_pool_forward(window, *count_include_pad, inputs[0]),
        Op::GlobalAveragePool => pool::global_avg_pool_forward(inputs[0]),
        Op::BatchNormalization { epsilon } => elementwise::batch_norm_forward(*epsilon, inputs),
        Op::Flatten { axis } => shape::flatten(inputs[0], *axis),
        Op::Reshape { shape, allowzero } => shape::reshape_forward(inputs[0], shape, *allowzero),
        Op::Transpose { perm } => shape::transpose_forward(inputs[0], perm.as_deref()),
        Op::Squeeze { axes } => shape::squeeze_forward(inputs[0], axes.as_deref()),
        Op::Unsqueeze { axes } => shape::unsqueeze_forward(inputs[0], axes),
        Op::Concat { axis } => shape::concat_forward(inputs, *axis),
        Op::Identity => Ok(inputs[0].as_standard_layout().into_owned()),
        Op::Svm(m) => m.forward(inputs[0]),
        Op::TreeEnsemble(m) => m.forward(inputs[0]),
    }
}

/// Backward pass of one operator: one optional gradient per input.
pub fn backward(
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
    grad_out: &Tensor,
) -> Result<Vec<Option<Tensor>>, EngineError> {
    let (min, max) = input_range(op);
    arity(op, inputs, min, max)?;
    if grad_out.shape() != output.shape() {
        return Err(EngineError::op(
            op.name(),
            format!(
                "output gradient has shape {:?}, the output has shape {:?}",
                grad_out.shape(),
                output.shape()
            ),
        ));
    }
    let x = inputs[0];
    let one = |t: Tensor| Ok(vec![Some(t)]);
    let unary = |kind| one(elementwise::unary_backward(kind, x, output, grad_out)?);
    let binary = |kind| {
        let (ga, gb) = elementwise::binary_backward(kind, x, inputs[1], output, grad_out)?;
        Ok(vec![Some(ga), Some(gb)])
    };
    match op {
        Op::Neg => unary(Unary::Neg),
        Op::Exp => unary(Unary::Exp),
        Op::Log => unary(Unary::Log),
        Op::Sqrt => unary(Unary::Sqrt),
        Op::Relu => unary(Unary::Relu),
        Op::LeakyRelu { alpha } => unary(Unary::LeakyRelu(*alpha)),
        Op::Sigmoid => unary(Unary::Sigmoid),
        Op::Tanh => unary(Unary::Tanh),
        Op::Add => binary(Binary::Add),
        Op::Sub => binary(Binary::Sub),
        Op::Mul => binary(Binary::Mul),
        Op::Div => binary(Binary::Div),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => linalg::gemm_backward(*alpha, *beta, *trans_a, *trans_b, inputs, grad_out),
        Op::MatMul => {
            let (ga, gb) = linalg::matmul_backward(inputs[0], inputs[1], grad_out)?;
            Ok(vec![Some(ga), Some(gb)])
        }
        Op::Softmax { axis, coerce_2d } => one(softmax::softmax_backward(
            "Softmax", output, grad_out, *axis, *coerce_2d, false,
        )?),
        Op::LogSoftmax { axis, coerce_2d } => one(softmax::softmax_backward(
            "LogSoftmax",
            output,
            grad_out,
            *axis,
            *coerce_2d,
            true,
        )?),
        Op::SoftmaxZero => one(softmax::softmax_zero_backward(x, output, grad_out)?),
        Op::Normalizer { norm } => one(softmax::normalizer_backward(*norm, x, grad_out)?),
        Op::Conv { window, group } => conv::conv_backward(window, *group, inputs, grad_out),
        Op::MaxPool { window } => one(pool::max_pool_backward(window, x, grad_out)?),
        Op::AveragePool {
            window,
            count_include_pad,
        } => one(pool::avg_pool_backward(
            window,
            *count_include_pad,
            x,
            grad_out,
        )?),
        Op::GlobalAveragePool => one(pool::global_avg_pool_backward(x, grad_out)?),
        Op::BatchNormalization { epsilon } => {
            elementwise::batch_norm_backward(*epsilon, inputs, grad_out)
        }
        Op::Flatten { .. }
        | Op::Reshape { .. }
        | Op::Squeeze { .. }
        | Op::Unsqueeze { .. }
        | Op::Identity => one(shape::reshape_to(op.name(), grad_out, x.shape())?),
        Op::Transpose { perm } => one(shape::transpose_backward(x, perm.as_deref(), grad_out)?),
        Op::Concat { axis } => shape::concat_backward(inputs, *axis, grad_out),
        Op::Svm(m) => one(m.backward(x, grad_out)?),
        Op::TreeEnsemble(_) => Err(tree::backward()),
    }
}
