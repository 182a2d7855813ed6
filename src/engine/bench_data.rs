//! Deterministic synthetic workloads for the benchmarks (native `bench`
//! binary and the browser bench page use the same data): `rows` records in
//! the model's input shape, uniform in [0, 1) (digits are scaled to that
//! range), and labels from a seeded RNG.

use super::{EngineError, Graph, Tensor};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A batch of `rows` random records for `graph` and random labels below
/// `classes`.
pub fn synthetic_batch(
    graph: &Graph,
    rows: usize,
    classes: usize,
    seed: u64,
) -> Result<(Tensor, Vec<usize>), EngineError> {
    let rec = graph.input.record_shape().ok_or_else(|| {
        EngineError::Config("the model input has symbolic non-batch dimensions".into())
    })?;
    let mut shape = vec![rows];
    shape.extend(rec);
    // rows x record length checked before allocating (never wraps)
    super::ops::checked_len(&shape)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = ArrayD::from_shape_simple_fn(IxDyn(&shape), || rng.gen::<f32>());
    let y = (0..rows)
        .map(|_| rng.gen_range(0..classes.max(1)))
        .collect();
    Ok((x, y))
}
