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
//! Errors carry the op name; `exec` fills in the node name.

use super::{EngineError, Op, Tensor};

mod conv;
mod elementwise;
mod linalg;
mod pool;
mod shape;
mod softmax;

/// Forward pass of one operator.
pub fn forward(op: &Op, inputs: &[&Tensor]) -> Result<Tensor, EngineError> {
    let _ = (op, inputs);
    todo!("ops::forward")
}

/// Backward pass of one operator: one optional gradient per input.
pub fn backward(
    op: &Op,
    inputs: &[&Tensor],
    output: &Tensor,
    grad_out: &Tensor,
) -> Result<Vec<Option<Tensor>>, EngineError> {
    let _ = (op, inputs, output, grad_out);
    todo!("ops::backward")
}
