//! Model inversion: MI-Face (Fredrikson, Jha, Ristenpart 2015), white-box
//! with the engine's input gradients and black-box with NES gradient
//! estimates, plus the per-class evaluation of what a reconstruction gives
//! away.
//!
//! Contract (pinned in docs/attacks.md, "Model inversion"):
//! - For class c the search minimises
//!   `cost(x) = 1 - p_c(x) + l2 * ||x - x_0||^2 + tv * TV(x)`, where `p_c`
//!   follows `engine::proba` (softmax of logits, `[1-p, p]` / sigmoid for a
//!   single output column) and `TV` is the anisotropic total variation
//!   `sum |x[h+1,w]-x[h,w]| + |x[h,w+1]-x[h,w]|` over every channel of an
//!   image-shaped input (subgradient `sign`, `sign(0) = 0`; zero for flat
//!   inputs).
//! - `x_0` is zeros or the per-feature mean of the data, passed through
//!   Process; `x_i = Process(x_{i-1} - lr * g(x_{i-1}))`. Process clips every
//!   feature to its `[min, max]` over the data when `clip` is on and data is
//!   given, and is the identity otherwise.
//! - Stop rules, checked on every evaluated `x_i` in this order:
//!   `p_c(x_i) >= 1 - gamma` ([`StopRule::TargetConfidence`]); with at least
//!   `window` earlier costs, `cost(x_i) >= max` of the last `window` costs
//!   ([`StopRule::NoImprovement`]); `i == steps` ([`StopRule::StepLimit`]);
//!   black-box only: the next step would exceed the query budget
//!   ([`StopRule::QueryBudget`]). The best `x` seen (lowest cost, first on
//!   ties) is returned, not the last one.
//! - White-box `g` is the exact gradient (tape + backward with
//!   `d cost / d output`, then the exact prior gradients). Black-box `g` is
//!   the NES estimate of the gradient of `1 - p_c`,
//!   `sum_i [f(x + s u_i) - f(x - s u_i)] u_i / (2 n s)` with `n` seeded
//!   Gaussian directions `u_i` (ChaCha8, stream = class, so a class's result
//!   does not depend on which other classes run with it), plus the exact
//!   prior gradients (the priors need no model query).
//! - Queries: one per model row evaluated. White-box: one per step plus one
//!   for `x_0`. Black-box: `1` for `x_0`, then `2n + 1` per step; the budget
//!   is per class.
//! - Several classes run in one batch ([K, ...] forward); finished classes
//!   leave the batch.
//! - Evaluation ([`evaluate`]): see `evaluate.rs`.
//! - Defaults: steps (alpha) 5000, window (beta) 100, gamma 0.01, lr 0.1,
//!   start zeros, no priors, clip on; NES 20 directions, s = 0.01, 20,000
//!   queries per class.
//! - Measured on the digits fixtures (tests/inversion.rs): from the data
//!   mean, gamma 0.01 stops after a few steps at a small perturbation of the
//!   mean that a 1-NN still reads as the mean (6/10 classes recognised for
//!   both the MLP and the CNN); gamma 1e-4 moves much further (10/10 MLP,
//!   9/10 CNN white-box; 9/10 MLP black-box with 5,000 queries per class).
//!   A non-finite cost (a diverging search) is an error.
//!
//! Everything is seeded; no clocks; bad input gives [`AttackError`].

mod evaluate;
mod search;

pub use evaluate::{
    cosine_similarity, evaluate, nearest_neighbour, ssim, ClassEvaluation, SimilarityKind,
};
pub use search::{invert_classes, Objective};

use super::membership::{AttackError, Progress, Records, Target};
use crate::engine::Graph;
use serde::{Deserialize, Serialize};

/// White-box (engine gradients) or black-box (NES estimates from queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InversionMode {
    WhiteBox,
    BlackBox,
}

/// Start point `x_0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartPoint {
    Zeros,
    DataMean,
}

/// Settings of MI-Face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InversionConfig {
    pub mode: InversionMode,
    /// alpha: step limit.
    pub steps: usize,
    /// beta: window of the no-improvement rule.
    pub window: usize,
    /// gamma: stop once `p_c >= 1 - gamma`.
    pub gamma: f64,
    pub lr: f64,
    pub start: StartPoint,
    /// Weight of `||x - x_0||^2`.
    pub l2: f64,
    /// Weight of the total variation (image-shaped inputs only).
    pub tv: f64,
    /// Clip to the per-feature range of the data (when data is given).
    pub clip: bool,
    /// NES directions per step (antithetic pairs: 2 queries each).
    pub nes_samples: usize,
    /// NES perturbation scale s.
    pub nes_sigma: f64,
    /// Black-box: model queries allowed per class.
    pub query_budget: usize,
    pub seed: u64,
}

impl Default for InversionConfig {
    fn default() -> Self {
        InversionConfig {
            mode: InversionMode::WhiteBox,
            steps: 5000,
            window: 100,
            gamma: 0.01,
            lr: 0.1,
            start: StartPoint::Zeros,
            l2: 0.0,
            tv: 0.0,
            clip: true,
            nes_samples: 20,
            nes_sigma: 0.01,
            query_budget: 20_000,
            seed: 0,
        }
    }
}

impl InversionConfig {
    /// Check every setting; the message names the value.
    pub fn validate(&self) -> Result<(), AttackError> {
        let bad = |m: String| Err(AttackError::Config(m));
        crate::settings::Ranged::check_ranges(self)?;
        if !(self.gamma.is_finite() && (0.0..1.0).contains(&self.gamma)) {
            return bad(format!("gamma must be in [0, 1), got {}", self.gamma));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("lr must be a positive number, got {}", self.lr));
        }
        for (name, v) in [("l2", self.l2), ("tv", self.tv)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} must be a number >= 0, got {v}"));
            }
        }
        if self.mode == InversionMode::BlackBox {
            if !(self.nes_sigma.is_finite() && self.nes_sigma > 0.0) {
                return bad(format!(
                    "nes_sigma must be a positive number, got {}",
                    self.nes_sigma
                ));
            }
            let one_step = 2 * self.nes_samples + 2;
            if self.query_budget < one_step {
                return bad(format!(
                    "query_budget {} is below one NES step ({} queries: x_0, {} directions x 2, the new x)",
                    self.query_budget, one_step, self.nes_samples
                ));
            }
        }
        Ok(())
    }
}

impl crate::settings::Ranged for InversionConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::*;
        vec![
            (INVERSION_STEPS, some(self.steps)),
            (INVERSION_WINDOW, some(self.window)),
            (NES_SAMPLES, some(self.nes_samples)),
            (QUERY_BUDGET, some(self.query_budget)),
        ]
    }
}

/// How the flat record (in the model's input order) is read as an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageLayout {
    /// channels first: index = (ch * h + y) * w + x
    Nchw { c: usize, h: usize, w: usize },
    /// channels last: index = (y * w + x) * c + ch
    Nhwc { h: usize, w: usize, c: usize },
    /// Not an image (tabular).
    Flat,
}

impl ImageLayout {
    /// Layout of a per-record shape: `[H, W]` is one channel; `[C, H, W]`
    /// is channels-first unless only the last dimension looks like a
    /// channel count (1, 3 or 4); anything else is `Flat`.
    pub fn from_shape(shape: &[usize]) -> ImageLayout {
        let chan = |n: usize| matches!(n, 1 | 3 | 4);
        match *shape {
            [h, w] if h > 1 && w > 1 => ImageLayout::Nchw { c: 1, h, w },
            [a, h, w] if !chan(a) && chan(w) && a > 1 && h > 1 => {
                ImageLayout::Nhwc { h: a, w: h, c: w }
            }
            [c, h, w] if h > 1 && w > 1 && c >= 1 => ImageLayout::Nchw { c, h, w },
            _ => ImageLayout::Flat,
        }
    }

    /// The layout for a model: the user's shape (e.g. `[1, 8, 8]` for 64
    /// features) when given, else the model's declared record shape. Errors
    /// when the user's shape does not hold the model's feature count.
    pub fn for_model(graph: &Graph, user_shape: Option<&[usize]>) -> Result<Self, AttackError> {
        let declared = graph.input.record_shape();
        match user_shape {
            Some(s) => {
                // each dimension and the product range-checked (never wraps)
                let n = crate::settings::shape_len(s)?;
                if let Some(len) = graph.input.record_len() {
                    if n != len {
                        return Err(AttackError::Input(format!(
                            "input shape {s:?} holds {n} values, the model takes {len} per record"
                        )));
                    }
                }
                Ok(Self::from_shape(s))
            }
            None => Ok(declared.map(|d| Self::from_shape(&d)).unwrap_or(Self::Flat)),
        }
    }

    /// Values per record for image layouts.
    pub fn values(&self) -> Option<usize> {
        match *self {
            ImageLayout::Nchw { c, h, w } | ImageLayout::Nhwc { h, w, c } => Some(c * h * w),
            ImageLayout::Flat => None,
        }
    }

    pub fn is_image(&self) -> bool {
        !matches!(self, ImageLayout::Flat)
    }

    /// (channels, height, width) of an image layout.
    pub fn chw(&self) -> Option<(usize, usize, usize)> {
        match *self {
            ImageLayout::Nchw { c, h, w } | ImageLayout::Nhwc { h, w, c } => Some((c, h, w)),
            ImageLayout::Flat => None,
        }
    }

    /// Flat index of (channel, row, column).
    pub fn index(&self, ch: usize, y: usize, x: usize) -> usize {
        match *self {
            ImageLayout::Nchw { h, w, .. } => (ch * h + y) * w + x,
            ImageLayout::Nhwc { w, c, .. } => (y * w + x) * c + ch,
            ImageLayout::Flat => y,
        }
    }

    /// Error unless the layout is Flat or holds exactly `len` values.
    pub fn check(&self, len: usize) -> Result<(), AttackError> {
        match self.values() {
            Some(n) if n != len => Err(AttackError::Input(format!(
                "image layout {self:?} holds {n} values, the model takes {len} per record"
            ))),
            _ => Ok(()),
        }
    }
}

/// Why a search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopRule {
    /// `p_c >= 1 - gamma`
    TargetConfidence,
    /// cost did not improve on the max of the last `window` costs
    NoImprovement,
    /// `steps` (alpha) reached
    StepLimit,
    /// black-box query budget exhausted
    QueryBudget,
}

/// The result of one class's search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconstruction {
    pub class: usize,
    /// The best x seen, flat, in the model's input order.
    pub reconstruction: Vec<f32>,
    /// Per-record input shape.
    pub shape: Vec<usize>,
    /// `p_c` of the returned x.
    pub target_confidence: f64,
    /// cost of the returned x.
    pub cost: f64,
    /// Update steps run.
    pub steps: usize,
    pub stopped_by: StopRule,
    /// Model rows evaluated (see the module docs).
    pub queries: usize,
    /// Cost of every evaluated x_i (x_0 first); not in the report.
    #[serde(skip)]
    pub cost_trace: Vec<f64>,
}

/// One class in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassInversion {
    pub class: usize,
    pub target_confidence: f64,
    pub cost: f64,
    pub steps: usize,
    pub stopped_by: StopRule,
    pub queries: usize,
    pub shape: Vec<usize>,
    pub reconstruction: Vec<f32>,
    pub nearest_member_distance: Option<f64>,
    pub nearest_nonmember_distance: Option<f64>,
    pub class_mean_similarity: Option<f64>,
    pub similarity_kind: SimilarityKind,
    pub recognised: Option<bool>,
    /// The class the 1-NN classifier predicts for the reconstruction.
    pub nn_predicted_class: Option<usize>,
    /// The members' mean record of the class, in the model's input order
    /// (shown beside tabular reconstructions).
    pub members_class_mean: Option<Vec<f32>>,
}

/// The inversion report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InversionReport {
    pub mode: InversionMode,
    pub settings: InversionConfig,
    pub layout: ImageLayout,
    pub classes: Vec<ClassInversion>,
    /// Fraction of classes the 1-NN recognises (None without labelled data).
    pub recognised_fraction: Option<f64>,
    /// Rows the 1-NN classifier was fitted on (0 when none).
    pub classifier_rows: usize,
    /// Where the clip ranges and data mean came from: "data", "members +
    /// non-members" or "none".
    pub data_source: String,
}

/// Invert one class (see the module docs).
pub fn invert_class(
    target: &Target,
    class: usize,
    data: Option<&Records>,
    layout: &ImageLayout,
    cfg: &InversionConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Reconstruction, AttackError> {
    let mut r = invert_classes(target, &[class], data, layout, cfg, progress)?;
    r.pop()
        .ok_or_else(|| AttackError::Input("no reconstruction".into()))
}

/// Invert `classes` (all at once in one batch) and evaluate each. `data`
/// gives the data mean and clip ranges; without it, members + non-members
/// serve. The 1-NN classifier is fitted on members + non-members, else on
/// `data`.
#[allow(clippy::too_many_arguments)]
pub fn invert(
    target: &Target,
    classes: &[usize],
    data: Option<&Records>,
    members: Option<&Records>,
    nonmembers: Option<&Records>,
    layout: &ImageLayout,
    cfg: &InversionConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<InversionReport, AttackError> {
    let pooled = match (members, nonmembers) {
        (Some(m), Some(n)) => Some(Records::concat(&[m, n])?),
        (Some(m), None) => Some(m.clone()),
        (None, Some(n)) => Some(n.clone()),
        (None, None) => None,
    };
    let (range_data, data_source) = match (data, pooled.as_ref()) {
        (Some(d), _) => (Some(d), "data"),
        (None, Some(p)) => (Some(p), "members + non-members"),
        (None, None) => (None, "none"),
    };
    let recons = invert_classes(target, classes, range_data, layout, cfg, progress)?;
    let classifier = pooled.as_ref().or(data);
    let mut out = Vec::with_capacity(recons.len());
    for r in recons {
        let e = evaluate(&r, layout, members, nonmembers, classifier, range_data)?;
        out.push(ClassInversion {
            class: r.class,
            target_confidence: r.target_confidence,
            cost: r.cost,
            steps: r.steps,
            stopped_by: r.stopped_by,
            queries: r.queries,
            shape: r.shape,
            reconstruction: r.reconstruction,
            nearest_member_distance: e.nearest_member_distance,
            nearest_nonmember_distance: e.nearest_nonmember_distance,
            class_mean_similarity: e.class_mean_similarity,
            similarity_kind: e.similarity_kind,
            recognised: e.recognised,
            nn_predicted_class: e.nn_predicted_class,
            members_class_mean: e.members_class_mean,
        });
    }
    let judged: Vec<bool> = out.iter().filter_map(|c| c.recognised).collect();
    let recognised_fraction = (!judged.is_empty())
        .then(|| judged.iter().filter(|&&r| r).count() as f64 / judged.len() as f64);
    Ok(InversionReport {
        mode: cfg.mode,
        settings: cfg.clone(),
        layout: *layout,
        classes: out,
        recognised_fraction,
        classifier_rows: classifier.map_or(0, |c| c.len()),
        data_source: data_source.into(),
    })
}

/// An image-shaped reconstruction as 8-bit pixels: `(width, height,
/// channels, pixels)`, pixels row-major with interleaved channels, value
/// `round(255 * (v - lo) / (hi - lo))` clamped to [0, 255].
pub fn image_u8(
    recon: &[f32],
    layout: &ImageLayout,
    lo: f32,
    hi: f32,
) -> Result<(usize, usize, usize, Vec<u8>), AttackError> {
    let (c, h, w) = layout
        .chw()
        .ok_or_else(|| AttackError::Input("a flat (tabular) input is not an image".into()))?;
    layout.check(recon.len())?;
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return Err(AttackError::Input(format!(
            "pixel range must satisfy lo < hi, got [{lo}, {hi}]"
        )));
    }
    let mut px = Vec::with_capacity(c * h * w);
    for y in 0..h {
        for x in 0..w {
            for ch in 0..c {
                let v = recon[layout.index(ch, y, x)];
                let s = (255.0 * (v - lo) / (hi - lo)).round();
                px.push(if s.is_nan() {
                    0
                } else {
                    s.clamp(0.0, 255.0) as u8
                });
            }
        }
    }
    Ok((w, h, c, px))
}
