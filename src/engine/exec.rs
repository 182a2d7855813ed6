//! Running a graph: batched forward pass, optionally keeping every
//! intermediate value (the tape), and the reverse pass that propagates
//! dLoss/dOutput back to the input and to every parameter.

use super::{ops, EngineError, Graph, ParamSet, Tensor, ValueId};
use ndarray::IxDyn;

/// Every value computed by one forward pass, indexed by `ValueId`.
pub struct Tape {
    pub values: Vec<Option<Tensor>>,
}

impl Tape {
    pub fn get(&self, id: ValueId) -> &Tensor {
        self.values[id]
            .as_ref()
            .expect("tape holds every value of the pruned graph")
    }
}

/// Gradients of a scalar loss.
pub struct Gradients {
    /// d loss / d input, same shape as the input batch.
    pub input: Tensor,
    /// d loss / d param for every parameter, in `Graph::params` order
    /// (zeros for parameters the loss does not depend on).
    pub params: Vec<Tensor>,
}

fn with_node(e: EngineError, node: &str) -> EngineError {
    match e {
        EngineError::Op { op, message, .. } => EngineError::Op {
            node: node.to_string(),
            op,
            message,
        },
        other => other,
    }
}

impl Graph {
    /// Check a batch against the declared input shape (batch dimension free).
    pub fn check_input(&self, x: &Tensor) -> Result<(), EngineError> {
        let want = self.input.record_shape();
        let ok = match &want {
            Some(s) => x.ndim() == s.len() + 1 && x.shape()[1..] == s[..],
            None => x.ndim() == self.input.shape.len(),
        };
        if ok {
            Ok(())
        } else {
            let expected = format!(
                "[batch, {}]",
                self.input.shape[1..]
                    .iter()
                    .map(|d| match d {
                        super::Dim::Fixed(n) => n.to_string(),
                        super::Dim::Symbolic(s) => s.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Err(EngineError::InputShape {
                got: x.shape().to_vec(),
                expected,
            })
        }
    }

    /// Forward pass keeping every intermediate value.
    pub fn forward_tape(&self, params: &ParamSet, x: &Tensor) -> Result<Tape, EngineError> {
        self.check_input(x)?;
        let mut values: Vec<Option<Tensor>> = vec![None; self.num_values()];
        values[self.input.value] = Some(x.clone());
        for (p, t) in self.params.iter().zip(params) {
            values[p.value] = Some(t.clone());
        }
        for node in &self.nodes {
            let inputs: Vec<&Tensor> = node
                .inputs
                .iter()
                .map(|&i| values[i].as_ref().expect("topological order"))
                .collect();
            let out = ops::forward(&node.op, &inputs).map_err(|e| with_node(e, &node.name))?;
            values[node.output] = Some(out);
        }
        Ok(Tape { values })
    }

    /// Forward pass returning only the output (intermediates are dropped as
    /// soon as no later node needs them).
    pub fn forward(&self, params: &ParamSet, x: &Tensor) -> Result<Tensor, EngineError> {
        self.check_input(x)?;
        // last use of each value, to free memory early
        let mut last_use = vec![usize::MAX; self.num_values()];
        for (i, node) in self.nodes.iter().enumerate() {
            for &v in &node.inputs {
                last_use[v] = i;
            }
        }
        let mut values: Vec<Option<Tensor>> = vec![None; self.num_values()];
        let mut borrowed_params: Vec<Option<&Tensor>> = vec![None; self.num_values()];
        for (p, t) in self.params.iter().zip(params) {
            borrowed_params[p.value] = Some(t);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let inputs: Vec<&Tensor> = node
                .inputs
                .iter()
                .map(|&v| {
                    if v == self.input.value {
                        x
                    } else if let Some(t) = borrowed_params[v] {
                        t
                    } else {
                        values[v].as_ref().expect("topological order")
                    }
                })
                .collect();
            let out = ops::forward(&node.op, &inputs).map_err(|e| with_node(e, &node.name))?;
            values[node.output] = Some(out);
            for &v in &node.inputs {
                if last_use[v] == i && v != self.output {
                    values[v] = None;
                }
            }
        }
        if self.output == self.input.value {
            return Ok(x.clone());
        }
        if let Some(t) = borrowed_params[self.output] {
            return Ok(t.clone());
        }
        values[self.output]
            .take()
            .ok_or_else(|| EngineError::Internal("the graph output was not computed".into()))
    }

    /// Reverse pass: given a tape and dLoss/dOutput, the gradients with
    /// respect to the input and every parameter.
    pub fn backward(&self, tape: &Tape, grad_output: Tensor) -> Result<Gradients, EngineError> {
        let mut grads: Vec<Option<Tensor>> = vec![None; self.num_values()];
        grads[self.output] = Some(grad_output);
        for node in self.nodes.iter().rev() {
            let Some(g) = grads[node.output].take() else {
                continue;
            };
            let inputs: Vec<&Tensor> = node.inputs.iter().map(|&i| tape.get(i)).collect();
            let out = tape.get(node.output);
            let gin =
                ops::backward(&node.op, &inputs, out, &g).map_err(|e| with_node(e, &node.name))?;
            for (&vid, gi) in node.inputs.iter().zip(gin) {
                if let Some(gi) = gi {
                    match &mut grads[vid] {
                        Some(acc) => *acc += &gi,
                        slot => *slot = Some(gi),
                    }
                }
            }
        }
        let input = grads[self.input.value]
            .take()
            .unwrap_or_else(|| Tensor::zeros(tape.get(self.input.value).raw_dim()));
        let params = self
            .params
            .iter()
            .map(|p| {
                grads[p.value]
                    .take()
                    .unwrap_or_else(|| Tensor::zeros(IxDyn(tape.get(p.value).shape())))
            })
            .collect();
        Ok(Gradients { input, params })
    }
}
