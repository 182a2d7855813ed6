//! Label-only membership attacks (Choquette-Choo et al. 2021): the attacker
//! sees only the predicted label (argmax of the class probabilities, first
//! maximum on ties, as in `engine::proba`). `gap` and `noise_robustness`
//! live here with `boundary_distance_gradient`, the white-box boundary
//! search that uses the engine's input gradients (so its results are *not*
//! label-only); the query-only `boundary_distance` is in
//! [`super::boundary_query`].
//!
//! Contract (scores higher = more likely a member, in input row order):
//! - `gap`: score 1 if the predicted label equals y, else 0 (the baseline of
//!   Yeom et al.; the statistics see many ties by design).
//! - `noise_robustness`: N noisy copies of each record (default N = 20);
//!   score = fraction of copies still predicted as y. Noise per feature
//!   (the record flattened in the model's input order):
//!   - a feature is *binary* when it takes both values 0 and 1 and nothing
//!     else over all supplied records (members, non-members, population):
//!     each copy flips it with probability q (default 0.1);
//!   - every other feature gets Gaussian noise N(0, (sigma_scale * sd_f)^2),
//!     sd_f = the feature's standard deviation (divide by n) over all
//!     supplied records (default sigma_scale = 0.5); a constant feature is
//!     never perturbed. Noisy values are not clipped.
//!   - randomness: ChaCha8 seeded with `seed`, one stream per record
//!     (stream = row index in members-then-non-members order), so a record's
//!     noise does not depend on batching.
//! - `boundary_distance_gradient` (white-box): the L2 norm (in input units, over all features of
//!   the flattened record) of the smallest perturbation found that changes
//!   the predicted label; 0 for a record already misclassified. Search:
//!   1. DeepFool (Moosavi-Dezfooli et al. 2016) on the margins
//!      f_j = u_y - u_j, where u are the logits before a final Softmax (or
//!      the logit output), the log-probabilities of a final LogSoftmax, or
//!      log(clamp(p)) of any other probability output; a single binary
//!      column s is the pair [0, s] (logit) or [log(1-p), log p]. At each
//!      step the `max_candidates` best other classes are linearised with
//!      input gradients (`Graph::forward_tape` + `backward`), the one with
//!      the smallest |f_j| / ||grad f_j|| is chosen and the record moves by
//!      `(1 + overshoot) * (f_j + 1e-4) / ||grad f_j||^2 * grad f_j` towards
//!      the boundary, then is clipped to the data range (per-feature
//!      [min, max] over all supplied records) when `clip_to_data_range`.
//!      At most `max_steps` steps (default 50).
//!   2. Bisection (`bisection_steps`, default 20) on the segment from the
//!      record to the first point whose label changed; the reported point is
//!      the closest point of the segment that was *evaluated* and found
//!      flipped, so a perturbation of the reported size along the reported
//!      direction does change the label. (It is an upper bound on the true
//!      minimal distance.)
//!   3. A record whose label could not be changed within the budget (or
//!      whose gradient vanished) gets the cap `max(data-range diagonal,
//!      largest distance found)`, ranking it above every record whose label
//!      changed; the details count such records.
//! - Labels outside the model's classes are [`AttackError::Input`] errors.

use super::signals::{check_label_slice, check_labels, classes_of_width, logits_before_softmax};
use super::{
    predict_probs, AttackError, AttackOutput, AuditInputs, Outputs, Progress, Records, Set, Target,
};
use crate::engine::math::PortableMath;
use crate::engine::proba::{argmax_rows, as_matrix, probabilities};
use crate::engine::{Graph, Op, OutputKind, Tensor, ValueId};
use ndarray::{Array2, ArrayView1, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use serde_json::json;

// ---------------------------------------------------------------- helpers

fn check_all(target: &Target, inputs: &AuditInputs) -> Result<usize, AttackError> {
    let k = classes_of_width(target.num_classes.max(1));
    check_labels(&inputs.members, k, "members")?;
    check_labels(&inputs.nonmembers, k, "non-members")?;
    if let Some(p) = &inputs.population {
        check_labels(p, k, "population")?;
    }
    Ok(k)
}

/// Record shape (non-batch dims) and record length.
fn record_shape(r: &Records) -> (Vec<usize>, usize) {
    let s = r.x.shape().get(1..).unwrap_or(&[]).to_vec();
    let d = s.iter().product();
    (s, d)
}

/// Records flattened to [N, d] (standard layout).
fn flat(r: &Records) -> Result<Array2<f32>, AttackError> {
    let n = r.len();
    let (_, d) = record_shape(r);
    if r.x.shape().first() != Some(&n) {
        return Err(AttackError::Input(format!(
            "{} labels for a batch of shape {:?}",
            n,
            r.x.shape()
        )));
    }
    r.x.as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, d))
        .map_err(|e| AttackError::Input(format!("cannot flatten the records: {e}")))
}

fn batch(rows: &[f32], n: usize, shape: &[usize]) -> Result<Tensor, AttackError> {
    let mut s = vec![n];
    s.extend_from_slice(shape);
    Tensor::from_shape_vec(IxDyn(&s), rows.to_vec())
        .map_err(|e| AttackError::Input(format!("cannot build a batch: {e}")))
}

fn argmax(row: ArrayView1<f64>) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Predicted labels of the target on a batch, and the number of classes of
/// its output.
fn predict_labels(target: &Target, x: &Tensor) -> Result<(Vec<usize>, usize), AttackError> {
    let p = predict_probs(target.graph, target.params, target.output_kind, x)?;
    Ok((p.outer_iter().map(argmax).collect(), p.ncols()))
}

/// Labels must be classes of the output actually produced (the target's
/// declared class count could be larger); `offset` = row index of `y[0]`.
fn check_width(y: &[usize], width: usize, offset: usize) -> Result<(), AttackError> {
    match y.iter().position(|&l| l >= width) {
        Some(i) => Err(AttackError::Input(format!(
            "records: row {} has label {}, but the model's output has {width} classes",
            offset + i + 1,
            y[i]
        ))),
        None => Ok(()),
    }
}

/// Per-feature statistics of all supplied records (flattened).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStats {
    /// Standard deviation (divide by n).
    pub sd: Vec<f64>,
    pub min: Vec<f32>,
    pub max: Vec<f32>,
    /// Takes both values 0 and 1 and nothing else.
    pub binary: Vec<bool>,
}

impl FeatureStats {
    /// Statistics over every record an audit supplies: members,
    /// non-members and population.
    pub fn of_inputs(inputs: &AuditInputs) -> Result<FeatureStats, AttackError> {
        let mut sets = vec![&inputs.members, &inputs.nonmembers];
        if let Some(p) = &inputs.population {
            sets.push(p);
        }
        FeatureStats::of(&sets)
    }

    /// Statistics over the union of `sets` (all must have the same record
    /// shape; empty sets are skipped).
    pub fn of(sets: &[&Records]) -> Result<FeatureStats, AttackError> {
        let mats: Vec<Array2<f32>> = sets
            .iter()
            .filter(|r| !r.is_empty())
            .map(|r| flat(r))
            .collect::<Result<_, _>>()?;
        let d = mats.first().map(|m| m.ncols()).unwrap_or(0);
        if let Some(m) = mats.iter().find(|m| m.ncols() != d) {
            return Err(AttackError::Input(format!(
                "record sets have {} and {} values per record",
                d,
                m.ncols()
            )));
        }
        let n: usize = mats.iter().map(|m| m.nrows()).sum();
        let mut sum = vec![0.0f64; d];
        let mut min = vec![f32::INFINITY; d];
        let mut max = vec![f32::NEG_INFINITY; d];
        let mut only01 = vec![true; d];
        let mut has0 = vec![false; d];
        let mut has1 = vec![false; d];
        for m in &mats {
            for row in m.outer_iter() {
                for (f, &v) in row.iter().enumerate() {
                    sum[f] += v as f64;
                    min[f] = min[f].min(v);
                    max[f] = max[f].max(v);
                    if v == 0.0 {
                        has0[f] = true;
                    } else if v == 1.0 {
                        has1[f] = true;
                    } else {
                        only01[f] = false;
                    }
                }
            }
        }
        let nf = n.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / nf).collect();
        let mut var = vec![0.0f64; d];
        for m in &mats {
            for row in m.outer_iter() {
                for (f, &v) in row.iter().enumerate() {
                    let e = v as f64 - mean[f];
                    var[f] += e * e;
                }
            }
        }
        Ok(FeatureStats {
            sd: var.iter().map(|v| (v / nf).sqrt()).collect(),
            min,
            max,
            binary: (0..d).map(|f| only01[f] && has0[f] && has1[f]).collect(),
        })
    }

    /// L2 length of the box [min, max].
    pub fn diagonal(&self) -> f64 {
        self.min
            .iter()
            .zip(&self.max)
            .map(|(&a, &b)| {
                let w = (b - a) as f64;
                w * w
            })
            .sum::<f64>()
            .sqrt()
    }
}

fn label_kind(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Logits => "logits",
        OutputKind::Probabilities => "probabilities",
    }
}

// ---------------------------------------------------------------- gap

/// Gap attack: 1 if the predicted label is y, else 0.
pub fn gap_scores(target: &Target, records: &Records) -> Result<Vec<f64>, AttackError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    check_labels(
        records,
        classes_of_width(target.num_classes.max(1)),
        "records",
    )?;
    let (pred, width) = predict_labels(target, &records.x)?;
    check_width(&records.y, width, 0)?;
    Ok(pred
        .iter()
        .zip(&records.y)
        .map(|(p, y)| if p == y { 1.0 } else { 0.0 })
        .collect())
}

/// Gap scores of a set of supplied outputs: 1 if the argmax of the class
/// probabilities (first maximum on ties) is the label, else 0.
fn gap_scores_of(outputs: &Outputs, set: Set) -> Result<Vec<f64>, AttackError> {
    let labels = outputs.labels_or_empty(set);
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    check_label_slice(labels, outputs.num_classes(), set.name())?;
    let p = outputs
        .probabilities(set)?
        .ok_or_else(|| AttackError::Input(format!("no {} records", set.name())))?;
    check_width(labels, p.ncols(), 0)?;
    Ok(p.outer_iter()
        .map(argmax)
        .zip(labels)
        .map(|(p, y)| if p == *y { 1.0 } else { 0.0 })
        .collect())
}

/// The `gap` attack.
pub fn run_gap(target: &Target, inputs: &AuditInputs) -> Result<AttackOutput, AttackError> {
    run_gap_on(&Outputs::Model { target, inputs })
}

/// The `gap` attack on the target's outputs (a model or supplied
/// predictions).
pub fn run_gap_on(outputs: &Outputs) -> Result<AttackOutput, AttackError> {
    let (members, nonmembers) = match outputs {
        Outputs::Model { target, inputs } => {
            check_all(target, inputs)?;
            (
                gap_scores(target, &inputs.members)?,
                gap_scores(target, &inputs.nonmembers)?,
            )
        }
        Outputs::Predictions(_) => (
            gap_scores_of(outputs, Set::Members)?,
            gap_scores_of(outputs, Set::Nonmembers)?,
        ),
    };
    let acc = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(AttackOutput {
        details: json!({
            "attack": "gap",
            "score": "1 if argmax p = y else 0",
            "orientation": "higher score = more likely a member",
            "reference": "Yeom et al. 2018; Choquette-Choo et al. 2021 (gap attack)",
            "member_accuracy": acc(&members),
            "nonmember_accuracy": acc(&nonmembers),
        }),
        members,
        nonmembers,
    })
}

// ---------------------------------------------------------------- noise

/// Settings of `noise_robustness`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoiseConfig {
    /// Noisy copies per record.
    pub copies: usize,
    /// Gaussian noise sd as a multiple of each feature's sd.
    pub sigma_scale: f64,
    /// Flip probability of binary features.
    pub flip_prob: f64,
    pub seed: u64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            copies: 20,
            sigma_scale: 0.5,
            flip_prob: 0.1,
            seed: 0,
        }
    }
}

impl NoiseConfig {
    pub fn validate(&self) -> Result<(), AttackError> {
        use crate::settings::Ranged;
        let bad = |m: String| Err(AttackError::Config(m));
        self.check_ranges()?;
        if !(self.sigma_scale.is_finite() && self.sigma_scale >= 0.0) {
            return bad(format!(
                "the noise scale must be a finite number >= 0, got {}",
                self.sigma_scale
            ));
        }
        if !(0.0..=1.0).contains(&self.flip_prob) {
            return bad(format!(
                "the bit-flip probability must be in [0, 1], got {}",
                self.flip_prob
            ));
        }
        Ok(())
    }
}

/// Noise-robustness scores of `records`; `first_stream` is the RNG stream of
/// the first record (streams are consecutive).
pub fn noise_scores(
    target: &Target,
    records: &Records,
    stats: &FeatureStats,
    cfg: &NoiseConfig,
    first_stream: u64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<f64>, AttackError> {
    cfg.validate()?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    check_labels(
        records,
        classes_of_width(target.num_classes.max(1)),
        "records",
    )?;
    let (shape, d) = record_shape(records);
    if d != stats.sd.len() {
        return Err(AttackError::Input(format!(
            "records have {d} values, the feature statistics {}",
            stats.sd.len()
        )));
    }
    let x = flat(records)?;
    let n = records.len();
    // the noisy copies of one record within the engine's tensor bound
    // (checked product), and a batch of them within 2^24 values
    let per_record = crate::settings::product(
        crate::settings::NOISE_COPIES,
        &[cfg.copies, d],
        crate::limits::COMPUTED_TENSOR_ELEMENTS as u128,
    )?;
    let per_batch = (4096 / cfg.copies)
        .min((1 << 24) / per_record.max(1))
        .max(1);
    let mut scores = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + per_batch).min(n);
        let rows = end - start;
        let mut buf = Vec::with_capacity(rows * cfg.copies * d);
        for i in start..end {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(first_stream + i as u64);
            let row = x.row(i);
            for _ in 0..cfg.copies {
                for f in 0..d {
                    let v = row[f];
                    let nv = if stats.binary[f] {
                        if rng.gen::<f64>() < cfg.flip_prob {
                            1.0 - v
                        } else {
                            v
                        }
                    } else if stats.sd[f] > 0.0 {
                        let z: f64 = rng.sample(StandardNormal);
                        (v as f64 + cfg.sigma_scale * stats.sd[f] * z) as f32
                    } else {
                        v
                    };
                    buf.push(nv);
                }
            }
        }
        let xb = batch(&buf, rows * cfg.copies, &shape)?;
        let (pred, width) = predict_labels(target, &xb)?;
        check_width(&records.y[start..end], width, start)?;
        for (r, i) in (start..end).enumerate() {
            let same = pred[r * cfg.copies..(r + 1) * cfg.copies]
                .iter()
                .filter(|&&p| p == records.y[i])
                .count();
            scores.push(same as f64 / cfg.copies as f64);
        }
        start = end;
        if !progress(rows) {
            return Err(AttackError::Cancelled);
        }
    }
    Ok(scores)
}

/// The `noise_robustness` attack.
pub fn run_noise_robustness(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &NoiseConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AttackOutput, AttackError> {
    cfg.validate()?;
    check_all(target, inputs)?;
    let stats = FeatureStats::of_inputs(inputs)?;
    let total = inputs.members.len() + inputs.nonmembers.len();
    let mut done = 0;
    let mut tick = |k: usize| {
        done += k;
        progress(Progress {
            stage: "noise robustness".into(),
            done,
            total,
        })
    };
    let members = noise_scores(target, &inputs.members, &stats, cfg, 0, &mut tick)?;
    let nonmembers = noise_scores(
        target,
        &inputs.nonmembers,
        &stats,
        cfg,
        inputs.members.len() as u64,
        &mut tick,
    )?;
    let binary = stats.binary.iter().filter(|&&b| b).count();
    let constant = stats
        .sd
        .iter()
        .zip(&stats.binary)
        .filter(|(&s, &b)| s == 0.0 && !b)
        .count();
    Ok(AttackOutput {
        members,
        nonmembers,
        details: json!({
            "attack": "noise_robustness",
            "score": "fraction of noisy copies still predicted as y",
            "orientation": "higher score = more likely a member",
            "reference": "Choquette-Choo et al. 2021",
            "copies": cfg.copies,
            "sigma_scale": cfg.sigma_scale,
            "noise": "x_f + N(0, (sigma_scale * sd_f)^2), sd_f over all supplied records; binary {0,1} features flipped with probability flip_prob; constant features untouched; no clipping",
            "flip_prob": cfg.flip_prob,
            "seed": cfg.seed,
            "binary_features": binary,
            "gaussian_features": stats.sd.len() - binary - constant,
            "constant_features": constant,
        }),
    })
}

// ---------------------------------------------------------------- boundary

/// Settings of `boundary_distance_gradient` (white-box).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BoundaryConfig {
    /// DeepFool steps per record.
    pub max_steps: usize,
    /// DeepFool overshoot.
    pub overshoot: f64,
    /// Bisection steps on the segment to the first flipped point.
    pub bisection_steps: usize,
    /// Other classes linearised per step (the highest-scoring ones).
    pub max_candidates: usize,
    /// Keep every feature within [min, max] of the supplied records.
    pub clip_to_data_range: bool,
    /// Records searched together.
    pub batch_size: usize,
}

impl Default for BoundaryConfig {
    fn default() -> Self {
        BoundaryConfig {
            max_steps: 50,
            overshoot: 0.02,
            bisection_steps: 20,
            max_candidates: 10,
            clip_to_data_range: true,
            batch_size: 128,
        }
    }
}

impl BoundaryConfig {
    pub fn validate(&self) -> Result<(), AttackError> {
        use crate::settings::Ranged;
        let bad = |m: String| Err(AttackError::Config(m));
        self.check_ranges()?;
        if !(self.overshoot.is_finite() && (0.0..=10.0).contains(&self.overshoot)) {
            return bad(format!(
                "overshoot must be in [0, 10], got {}",
                self.overshoot
            ));
        }
        Ok(())
    }
}

impl crate::settings::Ranged for NoiseConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        vec![(
            crate::settings::NOISE_COPIES,
            crate::settings::some(self.copies),
        )]
    }
}

impl crate::settings::Ranged for BoundaryConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::*;
        vec![
            (GRADIENT_STEPS, some(self.max_steps)),
            (GRADIENT_BISECTION, some(self.bisection_steps)),
            (GRADIENT_CANDIDATES, some(self.max_candidates)),
            (GRADIENT_BATCH, some(self.batch_size)),
        ]
    }
}

/// Outcome of the boundary search for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryStatus {
    /// Already predicted as another class: distance 0.
    Misclassified,
    /// A point with another predicted label was found.
    Found,
    /// No label change within the budget (or the gradient vanished).
    NotFound,
}

/// One record's boundary search result.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundaryPoint {
    pub status: BoundaryStatus,
    /// L2 distance from the record to `point` (0 when misclassified; the
    /// distance reached when not found).
    pub distance: f64,
    /// The flipped point (record flattened in input order), when found.
    pub point: Option<Vec<f32>>,
    /// DeepFool steps taken.
    pub steps: usize,
}

/// Where the margins are taken.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MarginOn {
    Logits,
    LogProbs,
    Probs,
}

/// The value the margins are computed on: the logits before a final
/// class-axis Softmax ([`logits_before_softmax`]), a final LogSoftmax
/// (through Identity nodes), or the output itself.
fn margin_value(graph: &Graph) -> (ValueId, MarginOn) {
    if let Some(v) = logits_before_softmax(graph) {
        return (v, MarginOn::Logits);
    }
    let producer = |v: ValueId| graph.nodes.iter().find(|n| n.output == v);
    let mut v = graph.output;
    while let Some(node) = producer(v) {
        match &node.op {
            Op::Identity if !node.inputs.is_empty() => v = node.inputs[0],
            Op::LogSoftmax { axis, .. } if *axis == -1 || *axis == 1 => {
                return (v, MarginOn::LogProbs)
            }
            _ => break,
        }
    }
    match graph.output_kind {
        OutputKind::Logits => (graph.output, MarginOn::Logits),
        OutputKind::Probabilities => (graph.output, MarginOn::Probs),
    }
}

/// Class scores u (length >= 2) from one row of the margin value.
fn class_scores(v: ArrayView1<f32>, on: MarginOn) -> Vec<f64> {
    let ln = |p: f64| p.clamp(1e-45, 1.0).p_ln();
    if v.len() == 1 {
        let s = v[0] as f64;
        return match on {
            MarginOn::Logits | MarginOn::LogProbs => vec![0.0, s],
            MarginOn::Probs => vec![ln(1.0 - s), ln(s)],
        };
    }
    match on {
        MarginOn::Logits | MarginOn::LogProbs => v.iter().map(|&z| z as f64).collect(),
        MarginOn::Probs => v.iter().map(|&p| ln(p as f64)).collect(),
    }
}

/// d(u_y - u_j)/d(value row).
fn diff_grad(v: ArrayView1<f32>, on: MarginOn, y: usize, j: usize, out: &mut [f32]) {
    out.iter_mut().for_each(|g| *g = 0.0);
    let inv = |p: f32| 1.0 / p.max(1e-30);
    if v.len() == 1 {
        out[0] = match on {
            // u = [0, s]
            MarginOn::Logits | MarginOn::LogProbs => {
                (if y == 1 { 1.0 } else { 0.0 }) - (if j == 1 { 1.0 } else { 0.0 })
            }
            // u = [log(1-p), log p]: du_1/dp = 1/p, du_0/dp = -1/(1-p)
            MarginOn::Probs => {
                let p = v[0];
                let du = |c: usize| if c == 1 { inv(p) } else { -inv(1.0 - p) };
                du(y) - du(j)
            }
        };
        return;
    }
    match on {
        MarginOn::Logits | MarginOn::LogProbs => {
            out[y] += 1.0;
            out[j] -= 1.0;
        }
        MarginOn::Probs => {
            out[y] += inv(v[y]);
            out[j] -= inv(v[j]);
        }
    }
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| {
            let e = p as f64 - q as f64;
            e * e
        })
        .sum::<f64>()
        .sqrt()
}

/// Boundary search for every record (see the module contract). `range`
/// clips the search to per-feature [min, max] when given. `progress`
/// receives the number of records finished since the last call and may
/// return `false` to cancel.
pub fn boundary_points(
    target: &Target,
    records: &Records,
    range: Option<(&[f32], &[f32])>,
    cfg: &BoundaryConfig,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<BoundaryPoint>, AttackError> {
    cfg.validate()?;
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let (shape, d) = record_shape(records);
    if let Some((lo, hi)) = range {
        if lo.len() != d || hi.len() != d {
            return Err(AttackError::Input(format!(
                "the data range has {} values, records have {d}",
                lo.len()
            )));
        }
    }
    let k = classes_of_width(target.num_classes.max(1));
    check_labels(records, k, "records")?;
    let x = flat(records)?;
    let (mv, on) = margin_value(target.graph);
    let mut g2 = target.graph.clone();
    g2.output = mv;
    let out_id = target.graph.output;
    let clip = |p: &mut [f32]| {
        if let Some((lo, hi)) = range {
            for ((v, &a), &b) in p.iter_mut().zip(lo).zip(hi) {
                *v = v.clamp(a, b);
            }
        }
    };
    let mut results = Vec::with_capacity(records.len());
    let n = records.len();
    let mut start = 0;
    while start < n {
        let end = (start + cfg.batch_size).min(n);
        let m = end - start;
        let x0: Vec<Vec<f32>> = (start..end).map(|i| x.row(i).to_vec()).collect();
        let ys = &records.y[start..end];
        let mut cur = x0.clone();
        let mut res: Vec<Option<BoundaryPoint>> = vec![None; m];
        let mut active: Vec<usize> = (0..m).collect();
        let mut step = 0;
        while !active.is_empty() {
            let buf: Vec<f32> = active.iter().flat_map(|&a| cur[a].clone()).collect();
            let xb = batch(&buf, active.len(), &shape)?;
            let tape = g2.forward_tape(target.params, &xb)?;
            let probs = probabilities(tape.get(out_id), target.output_kind)?;
            let pred = argmax_rows(&probs);
            if step == 0 {
                check_width(ys, probs.ncols(), start)?;
            }
            let mut still = Vec::with_capacity(active.len());
            let mut still_rows = Vec::with_capacity(active.len());
            for (r, &a) in active.iter().enumerate() {
                if pred[r] != ys[a] {
                    res[a] = Some(if step == 0 {
                        BoundaryPoint {
                            status: BoundaryStatus::Misclassified,
                            distance: 0.0,
                            point: None,
                            steps: 0,
                        }
                    } else {
                        BoundaryPoint {
                            status: BoundaryStatus::Found,
                            distance: l2(&cur[a], &x0[a]),
                            point: Some(cur[a].clone()),
                            steps: step,
                        }
                    });
                } else if step == cfg.max_steps {
                    res[a] = Some(BoundaryPoint {
                        status: BoundaryStatus::NotFound,
                        distance: l2(&cur[a], &x0[a]),
                        point: None,
                        steps: step,
                    });
                } else {
                    still.push(a);
                    still_rows.push(r);
                }
            }
            if still.is_empty() {
                break;
            }
            // linearise the margins of the best other classes
            let vmat = as_matrix(tape.get(mv))?;
            let kv = vmat.ncols();
            let scores: Vec<Vec<f64>> = (0..vmat.nrows())
                .map(|r| class_scores(vmat.row(r), on))
                .collect();
            let kk = scores.first().map(|s| s.len()).unwrap_or(2);
            let cands: Vec<Vec<usize>> = still
                .iter()
                .zip(&still_rows)
                .map(|(&a, &r)| {
                    let y = ys[a];
                    let mut others: Vec<usize> = (0..kk).filter(|&j| j != y).collect();
                    others.sort_by(|&i, &j| scores[r][j].total_cmp(&scores[r][i]));
                    others.truncate(cfg.max_candidates);
                    others
                })
                .collect();
            let ranks = cands.iter().map(|c| c.len()).max().unwrap_or(0);
            // best (ratio, f, gradient) per still-active row
            let mut best: Vec<Option<(f64, f64, Vec<f32>)>> = vec![None; still.len()];
            let mut grow = vec![0.0f32; kv];
            for rank in 0..ranks {
                let mut gout = Array2::<f32>::zeros((vmat.nrows(), kv));
                for (s, (&a, &r)) in still.iter().zip(&still_rows).enumerate() {
                    if let Some(&j) = cands[s].get(rank) {
                        diff_grad(vmat.row(r), on, ys[a], j, &mut grow);
                        for (c, &g) in grow.iter().enumerate() {
                            gout[[r, c]] = g;
                        }
                    }
                }
                let gshape = tape.get(mv).shape().to_vec();
                let gout = gout
                    .into_shape_with_order(IxDyn(&gshape))
                    .map_err(|e| AttackError::Input(format!("margin gradient shape: {e}")))?;
                let grads = g2.backward(&tape, gout)?;
                let gin = grads
                    .input
                    .as_standard_layout()
                    .into_owned()
                    .into_shape_with_order((vmat.nrows(), d))
                    .map_err(|e| AttackError::Input(format!("input gradient shape: {e}")))?;
                for (s, (&a, &r)) in still.iter().zip(&still_rows).enumerate() {
                    let Some(&j) = cands[s].get(rank) else {
                        continue;
                    };
                    let f = scores[r][ys[a]] - scores[r][j];
                    let w = gin.row(r);
                    let norm2: f64 = w.iter().map(|&g| (g as f64) * (g as f64)).sum();
                    if !(norm2 > 0.0 && norm2.is_finite() && f.is_finite()) {
                        continue;
                    }
                    let ratio = f.abs() / norm2.sqrt();
                    if best[s].as_ref().map_or(true, |b| ratio < b.0) {
                        best[s] = Some((ratio, f, w.to_vec()));
                    }
                }
            }
            let mut next = Vec::with_capacity(still.len());
            for (s, &a) in still.iter().enumerate() {
                match &best[s] {
                    Some((_, f, w)) => {
                        let norm2: f64 = w.iter().map(|&g| (g as f64) * (g as f64)).sum();
                        let c = (1.0 + cfg.overshoot) * (f + 1e-4) / norm2;
                        for (v, &g) in cur[a].iter_mut().zip(w) {
                            *v = (*v as f64 - c * g as f64) as f32;
                        }
                        clip(&mut cur[a]);
                        next.push(a);
                    }
                    None => {
                        res[a] = Some(BoundaryPoint {
                            status: BoundaryStatus::NotFound,
                            distance: l2(&cur[a], &x0[a]),
                            point: None,
                            steps: step,
                        });
                    }
                }
            }
            active = next;
            step += 1;
        }
        // bisection on the segments of the flipped records
        let found: Vec<usize> = (0..m)
            .filter(|&a| matches!(&res[a], Some(p) if p.status == BoundaryStatus::Found))
            .collect();
        if !found.is_empty() && cfg.bisection_steps > 0 {
            let adv: Vec<Vec<f32>> = found
                .iter()
                .map(|&a| {
                    res[a]
                        .as_ref()
                        .and_then(|p| p.point.clone())
                        .unwrap_or_default()
                })
                .collect();
            let mut lo = vec![0.0f64; found.len()];
            let mut hi = vec![1.0f64; found.len()];
            let mut hi_point = adv.clone();
            for _ in 0..cfg.bisection_steps {
                let mids: Vec<Vec<f32>> = found
                    .iter()
                    .enumerate()
                    .map(|(s, &a)| {
                        let t = (lo[s] + hi[s]) / 2.0;
                        x0[a]
                            .iter()
                            .zip(&adv[s])
                            .map(|(&p, &q)| (p as f64 + t * (q as f64 - p as f64)) as f32)
                            .collect()
                    })
                    .collect();
                let buf: Vec<f32> = mids.iter().flatten().copied().collect();
                let xb = batch(&buf, found.len(), &shape)?;
                let out = target.graph.forward(target.params, &xb)?;
                let pred = argmax_rows(&probabilities(&out, target.output_kind)?);
                for (s, &a) in found.iter().enumerate() {
                    let t = (lo[s] + hi[s]) / 2.0;
                    if pred[s] != ys[a] {
                        hi[s] = t;
                        hi_point[s] = mids[s].clone();
                    } else {
                        lo[s] = t;
                    }
                }
            }
            for (s, &a) in found.iter().enumerate() {
                if let Some(p) = res[a].as_mut() {
                    p.distance = l2(&hi_point[s], &x0[a]);
                    p.point = Some(hi_point[s].clone());
                }
            }
        }
        for r in res {
            results.push(r.ok_or_else(|| {
                AttackError::Input("internal: a record was left without a result".into())
            })?);
        }
        start = end;
        if !progress(m) {
            return Err(AttackError::Cancelled);
        }
    }
    Ok(results)
}

/// The `boundary_distance_gradient` attack (white-box).
pub fn run_boundary_distance_gradient(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &BoundaryConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AttackOutput, AttackError> {
    cfg.validate()?;
    check_all(target, inputs)?;
    let stats = FeatureStats::of_inputs(inputs)?;
    let range = cfg
        .clip_to_data_range
        .then_some((stats.min.as_slice(), stats.max.as_slice()));
    let total = inputs.members.len() + inputs.nonmembers.len();
    let mut done = 0;
    let mut tick = |k: usize| {
        done += k;
        progress(Progress {
            stage: "boundary distance (white-box gradients)".into(),
            done,
            total,
        })
    };
    let pm = boundary_points(target, &inputs.members, range, cfg, &mut tick)?;
    let pn = boundary_points(target, &inputs.nonmembers, range, cfg, &mut tick)?;
    let found_max = pm
        .iter()
        .chain(&pn)
        .filter(|p| p.status == BoundaryStatus::Found)
        .map(|p| p.distance)
        .fold(0.0f64, f64::max);
    let cap = stats.diagonal().max(found_max);
    let score = |p: &BoundaryPoint| match p.status {
        BoundaryStatus::NotFound => cap,
        _ => p.distance,
    };
    let count = |s: BoundaryStatus| pm.iter().chain(&pn).filter(|p| p.status == s).count();
    let steps: Vec<usize> = pm
        .iter()
        .chain(&pn)
        .filter(|p| p.status == BoundaryStatus::Found)
        .map(|p| p.steps)
        .collect();
    let mean_steps = steps.iter().sum::<usize>() as f64 / steps.len().max(1) as f64;
    Ok(AttackOutput {
        members: pm.iter().map(score).collect(),
        nonmembers: pn.iter().map(score).collect(),
        details: json!({
            "attack": "boundary_distance_gradient",
            "mode": "white-box: the model's input gradients (not label-only)",
            "labels_only": false,
            "score": "L2 distance (input units) of the smallest label-changing perturbation found; 0 if misclassified",
            "orientation": "higher score = more likely a member",
            "reference": "Choquette-Choo et al. 2021 (white-box variant: DeepFool with input gradients, then bisection)",
            "margins_on": match margin_value(target.graph).1 {
                MarginOn::Logits => "logits",
                MarginOn::LogProbs => "log-probabilities",
                MarginOn::Probs => "log of the probability output",
            },
            "output_kind": label_kind(target.output_kind),
            "max_steps": cfg.max_steps,
            "overshoot": cfg.overshoot,
            "bisection_steps": cfg.bisection_steps,
            "max_candidates": cfg.max_candidates,
            "clip_to_data_range": cfg.clip_to_data_range,
            "misclassified": count(BoundaryStatus::Misclassified),
            "found": count(BoundaryStatus::Found),
            "not_found": count(BoundaryStatus::NotFound),
            "not_found_score": cap,
            "not_found_rule": "max(diagonal of the data range, largest distance found)",
            "mean_steps_when_found": mean_steps,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_column_margins_follow_the_two_class_convention() {
        let v = ndarray::arr1(&[2.0f32]);
        assert_eq!(class_scores(v.view(), MarginOn::Logits), vec![0.0, 2.0]);
        let mut g = [0.0f32];
        diff_grad(v.view(), MarginOn::Logits, 1, 0, &mut g);
        assert_eq!(g[0], 1.0);
        diff_grad(v.view(), MarginOn::Logits, 0, 1, &mut g);
        assert_eq!(g[0], -1.0);
    }

    #[test]
    fn feature_stats_find_binary_and_constant_features() {
        let x = Tensor::from_shape_vec(IxDyn(&[3, 3]), vec![0., 5., 1., 1., 5., 2., 0., 5., 3.])
            .unwrap();
        let r = Records {
            x,
            y: vec![0, 0, 0],
        };
        let s = FeatureStats::of(&[&r]).unwrap();
        assert_eq!(s.binary, vec![true, false, false]);
        assert_eq!(s.sd[1], 0.0);
        assert!((s.sd[2] - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!((s.min[2], s.max[2]), (1.0, 3.0));
    }
}
