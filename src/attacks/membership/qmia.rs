//! QMIA, the quantile-regression membership attack of Bertran et al.,
//! NeurIPS 2023 ("Scalable Membership Inference Attacks via Quantile
//! Regression"): no reference models, one small regressor fitted on
//! population records (never members).
//!
//! Contract (docs/attacks.md, "QMIA"):
//! - Signal: the target's logit-scaled confidence `phi(x, y)`
//!   ([`target_signals`]; the paper's code uses the hinge `z_y - max_{j!=y} z_j`,
//!   the issue pins phi, the signal LiRA uses).
//! - Population split: a seeded random `holdout` fraction (default 0.2,
//!   rounded down) of the population is held out; the rest fits the
//!   regressor. The fit part needs at least `max(`[`MIN_FIT`]`, ceil(1/alpha))`
//!   records and the held-out part at least [`MIN_HOLDOUT`]; otherwise
//!   [`AttackError::Needs`] naming the numbers (skipped, as without a
//!   population).
//! - Regressor: features = the record flattened, standardised with the fit
//!   part's per-feature mean and standard deviation (a constant feature is
//!   divided by 1); target = phi standardised by the fit part's mean and
//!   standard deviation. One hidden ReLU layer of `hidden` units and one
//!   output per class; the record's label picks its output (the authors'
//!   `use_target_dependent_scoring`), so the quantile is conditioned on
//!   (x, y). He-uniform first layer, `U(-1/sqrt(h), 1/sqrt(h))` second layer,
//!   output bias of class c starting at the empirical (1 - alpha) quantile
//!   of the fit part's standardised phi of class c (of all classes if c has
//!   none). f32 parameters, products by the fixed-order `engine::ops::gemm`,
//!   so native and wasm agree bit for bit.
//! - Loss: the mean pinball loss at tau = 1 - alpha,
//!   `rho(r) = max(tau r, (tau - 1) r)` with `r = target - prediction`
//!   (derivative in the prediction: `-tau` for r > 0, `1 - tau` otherwise),
//!   plus `l2 / 2 * (|W1|^2 + |W2|^2)` (no penalty on biases).
//! - Training: Adam (beta 0.9 / 0.999, eps 1e-8, learning rate `lr`),
//!   minibatches of `batch_size` in a seeded shuffled order, up to `epochs`
//!   epochs; after each epoch the held-out mean pinball loss is computed and
//!   the parameters with the lowest one are kept (early stopping: training
//!   stops after `patience` epochs without improvement; 0 = never).
//! - Score of a record = `phi(x, y) - q_hat(x, y)` (continuous, higher =
//!   member), `q_hat` mapped back to phi units.
//! - Progress once per epoch; cancelling returns [`AttackError::Cancelled`].
//! - Details: alpha, the split sizes, the epochs run and kept, the held-out
//!   pinball loss, and the coverage: the fraction of fit and of held-out
//!   population records whose phi lies above the predicted quantile
//!   (expected about alpha on the held-out part).

use super::references::target_signals;
use super::{AttackError, AttackOutput, AuditInputs, Progress, Records, Target};
use crate::engine::math::PortableMath;
use crate::engine::ops::gemm::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Fewest population records the regressor is fitted on.
pub const MIN_FIT: usize = 20;
/// Fewest held-out population records (early stopping and coverage).
pub const MIN_HOLDOUT: usize = 5;

/// QMIA settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QmiaConfig {
    /// The regressed quantile is 1 - alpha; 0 < alpha < 1.
    pub alpha: f64,
    /// Hidden ReLU units (1 to 1024).
    pub hidden: usize,
    /// Most training epochs (1 to 10000).
    pub epochs: usize,
    /// Adam learning rate (0 < lr <= 1).
    pub lr: f64,
    /// L2 penalty on the weights (0 to 100).
    pub l2: f64,
    /// Minibatch size (1 to 65536).
    pub batch_size: usize,
    /// Fraction of the population held out (0.05 to 0.5).
    pub holdout: f64,
    /// Epochs without improvement of the held-out loss before stopping
    /// (0 = train all `epochs`).
    pub patience: usize,
    pub seed: u64,
}

impl Default for QmiaConfig {
    fn default() -> Self {
        QmiaConfig {
            alpha: 0.01,
            hidden: 64,
            epochs: 300,
            lr: 1e-3,
            l2: 0.1,
            batch_size: 64,
            holdout: 0.2,
            patience: 30,
            seed: 0,
        }
    }
}

impl QmiaConfig {
    pub fn validate(&self) -> Result<(), AttackError> {
        let bad = |m: String| Err(AttackError::Config(m));
        crate::settings::Ranged::check_ranges(self)?;
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return bad(format!(
                "QMIA's alpha (the regressed quantile is 1 - alpha) must be in (0, 1), got {}",
                self.alpha
            ));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return bad(format!(
                "QMIA's learning rate must be in (0, 1], got {}",
                self.lr
            ));
        }
        if !(0.0..=100.0).contains(&self.l2) {
            return bad(format!("QMIA's L2 must be 0 to 100, got {}", self.l2));
        }
        if !(0.05..=0.5).contains(&self.holdout) {
            return bad(format!(
                "QMIA's held-out fraction must be 0.05 to 0.5, got {}",
                self.holdout
            ));
        }
        Ok(())
    }

    /// Fewest fit records for this alpha: `max(MIN_FIT, ceil(1 / alpha))`
    /// (a (1 - alpha) quantile is not identified by fewer).
    pub fn min_fit(&self) -> usize {
        MIN_FIT.max((1.0 / self.alpha).ceil() as usize)
    }
}

impl crate::settings::Ranged for QmiaConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::*;
        vec![
            (QMIA_HIDDEN, some(self.hidden)),
            (QMIA_EPOCHS, some(self.epochs)),
            (QMIA_BATCH, some(self.batch_size)),
            (QMIA_PATIENCE, some(self.patience)),
        ]
    }
}

/// The pinball (quantile) loss at `tau` of a prediction `q` for `y`.
pub fn pinball(y: f64, q: f64, tau: f64) -> f64 {
    let r = y - q;
    if r > 0.0 {
        tau * r
    } else {
        (tau - 1.0) * r
    }
}

/// d pinball / d q (the subgradient `1 - tau` at r = 0).
pub fn pinball_grad(y: f64, q: f64, tau: f64) -> f64 {
    if y - q > 0.0 {
        -tau
    } else {
        1.0 - tau
    }
}

/// The regressor's parameters (standardised space).
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    /// [d, h]
    pub w1: Array2<f32>,
    pub b1: Array1<f32>,
    /// [h, c]
    pub w2: Array2<f32>,
    pub b2: Array1<f32>,
}

impl MlpParams {
    fn zeros_like(&self) -> MlpParams {
        MlpParams {
            w1: Array2::zeros(self.w1.raw_dim()),
            b1: Array1::zeros(self.b1.raw_dim()),
            w2: Array2::zeros(self.w2.raw_dim()),
            b2: Array1::zeros(self.b2.raw_dim()),
        }
    }

    fn slices_mut(&mut self) -> [&mut [f32]; 4] {
        [
            self.w1.as_slice_mut().expect("standard layout"),
            self.b1.as_slice_mut().expect("standard layout"),
            self.w2.as_slice_mut().expect("standard layout"),
            self.b2.as_slice_mut().expect("standard layout"),
        ]
    }

    /// Hidden activations [n, h] and outputs [n, c] for standardised `x`.
    fn forward(&self, x: &ArrayView2<f32>) -> (Array2<f32>, Array2<f32>) {
        let n = x.nrows();
        let mut h = Array2::zeros((n, self.w1.ncols()));
        general_mat_mul(1.0, x, &self.w1, 0.0, &mut h);
        for mut row in h.rows_mut() {
            for (v, &b) in row.iter_mut().zip(&self.b1) {
                *v = (*v + b).max(0.0);
            }
        }
        let mut out = Array2::zeros((n, self.w2.ncols()));
        general_mat_mul(1.0, &h, &self.w2, 0.0, &mut out);
        for mut row in out.rows_mut() {
            for (v, &b) in row.iter_mut().zip(&self.b2) {
                *v += b;
            }
        }
        (h, out)
    }

    /// The label's output per record.
    pub fn predict(&self, x: &ArrayView2<f32>, labels: &[usize]) -> Vec<f64> {
        let (_, out) = self.forward(x);
        labels
            .iter()
            .enumerate()
            .map(|(i, &c)| out[[i, c]] as f64)
            .collect()
    }

    /// Mean pinball loss at `tau` plus `l2/2 (|W1|^2 + |W2|^2)`, and its
    /// gradient, on the rows `x` with targets `y` and labels `labels`.
    pub fn loss_and_grad(
        &self,
        x: &ArrayView2<f32>,
        y: &[f32],
        labels: &[usize],
        tau: f64,
        l2: f64,
    ) -> (f64, MlpParams) {
        let n = x.nrows();
        let (h, out) = self.forward(x);
        let mut g = self.zeros_like();
        let mut d_out = Array2::<f32>::zeros(out.raw_dim());
        let mut loss = 0.0f64;
        let inv_n = 1.0 / n.max(1) as f64;
        for (i, (&c, &t)) in labels.iter().zip(y).enumerate() {
            let q = out[[i, c]] as f64;
            loss += pinball(t as f64, q, tau);
            d_out[[i, c]] = (pinball_grad(t as f64, q, tau) * inv_n) as f32;
        }
        loss *= inv_n;
        let sq = |a: &Array2<f32>| a.iter().map(|&v| v as f64 * v as f64).sum::<f64>();
        loss += 0.5 * l2 * (sq(&self.w1) + sq(&self.w2));
        // output layer
        general_mat_mul(1.0, &h.t(), &d_out, 0.0, &mut g.w2);
        g.b2 = d_out.sum_axis(Axis(0));
        // hidden layer (ReLU: gradient where the activation is positive)
        let mut d_h = Array2::<f32>::zeros(h.raw_dim());
        general_mat_mul(1.0, &d_out, &self.w2.t(), 0.0, &mut d_h);
        ndarray::Zip::from(&mut d_h)
            .and(&h)
            .for_each(|d, &a| *d = if a > 0.0 { *d } else { 0.0 });
        general_mat_mul(1.0, &x.t(), &d_h, 0.0, &mut g.w1);
        g.b1 = d_h.sum_axis(Axis(0));
        if l2 > 0.0 {
            let l = l2 as f32;
            g.w1.zip_mut_with(&self.w1, |d, &w| *d += l * w);
            g.w2.zip_mut_with(&self.w2, |d, &w| *d += l * w);
        }
        (loss, g)
    }
}

/// What the fit did, for the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FitInfo {
    pub epochs_run: usize,
    /// The epoch whose parameters are kept (0 = the initial ones).
    pub best_epoch: usize,
    /// Mean held-out pinball loss of the kept parameters (phi units).
    pub holdout_pinball: f64,
    pub stopped_early: bool,
}

/// A fitted quantile regressor: standardisation plus the MLP.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileRegressor {
    pub params: MlpParams,
    pub x_mean: Vec<f32>,
    pub x_scale: Vec<f32>,
    pub y_mean: f64,
    pub y_scale: f64,
    pub info: FitInfo,
}

/// Records as an [n, d] f32 matrix (each record flattened).
pub fn flatten(r: &Records) -> Result<Array2<f32>, AttackError> {
    let n = r.len();
    let d = r.x.len().checked_div(n).unwrap_or(0);
    r.x.to_shape((n, d))
        .map(|v| v.to_owned())
        .map_err(|e| AttackError::Input(format!("records cannot be flattened: {e}")))
}

fn standardise(x: &Array2<f32>, mean: &[f32], scale: &[f32]) -> Array2<f32> {
    let mut z = x.clone();
    for mut row in z.rows_mut() {
        for ((v, &m), &s) in row.iter_mut().zip(mean).zip(scale) {
            *v = (*v - m) / s;
        }
    }
    z
}

/// Empirical `q`-quantile (the order statistic at `ceil(q n) - 1`, as in
/// conformal prediction; `values` not empty).
fn empirical_quantile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[k - 1]
}

impl QuantileRegressor {
    /// Fit on (`x_fit`, `y_fit`, labels) with early stopping on the held-out
    /// rows; `classes` outputs.
    #[allow(clippy::too_many_arguments)]
    pub fn fit(
        x_fit: &Array2<f32>,
        y_fit: &[f64],
        l_fit: &[usize],
        x_hold: &Array2<f32>,
        y_hold: &[f64],
        l_hold: &[usize],
        classes: usize,
        cfg: &QmiaConfig,
        progress: &mut dyn FnMut(Progress) -> bool,
    ) -> Result<QuantileRegressor, AttackError> {
        cfg.validate()?;
        let n = x_fit.nrows();
        let d = x_fit.ncols();
        if n == 0 || y_fit.len() != n || l_fit.len() != n {
            return Err(AttackError::Input(format!(
                "QMIA: {n} fit records with {} targets and {} labels",
                y_fit.len(),
                l_fit.len()
            )));
        }
        if let Some(&c) = l_fit.iter().chain(l_hold).find(|&&c| c >= classes) {
            return Err(AttackError::Input(format!(
                "QMIA: label {c} outside the model's {classes} classes"
            )));
        }
        let tau = 1.0 - cfg.alpha;
        // standardisation from the fit part
        let mut x_mean = vec![0f32; d];
        let mut x_scale = vec![1f32; d];
        for j in 0..d {
            let col = x_fit.column(j);
            let m = col.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            let var = col
                .iter()
                .map(|&v| (v as f64 - m) * (v as f64 - m))
                .sum::<f64>()
                / n as f64;
            x_mean[j] = m as f32;
            let s = var.sqrt();
            x_scale[j] = if s > 1e-12 { s as f32 } else { 1.0 };
        }
        let y_mean = y_fit.iter().sum::<f64>() / n as f64;
        let y_sd = (y_fit
            .iter()
            .map(|v| (v - y_mean) * (v - y_mean))
            .sum::<f64>()
            / n as f64)
            .sqrt();
        let y_scale = if y_sd > 1e-12 { y_sd } else { 1.0 };
        let xf = standardise(x_fit, &x_mean, &x_scale);
        let xh = standardise(x_hold, &x_mean, &x_scale);
        let yf: Vec<f64> = y_fit.iter().map(|v| (v - y_mean) / y_scale).collect();
        let yf32: Vec<f32> = yf.iter().map(|&v| v as f32).collect();
        let yh: Vec<f64> = y_hold.iter().map(|v| (v - y_mean) / y_scale).collect();

        // initialisation
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let h = cfg.hidden;
        let b1 = (6.0 / d.max(1) as f32).sqrt();
        let b2 = 1.0 / (h as f32).sqrt();
        let all_q = empirical_quantile(&yf, tau);
        let bias: Vec<f32> = (0..classes)
            .map(|c| {
                let of_c: Vec<f64> = yf
                    .iter()
                    .zip(l_fit)
                    .filter(|(_, &l)| l == c)
                    .map(|(&v, _)| v)
                    .collect();
                if of_c.is_empty() {
                    all_q as f32
                } else {
                    empirical_quantile(&of_c, tau) as f32
                }
            })
            .collect();
        let mut p = MlpParams {
            w1: Array2::from_shape_simple_fn((d, h), || rng.gen_range(-b1..=b1)),
            b1: Array1::zeros(h),
            w2: Array2::from_shape_simple_fn((h, classes), || rng.gen_range(-b2..=b2)),
            b2: Array1::from(bias),
        };
        let hold_loss = |p: &MlpParams| -> f64 {
            if yh.is_empty() {
                return 0.0;
            }
            let q = p.predict(&xh.view(), l_hold);
            q.iter()
                .zip(&yh)
                .map(|(&q, &y)| pinball(y, q, tau))
                .sum::<f64>()
                / yh.len() as f64
        };
        let mut best = p.clone();
        let mut best_loss = hold_loss(&p);
        let mut best_epoch = 0;
        let mut m = p.zeros_like();
        let mut v = p.zeros_like();
        let (beta1, beta2, eps, lr) = (0.9f32, 0.999f32, 1e-8f32, cfg.lr as f32);
        let mut step = 0i32;
        let mut idx: Vec<usize> = (0..n).collect();
        let mut epochs_run = 0;
        let mut stopped_early = false;
        for epoch in 1..=cfg.epochs {
            if !progress(Progress {
                stage: format!("fitting the quantile regressor, epoch {epoch}"),
                done: epoch - 1,
                total: cfg.epochs,
            }) {
                return Err(AttackError::Cancelled);
            }
            idx.shuffle(&mut rng);
            for chunk in idx.chunks(cfg.batch_size) {
                let xb = xf.select(Axis(0), chunk);
                let yb: Vec<f32> = chunk.iter().map(|&i| yf32[i]).collect();
                let lb: Vec<usize> = chunk.iter().map(|&i| l_fit[i]).collect();
                let (loss, mut g) = p.loss_and_grad(&xb.view(), &yb, &lb, tau, cfg.l2);
                if !loss.is_finite() {
                    return Err(AttackError::Input(format!(
                        "QMIA's regressor diverged at epoch {epoch} (loss {loss}); \
                         try a smaller learning rate than {}",
                        cfg.lr
                    )));
                }
                step = step.saturating_add(1);
                let bc1 = 1.0 - beta1.p_powi(step);
                let bc2 = 1.0 - beta2.p_powi(step);
                for ((ps, gs), (ms, vs)) in p
                    .slices_mut()
                    .into_iter()
                    .zip(g.slices_mut())
                    .zip(m.slices_mut().into_iter().zip(v.slices_mut()))
                {
                    for (((w, &gi), a), b) in ps.iter_mut().zip(gs.iter()).zip(ms).zip(vs) {
                        *a = beta1 * *a + (1.0 - beta1) * gi;
                        *b = beta2 * *b + (1.0 - beta2) * gi * gi;
                        let mhat = *a / bc1;
                        let vhat = *b / bc2;
                        *w -= lr * mhat / (vhat.sqrt() + eps);
                    }
                }
            }
            epochs_run = epoch;
            let l = hold_loss(&p);
            if l < best_loss {
                best_loss = l;
                best = p.clone();
                best_epoch = epoch;
            } else if cfg.patience > 0 && epoch - best_epoch >= cfg.patience {
                stopped_early = epoch < cfg.epochs;
                break;
            }
        }
        Ok(QuantileRegressor {
            params: best,
            x_mean,
            x_scale,
            y_mean,
            y_scale,
            info: FitInfo {
                epochs_run,
                best_epoch,
                holdout_pinball: best_loss * y_scale,
                stopped_early,
            },
        })
    }

    /// The predicted (1 - alpha) quantile of phi (phi units) per record.
    pub fn predict(&self, x: &Array2<f32>, labels: &[usize]) -> Vec<f64> {
        let z = standardise(x, &self.x_mean, &self.x_scale);
        self.params
            .predict(&z.view(), labels)
            .into_iter()
            .map(|q| self.y_mean + self.y_scale * q)
            .collect()
    }
}

/// Fraction of `y` strictly above `q`.
fn exceedance(y: &[f64], q: &[f64]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    y.iter().zip(q).filter(|(y, q)| y > q).count() as f64 / y.len() as f64
}

/// Run QMIA.
pub fn qmia(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &QmiaConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AttackOutput, AttackError> {
    cfg.validate()?;
    let min_fit = cfg.min_fit();
    let pop = match &inputs.population {
        Some(p) => p,
        None => {
            return Err(AttackError::Needs {
                attack: "QMIA".into(),
                what: "a population CSV (records never used in training) to fit its quantile \
                       regressor on"
                    .into(),
            })
        }
    };
    let n = pop.len();
    let n_hold = (n as f64 * cfg.holdout).floor() as usize;
    let n_fit = n - n_hold;
    if n_fit < min_fit || n_hold < MIN_HOLDOUT {
        let split = |n: usize| {
            let h = (n as f64 * cfg.holdout).floor() as usize;
            (n - h, h)
        };
        // the smallest population that splits into enough of both
        let mut need =
            ((min_fit as f64 / (1.0 - cfg.holdout)).max(MIN_HOLDOUT as f64 / cfg.holdout) as usize)
                .saturating_sub(2)
                .max(1);
        while {
            let (f, h) = split(need);
            f < min_fit || h < MIN_HOLDOUT
        } {
            need += 1;
        }
        return Err(AttackError::Needs {
            attack: "QMIA".into(),
            what: format!(
                "at least {need} population records: {min_fit} to fit its {}-quantile regressor \
                 on (max({MIN_FIT}, 1/alpha)) once {}% are held out, and at least {MIN_HOLDOUT} \
                 held out; got {n} ({n_fit} to fit, {n_hold} held out)",
                1.0 - cfg.alpha,
                cfg.holdout * 100.0
            ),
        });
    }
    let classes = target.num_classes.max(2);
    let (_, phi_pop) = target_signals(target, pop)?;
    let (_, phi_m) = target_signals(target, &inputs.members)?;
    let (_, phi_n) = target_signals(target, &inputs.nonmembers)?;

    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x716d_6961));
    let (hold_idx, fit_idx) = idx.split_at(n_hold);
    let x_pop = flatten(pop)?;
    let part = |ix: &[usize]| {
        (
            x_pop.select(Axis(0), ix),
            ix.iter().map(|&i| phi_pop[i]).collect::<Vec<f64>>(),
            ix.iter().map(|&i| pop.y[i]).collect::<Vec<usize>>(),
        )
    };
    let (xf, yf, lf) = part(fit_idx);
    let (xh, yh, lh) = part(hold_idx);
    let reg = QuantileRegressor::fit(&xf, &yf, &lf, &xh, &yh, &lh, classes, cfg, progress)?;

    let score = |r: &Records, phi: &[f64]| -> Result<Vec<f64>, AttackError> {
        let q = reg.predict(&flatten(r)?, &r.y);
        Ok(phi.iter().zip(&q).map(|(p, q)| p - q).collect())
    };
    let members = score(&inputs.members, &phi_m)?;
    let nonmembers = score(&inputs.nonmembers, &phi_n)?;
    let fit_cov = exceedance(&yf, &reg.predict(&xf, &lf));
    let hold_cov = exceedance(&yh, &reg.predict(&xh, &lh));
    Ok(AttackOutput {
        members,
        nonmembers,
        details: serde_json::json!({
            "attack": "qmia",
            "label": "quantile regression on population records (Bertran et al. 2023)",
            "signal": "phi (logit-scaled confidence of the true label)",
            "score": "phi(x, y) - q_hat(x, y)",
            "alpha": cfg.alpha,
            "quantile": 1.0 - cfg.alpha,
            "regressor": format!(
                "MLP: standardised features -> {} ReLU -> one output per class (the label picks it), pinball loss",
                cfg.hidden
            ),
            "hidden": cfg.hidden,
            "maxEpochs": cfg.epochs,
            "lr": cfg.lr,
            "l2": cfg.l2,
            "batchSize": cfg.batch_size,
            "patience": cfg.patience,
            "populationSize": n,
            "fitSize": n_fit,
            "holdoutSize": n_hold,
            "fit": reg.info,
            "fitExceedance": fit_cov,
            "holdoutExceedance": hold_cov,
            "seed": cfg.seed,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_params(d: usize, h: usize, c: usize, seed: u64) -> MlpParams {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut u = |_: usize| rng.gen_range(-1.0f32..1.0);
        MlpParams {
            w1: Array2::from_shape_fn((d, h), |_| u(0)),
            b1: Array1::from_shape_fn(h, |_| u(0) * 0.5),
            w2: Array2::from_shape_fn((h, c), |_| u(0)),
            b2: Array1::from_shape_fn(c, |_| u(0)),
        }
    }

    #[test]
    fn pinball_gradient_matches_finite_differences() {
        for &tau in &[0.5, 0.9, 0.99] {
            for &(y, q) in &[(1.0, 0.3), (-2.0, 0.5), (0.7, 0.69), (3.0, 3.5)] {
                let e = 1e-6;
                let fd = (pinball(y, q + e, tau) - pinball(y, q - e, tau)) / (2.0 * e);
                let g = pinball_grad(y, q, tau);
                assert!((fd - g).abs() < 1e-6, "tau {tau} y {y} q {q}: {fd} vs {g}");
            }
            // the loss is never negative, and zero at r = 0
            assert_eq!(pinball(1.0, 1.0, tau), 0.0);
            assert!(pinball(1.0, 2.0, tau) > 0.0 && pinball(2.0, 1.0, tau) > 0.0);
        }
    }

    #[test]
    fn mlp_gradient_matches_finite_differences() {
        let (d, h, c, n) = (3, 5, 3, 9);
        let base = rand_params(d, h, c, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let x = Array2::from_shape_fn((n, d), |_| rng.gen_range(-2.0f32..2.0));
        let y: Vec<f32> = (0..n).map(|_| rng.gen_range(-2.0f32..2.0)).collect();
        let labels: Vec<usize> = (0..n).map(|i| i % c).collect();
        let (tau, l2) = (0.9, 0.1);
        let (_, g) = base.loss_and_grad(&x.view(), &y, &labels, tau, l2);
        let mut g = g;
        let grads: Vec<Vec<f32>> = g.slices_mut().iter().map(|s| s.to_vec()).collect();
        let e = 1e-2f32;
        let mut checked = 0;
        for (part, gp) in grads.iter().enumerate() {
            for (k, &gk) in gp.iter().enumerate() {
                let mut plus = base.clone();
                plus.slices_mut()[part][k] += e;
                let mut minus = base.clone();
                minus.slices_mut()[part][k] -= e;
                let lp = plus.loss_and_grad(&x.view(), &y, &labels, tau, l2).0;
                let lm = minus.loss_and_grad(&x.view(), &y, &labels, tau, l2).0;
                let fd = (lp - lm) / (2.0 * e as f64);
                // a kink (ReLU or pinball) inside [w - e, w + e] makes the
                // difference quotient a mix of two slopes: skip those by
                // checking that both one-sided quotients agree
                let l0 = base.loss_and_grad(&x.view(), &y, &labels, tau, l2).0;
                let right = (lp - l0) / e as f64;
                let left = (l0 - lm) / e as f64;
                if (right - left).abs() > 1e-2 * (1.0 + fd.abs()) + 1e-3 {
                    continue;
                }
                checked += 1;
                assert!(
                    (fd - gk as f64).abs() <= 2e-3 * (1.0 + fd.abs()),
                    "part {part} index {k}: finite difference {fd}, gradient {gk}"
                );
            }
        }
        let total: usize = grads.iter().map(|g| g.len()).sum();
        assert!(
            checked * 10 >= total * 8,
            "only {checked} of {total} parameters away from kinks"
        );
    }

    /// Heteroscedastic synthetic data: y = x0 + (0.2 + |x1|) * noise; the
    /// fitted 0.9 quantile must cover about 90% of fresh points (within a
    /// binomial 4-sigma band), and condition on x (beat the constant
    /// quantile's pinball loss).
    #[test]
    fn fitted_quantile_covers_one_minus_alpha_of_held_out_points() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut draw = |n: usize| {
            let x = Array2::from_shape_fn((n, 2), |_| rng.gen_range(-1.0f32..1.0));
            let y: Vec<f64> = (0..n)
                .map(|i| {
                    let z: f64 =
                        rand_distr::Distribution::sample(&rand_distr::StandardNormal, &mut rng);
                    x[[i, 0]] as f64 + (0.2 + (x[[i, 1]] as f64).abs()) * z
                })
                .collect();
            (x, y)
        };
        let (xf, yf) = draw(2000);
        let (xh, yh) = draw(400);
        let (xt, yt) = draw(4000);
        let alpha = 0.1;
        let cfg = QmiaConfig {
            alpha,
            hidden: 32,
            epochs: 200,
            lr: 1e-2,
            l2: 0.0,
            ..QmiaConfig::default()
        };
        let lf = vec![0; xf.nrows()];
        let lh = vec![0; xh.nrows()];
        let lt = vec![0; xt.nrows()];
        let reg =
            QuantileRegressor::fit(&xf, &yf, &lf, &xh, &yh, &lh, 1, &cfg, &mut |_| true).unwrap();
        let q = reg.predict(&xt, &lt);
        let above = exceedance(&yt, &q);
        let sd = (alpha * (1.0 - alpha) / yt.len() as f64).sqrt();
        assert!(
            (above - alpha).abs() < 4.0 * sd + 0.01,
            "{above} of fresh points above the 0.9 quantile (expected {alpha} +- {})",
            4.0 * sd
        );
        let tau = 1.0 - alpha;
        let mean_loss = |q: &[f64]| {
            yt.iter()
                .zip(q)
                .map(|(&y, &q)| pinball(y, q, tau))
                .sum::<f64>()
                / yt.len() as f64
        };
        let constant = vec![empirical_quantile(&yf, tau); yt.len()];
        let (fitted, flat) = (mean_loss(&q), mean_loss(&constant));
        assert!(
            fitted < 0.8 * flat,
            "the regressor should use x: pinball {fitted} vs constant {flat}"
        );
        // determinism
        let again =
            QuantileRegressor::fit(&xf, &yf, &lf, &xh, &yh, &lh, 1, &cfg, &mut |_| true).unwrap();
        assert!(again == reg);
    }

    #[test]
    fn settings_out_of_range_are_named() {
        let bad = |c: QmiaConfig, what: &str| {
            let e = c.validate().unwrap_err();
            assert_eq!(e.code(), "bad_config");
            assert!(e.to_string().contains(what), "{e}");
        };
        let d = QmiaConfig::default;
        bad(QmiaConfig { alpha: 0.0, ..d() }, "alpha");
        bad(
            QmiaConfig {
                alpha: f64::NAN,
                ..d()
            },
            "NaN",
        );
        bad(
            QmiaConfig { hidden: 0, ..d() },
            "QMIA's hidden width (qmia.hidden) must be 1 to 1,024, got 0",
        );
        bad(QmiaConfig { epochs: 0, ..d() }, "epochs");
        bad(QmiaConfig { lr: -1.0, ..d() }, "got -1");
        bad(QmiaConfig { l2: 1e9, ..d() }, "L2");
        bad(
            QmiaConfig {
                batch_size: 0,
                ..d()
            },
            "batch size",
        );
        bad(
            QmiaConfig {
                holdout: 0.9,
                ..d()
            },
            "0.9",
        );
        assert!(d().validate().is_ok());
        assert_eq!(d().min_fit(), 100);
        assert_eq!(QmiaConfig { alpha: 0.2, ..d() }.min_fit(), MIN_FIT);
    }
}
