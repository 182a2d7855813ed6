//! The MI-Face search loop (white-box and NES black-box) and its objective.
//! Formulas and stop rules: see the parent module docs.

use super::{ImageLayout, InversionConfig, InversionMode, Reconstruction, StartPoint, StopRule};
use crate::attacks::membership::{AttackError, Progress, Records, Target};
use crate::engine::math::PortableMath;
use crate::engine::proba::as_matrix;
use crate::engine::{OutputKind, Tensor};
use ndarray::{Array2, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::collections::VecDeque;

/// Costs, `p_c` and d cost / d x ([rows, features], f64) of a batch.
pub type CostsAndGradients = (Vec<f64>, Vec<f64>, Array2<f64>);

/// Per-feature minimum, maximum and mean.
type Stats = (Vec<f32>, Vec<f32>, Vec<f32>);

/// The MI-Face cost `1 - p_c(x) + l2 ||x - x0||^2 + tv TV(x)` of a model.
pub struct Objective<'a> {
    pub target: Target<'a>,
    /// Per-record input shape (without the batch dimension).
    pub shape: Vec<usize>,
    pub layout: ImageLayout,
    pub l2: f64,
    pub tv: f64,
    /// The start point the L2 prior pulls towards (flat).
    pub x0: Vec<f32>,
}

impl<'a> Objective<'a> {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Stack flat rows into a model batch [rows, ...shape].
    pub fn batch(&self, rows: &[&[f32]]) -> Result<Tensor, AttackError> {
        let mut dims = vec![rows.len()];
        dims.extend_from_slice(&self.shape);
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_shape_vec(IxDyn(&dims), flat)
            .map_err(|e| AttackError::Input(format!("batch of {} rows: {e}", rows.len())))
    }

    fn check_classes(&self, k: usize, classes: &[usize]) -> Result<(), AttackError> {
        let width = if k == 1 { 2 } else { k };
        for &c in classes {
            if c >= width {
                return Err(AttackError::Input(format!(
                    "class {c} is outside the model's output ({width} classes, 0..{})",
                    width - 1
                )));
            }
        }
        Ok(())
    }

    /// `p_c` of every row of `x` for its class `classes[row]` (f64, the
    /// `engine::proba` convention).
    pub fn probabilities(&self, x: &Tensor, classes: &[usize]) -> Result<Vec<f64>, AttackError> {
        let out = self.target.graph.forward(self.target.params, x)?;
        let raw = as_matrix(&out)?;
        let (n, k) = raw.dim();
        self.check_classes(k, classes)?;
        if n != classes.len() {
            return Err(AttackError::Input(format!(
                "the model returned {n} rows for {} inputs",
                classes.len()
            )));
        }
        let kind = self.target.output_kind;
        let mut scratch = vec![0f32; k];
        Ok(classes
            .iter()
            .enumerate()
            .map(|(i, &c)| prob_and_grad(raw.row(i), kind, c, &mut scratch))
            .collect())
    }

    /// The prior part of the cost of one flat row.
    pub fn prior(&self, row: &[f32]) -> f64 {
        let mut s = 0.0;
        if self.l2 > 0.0 {
            let d2: f64 = row
                .iter()
                .zip(&self.x0)
                .map(|(&a, &b)| (a as f64 - b as f64).p_powi(2))
                .sum();
            s += self.l2 * d2;
        }
        if self.tv > 0.0 {
            if let Some((c, h, w)) = self.layout.chw() {
                let mut tv = 0.0;
                for ch in 0..c {
                    for y in 0..h {
                        for x in 0..w {
                            let v = row[self.layout.index(ch, y, x)] as f64;
                            if y + 1 < h {
                                tv += (row[self.layout.index(ch, y + 1, x)] as f64 - v).abs();
                            }
                            if x + 1 < w {
                                tv += (row[self.layout.index(ch, y, x + 1)] as f64 - v).abs();
                            }
                        }
                    }
                }
                s += self.tv * tv;
            }
        }
        s
    }

    /// Add the gradient of the prior at `row` to `g`.
    pub fn add_prior_grad(&self, row: &[f32], g: &mut [f64]) {
        if self.l2 > 0.0 {
            for ((gi, &a), &b) in g.iter_mut().zip(row).zip(&self.x0) {
                *gi += 2.0 * self.l2 * (a as f64 - b as f64);
            }
        }
        if self.tv > 0.0 {
            if let Some((c, h, w)) = self.layout.chw() {
                let sign = |d: f64| {
                    if d > 0.0 {
                        1.0
                    } else if d < 0.0 {
                        -1.0
                    } else {
                        0.0
                    }
                };
                for ch in 0..c {
                    for y in 0..h {
                        for x in 0..w {
                            let i = self.layout.index(ch, y, x);
                            let v = row[i] as f64;
                            let mut pair = |j: usize| {
                                let s = self.tv * sign(row[j] as f64 - v);
                                g[j] += s;
                                g[i] -= s;
                            };
                            if y + 1 < h {
                                pair(self.layout.index(ch, y + 1, x));
                            }
                            if x + 1 < w {
                                pair(self.layout.index(ch, y, x + 1));
                            }
                        }
                    }
                }
            }
        }
    }

    /// Costs and `p_c` of every row of `x` ([rows, ...shape]).
    pub fn costs(
        &self,
        x: &Tensor,
        classes: &[usize],
    ) -> Result<(Vec<f64>, Vec<f64>), AttackError> {
        let p = self.probabilities(x, classes)?;
        let rows = flat_rows(x, self.len())?;
        let costs = p
            .iter()
            .zip(rows.outer_iter())
            .map(|(&pc, r)| 1.0 - pc + self.prior(r.as_slice().unwrap_or(&[])))
            .collect();
        Ok((costs, p))
    }

    /// Costs, `p_c` and the exact gradient d cost / d x (rows flat, f64) of
    /// every row of `x`: one taped forward and one backward pass.
    pub fn gradients(
        &self,
        x: &Tensor,
        classes: &[usize],
    ) -> Result<CostsAndGradients, AttackError> {
        let graph = self.target.graph;
        let tape = graph.forward_tape(self.target.params, x)?;
        let out = tape.get(graph.output);
        let raw = as_matrix(out)?;
        let (n, k) = raw.dim();
        self.check_classes(k, classes)?;
        if n != classes.len() {
            return Err(AttackError::Input(format!(
                "the model returned {n} rows for {} inputs",
                classes.len()
            )));
        }
        let kind = self.target.output_kind;
        let mut pcs = Vec::with_capacity(n);
        let mut gout = vec![0f32; n * k];
        for (i, &c) in classes.iter().enumerate() {
            pcs.push(prob_and_grad(
                raw.row(i),
                kind,
                c,
                &mut gout[i * k..(i + 1) * k],
            ));
        }
        let gout = Tensor::from_shape_vec(out.raw_dim(), gout)
            .map_err(|e| AttackError::Input(format!("output gradient: {e}")))?;
        let grads = graph.backward(&tape, gout)?;
        let len = self.len();
        let gx = flat_rows(&grads.input, len)?;
        let xr = flat_rows(x, len)?;
        let mut g = gx.mapv(|v| v as f64);
        let mut costs = Vec::with_capacity(n);
        for (i, &pc) in pcs.iter().enumerate() {
            let row = xr.row(i);
            let row = row.as_slice().unwrap_or(&[]);
            costs.push(1.0 - pc + self.prior(row));
            let mut gi = g.row_mut(i);
            if let Some(gs) = gi.as_slice_mut() {
                self.add_prior_grad(row, gs);
            }
        }
        Ok((costs, pcs, g))
    }
}

/// `p_c` of one raw output row (f64, `engine::proba` convention) and
/// d(1 - p_c)/d row written into `g`.
fn prob_and_grad(row: ndarray::ArrayView1<f32>, kind: OutputKind, c: usize, g: &mut [f32]) -> f64 {
    let k = row.len();
    if k == 1 {
        let s = row[0] as f64;
        let (p1, dp1) = match kind {
            OutputKind::Probabilities => (
                s.clamp(0.0, 1.0),
                if (0.0..=1.0).contains(&s) { 1.0 } else { 0.0 },
            ),
            OutputKind::Logits => {
                let sg = sigmoid(s);
                (sg, sg * (1.0 - sg))
            }
        };
        // p_1 = p1, p_0 = 1 - p1
        return if c == 1 {
            g[0] = -dp1 as f32;
            p1
        } else {
            g[0] = dp1 as f32;
            1.0 - p1
        };
    }
    match kind {
        OutputKind::Probabilities => {
            let s = row[c] as f64;
            g.iter_mut().for_each(|v| *v = 0.0);
            g[c] = if (0.0..=1.0).contains(&s) { -1.0 } else { 0.0 };
            s.clamp(0.0, 1.0)
        }
        OutputKind::Logits => {
            let max = row.iter().fold(f64::NEG_INFINITY, |m, &z| m.max(z as f64));
            let e: Vec<f64> = row.iter().map(|&z| (z as f64 - max).p_exp()).collect();
            let sum: f64 = e.iter().sum();
            let pc = e[c] / sum;
            // d(-p_c)/dz_j = -p_c (delta_cj - p_j)
            for (j, gj) in g.iter_mut().enumerate() {
                let d = if j == c { 1.0 } else { 0.0 };
                *gj = (-pc * (d - e[j] / sum)) as f32;
            }
            pc
        }
    }
}

fn sigmoid(s: f64) -> f64 {
    if s >= 0.0 {
        1.0 / (1.0 + (-s).p_exp())
    } else {
        let e = s.p_exp();
        e / (1.0 + e)
    }
}

/// A batch as a standard-layout [rows, len] matrix.
fn flat_rows(x: &Tensor, len: usize) -> Result<Array2<f32>, AttackError> {
    let n = x.shape().first().copied().unwrap_or(0);
    x.as_standard_layout()
        .into_owned()
        .into_shape_with_order((n, len))
        .map_err(|e| AttackError::Input(format!("records of {len} values: {e}")))
}

/// Per-class search state.
struct State {
    class: usize,
    x: Vec<f32>,
    best_x: Vec<f32>,
    best_cost: f64,
    best_pc: f64,
    history: VecDeque<f64>,
    trace: Vec<f64>,
    steps: usize,
    queries: usize,
    stopped: Option<StopRule>,
    rng: ChaCha8Rng,
}

impl State {
    /// Record the cost of the current x and apply the stop rules.
    fn observe(&mut self, cost: f64, pc: f64, cfg: &InversionConfig) -> Result<(), AttackError> {
        if !cost.is_finite() {
            return Err(AttackError::Input(format!(
                "class {}: the cost became {cost} at step {} (the model output is not finite \
                 there; try a smaller lr or clipping to the data range)",
                self.class, self.steps
            )));
        }
        self.trace.push(cost);
        if cost < self.best_cost || self.trace.len() == 1 {
            self.best_cost = cost;
            self.best_pc = pc;
            self.best_x.clone_from(&self.x);
        }
        let window_max = self
            .history
            .iter()
            .cloned()
            .fold(f64::NEG_INFINITY, f64::max);
        if pc >= 1.0 - cfg.gamma {
            self.stopped = Some(StopRule::TargetConfidence);
        } else if self.history.len() >= cfg.window && cost >= window_max {
            self.stopped = Some(StopRule::NoImprovement);
        } else if self.steps >= cfg.steps {
            self.stopped = Some(StopRule::StepLimit);
        }
        self.history.push_back(cost);
        if self.history.len() > cfg.window {
            self.history.pop_front();
        }
        Ok(())
    }
}

/// The per-feature [min, max] of `data` and its mean, as flat vectors.
fn data_stats(data: &Records, len: usize) -> Result<Stats, AttackError> {
    if data.x.is_empty() || data.is_empty() {
        return Err(AttackError::Input("the data has no rows".into()));
    }
    let m = flat_rows(&data.x, len)?;
    let n = m.nrows() as f64;
    let mut lo = vec![f32::INFINITY; len];
    let mut hi = vec![f32::NEG_INFINITY; len];
    let mut sum = vec![0f64; len];
    for row in m.outer_iter() {
        for (j, &v) in row.iter().enumerate() {
            lo[j] = lo[j].min(v);
            hi[j] = hi[j].max(v);
            sum[j] += v as f64;
        }
    }
    Ok((lo, hi, sum.iter().map(|s| (s / n) as f32).collect()))
}

/// The per-record shape: declared by the model, else taken from the data,
/// else from an image layout.
pub(super) fn record_shape(
    target: &Target,
    data: Option<&Records>,
    layout: &ImageLayout,
) -> Result<Vec<usize>, AttackError> {
    if let Some(s) = target.graph.input.record_shape() {
        return Ok(s);
    }
    if let Some(d) = data {
        return Ok(d.x.shape()[1..].to_vec());
    }
    match *layout {
        ImageLayout::Nchw { c, h, w } => Ok(vec![c, h, w]),
        ImageLayout::Nhwc { h, w, c } => Ok(vec![h, w, c]),
        ImageLayout::Flat => Err(AttackError::Needs {
            attack: "model inversion".into(),
            what: "data or an input shape: the model's per-record shape is not fixed".into(),
        }),
    }
}

/// Run MI-Face for every class in `classes` at once (see the module docs).
pub fn invert_classes(
    target: &Target,
    classes: &[usize],
    data: Option<&Records>,
    layout: &ImageLayout,
    cfg: &InversionConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<Vec<Reconstruction>, AttackError> {
    cfg.validate()?;
    if classes.is_empty() {
        return Err(AttackError::Input("no class to invert".into()));
    }
    let k = target.num_classes;
    if let Some(&c) = classes.iter().find(|&&c| c >= k) {
        return Err(AttackError::Input(format!(
            "class {c} is outside the model's {k} classes (0..{})",
            k.saturating_sub(1)
        )));
    }
    let shape = record_shape(target, data, layout)?;
    let len: usize = shape.iter().product();
    layout.check(len)?;
    let stats = match data {
        Some(d) => {
            if d.x.shape()[1..].iter().product::<usize>() != len {
                return Err(AttackError::Input(format!(
                    "data records hold {} values, the model takes {len}",
                    d.x.shape()[1..].iter().product::<usize>()
                )));
            }
            Some(data_stats(d, len)?)
        }
        None => None,
    };
    let ranges = match (&stats, cfg.clip) {
        (Some((lo, hi, _)), true) => Some((lo.clone(), hi.clone())),
        _ => None,
    };
    let process = |x: &mut [f32]| {
        if let Some((lo, hi)) = &ranges {
            for ((v, &l), &h) in x.iter_mut().zip(lo).zip(hi) {
                *v = v.clamp(l, h);
            }
        }
    };
    let mut x0 = match cfg.start {
        StartPoint::Zeros => vec![0f32; len],
        StartPoint::DataMean => match &stats {
            Some((_, _, mean)) => mean.clone(),
            None => {
                return Err(AttackError::Needs {
                    attack: "model inversion".into(),
                    what: "data (a CSV) to start from the data mean".into(),
                })
            }
        },
    };
    process(&mut x0);
    let obj = Objective {
        target: *target,
        shape,
        layout: *layout,
        l2: cfg.l2,
        tv: cfg.tv,
        x0: x0.clone(),
    };
    let mut states: Vec<State> = classes
        .iter()
        .map(|&class| {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
            rng.set_stream(class as u64);
            State {
                class,
                x: x0.clone(),
                best_x: x0.clone(),
                best_cost: f64::INFINITY,
                best_pc: 0.0,
                history: VecDeque::new(),
                trace: Vec::new(),
                steps: 0,
                queries: 0,
                stopped: None,
                rng,
            }
        })
        .collect();
    let lr = cfg.lr;
    let n_dirs = cfg.nes_samples;
    let sigma = cfg.nes_sigma;
    let mut report = |states: &[State]| -> Result<(), AttackError> {
        let running = states.iter().filter(|s| s.stopped.is_none()).count();
        let done = states.iter().map(|s| s.steps).max().unwrap_or(0);
        let at = Progress {
            stage: format!(
                "model inversion: {running} of {} classes still running",
                states.len()
            ),
            done,
            total: cfg.steps,
        };
        if progress(at) {
            Ok(())
        } else {
            Err(AttackError::Cancelled)
        }
    };
    match cfg.mode {
        InversionMode::WhiteBox => loop {
            let active: Vec<usize> = (0..states.len())
                .filter(|&i| states[i].stopped.is_none())
                .collect();
            if active.is_empty() {
                break;
            }
            let rows: Vec<&[f32]> = active.iter().map(|&i| states[i].x.as_slice()).collect();
            let xb = obj.batch(&rows)?;
            let cls: Vec<usize> = active.iter().map(|&i| states[i].class).collect();
            let (costs, pcs, g) = obj.gradients(&xb, &cls)?;
            for (a, &i) in active.iter().enumerate() {
                let st = &mut states[i];
                st.queries += 1;
                st.observe(costs[a], pcs[a], cfg)?;
                if st.stopped.is_none() {
                    for (v, &gi) in st.x.iter_mut().zip(g.row(a)) {
                        *v = (*v as f64 - lr * gi) as f32;
                    }
                    process(&mut st.x);
                    st.steps += 1;
                }
            }
            report(&states)?;
        },
        InversionMode::BlackBox => {
            // x_0
            let rows: Vec<&[f32]> = states.iter().map(|s| s.x.as_slice()).collect();
            let (costs, pcs) = obj.costs(&obj.batch(&rows)?, classes)?;
            for (st, (&c, &p)) in states.iter_mut().zip(costs.iter().zip(&pcs)) {
                st.queries += 1;
                st.observe(c, p, cfg)?;
            }
            loop {
                for st in states.iter_mut().filter(|s| s.stopped.is_none()) {
                    if st.queries + 2 * n_dirs + 1 > cfg.query_budget {
                        st.stopped = Some(StopRule::QueryBudget);
                    }
                }
                let active: Vec<usize> = (0..states.len())
                    .filter(|&i| states[i].stopped.is_none())
                    .collect();
                if active.is_empty() {
                    break;
                }
                // NES directions, antithetic pairs, for every active class
                let mut dirs: Vec<Vec<Vec<f32>>> = Vec::with_capacity(active.len());
                let mut pts: Vec<Vec<f32>> = Vec::with_capacity(active.len() * 2 * n_dirs);
                let mut cls = Vec::with_capacity(pts.capacity());
                for &i in &active {
                    let st = &mut states[i];
                    let mut ds = Vec::with_capacity(n_dirs);
                    for _ in 0..n_dirs {
                        let u: Vec<f32> = (0..len)
                            .map(|_| st.rng.sample::<f64, _>(StandardNormal) as f32)
                            .collect();
                        for sgn in [1.0f64, -1.0] {
                            pts.push(
                                st.x.iter()
                                    .zip(&u)
                                    .map(|(&v, &ui)| (v as f64 + sgn * sigma * ui as f64) as f32)
                                    .collect(),
                            );
                            cls.push(st.class);
                        }
                        ds.push(u);
                    }
                    dirs.push(ds);
                }
                let prow: Vec<&[f32]> = pts.iter().map(|p| p.as_slice()).collect();
                let p = obj.probabilities(&obj.batch(&prow)?, &cls)?;
                for (a, &i) in active.iter().enumerate() {
                    let st = &mut states[i];
                    let mut g = vec![0f64; len];
                    for (d, u) in dirs[a].iter().enumerate() {
                        let base = (a * n_dirs + d) * 2;
                        // f = 1 - p_c
                        let diff = (1.0 - p[base]) - (1.0 - p[base + 1]);
                        for (gj, &uj) in g.iter_mut().zip(u) {
                            *gj += diff * uj as f64;
                        }
                    }
                    let scale = 1.0 / (2.0 * n_dirs as f64 * sigma);
                    for gj in g.iter_mut() {
                        *gj *= scale;
                    }
                    obj.add_prior_grad(&st.x, &mut g);
                    for (v, &gi) in st.x.iter_mut().zip(&g) {
                        *v = (*v as f64 - lr * gi) as f32;
                    }
                    process(&mut st.x);
                    st.steps += 1;
                    st.queries += 2 * n_dirs;
                }
                let rows: Vec<&[f32]> = active.iter().map(|&i| states[i].x.as_slice()).collect();
                let cls: Vec<usize> = active.iter().map(|&i| states[i].class).collect();
                let (costs, pcs) = obj.costs(&obj.batch(&rows)?, &cls)?;
                for (a, &i) in active.iter().enumerate() {
                    let st = &mut states[i];
                    st.queries += 1;
                    st.observe(costs[a], pcs[a], cfg)?;
                }
                report(&states)?;
            }
        }
    }
    Ok(states
        .into_iter()
        .map(|st| Reconstruction {
            class: st.class,
            reconstruction: st.best_x,
            shape: obj.shape.clone(),
            target_confidence: st.best_pc,
            cost: st.best_cost,
            steps: st.steps,
            stopped_by: st.stopped.unwrap_or(StopRule::StepLimit),
            queries: st.queries,
            cost_trace: st.trace,
        })
        .collect())
}
