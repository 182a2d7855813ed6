//! `boundary_distance`: the label-only, query-only boundary-distance attack
//! (Choquette-Choo et al. 2021, with the HopSkipJump search of Chen, Jordan,
//! Wainwright 2020, as in IBM ART's `LabelOnlyDecisionBoundary`).
//!
//! The search never sees a probability, a logit or a gradient: it gets an
//! oracle that returns the predicted label (argmax of the class
//! probabilities, first maximum on ties) of a batch of points, and counts
//! every point it asks about against a per-record budget.
//!
//! Contract (score higher = more likely a member, in input row order):
//! - A record whose label is already wrong scores 0 (one query).
//! - **Start**: up to `init_tries` points drawn uniformly in the data range
//!   (per feature [min, max] over all supplied records) until one is
//!   predicted as another class; then a bisection on the segment from the
//!   record to it, to a point just on the other side of the boundary.
//! - **Iteration** t = 1, 2, ... (at most `max_iter`), at the boundary point
//!   x_b with distance `dist` to the record x (d features):
//!   1. gradient-direction estimate from the labels of n_t = min(init_eval *
//!      sqrt(t), max_eval) points x_b + delta u_i, u_i uniform on the unit
//!      sphere, delta = dist / d (the paper's sqrt(d) theta dist with theta =
//!      d^(-3/2)), clipped to the range: with phi_i = +1 where the label
//!      differs from y and -1 elsewhere, g = mean((phi_i - mean phi) v_i)
//!      (g = mean(phi_i v_i) when all phi_i agree), v_i the clipped offsets
//!      divided by delta; g normalised;
//!   2. geometric step: eps = dist / sqrt(t), halved until x_b + eps g
//!      (clipped) is predicted as another class (at most `max_halvings`);
//!   3. bisection between x and that point back to the boundary.
//!
//!   Bisections stop when the blend interval is below theta = d^(-3/2)
//!   (relative to the segment), and always keep the side that is predicted
//!   as another class, so every reported point does change the label.
//! - **Score**: the L2 distance (input units, over all features of the
//!   flattened record) from x to the closest label-changing point found. A
//!   record for which no point with another label was found within the
//!   budget scores the cap `max(data-range diagonal, largest distance
//!   found)`, as the white-box variant does.
//! - **Budget**: at most `max_queries` model queries per record, the first
//!   label query included; a phase that would exceed it is cut short (the
//!   gradient estimate uses fewer points, a step or bisection stops early).
//!   The details record the budget and the queries used (mean and max).
//! - Randomness: ChaCha8 seeded with `seed`, one stream per record (row index
//!   in members-then-non-members order), so results do not depend on
//!   batching; queries of many records go to the engine together (at most
//!   [`MAX_ROWS`] rows per call).

use super::label_only::FeatureStats;
use super::signals::{check_labels, classes_of_width};
use super::{predict_probs, AttackError, AttackOutput, AuditInputs, Progress, Records, Target};
use crate::engine::Tensor;
use ndarray::IxDyn;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Most points per engine call.
pub const MAX_ROWS: usize = 8192;

/// Settings of the query-only `boundary_distance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryBoundaryConfig {
    /// Model queries per record, everything included.
    pub max_queries: usize,
    /// HopSkipJump iterations.
    pub max_iter: usize,
    /// Points of the first gradient estimate (grows with sqrt(t)).
    pub init_eval: usize,
    /// Most points of one gradient estimate.
    pub max_eval: usize,
    /// Random starting points tried.
    pub init_tries: usize,
    /// Halvings of the geometric step.
    pub max_halvings: usize,
    /// Keep every point within [min, max] of the supplied records.
    pub clip_to_data_range: bool,
    /// Records searched together.
    pub batch_size: usize,
    pub seed: u64,
}

impl Default for QueryBoundaryConfig {
    fn default() -> Self {
        QueryBoundaryConfig {
            max_queries: 2500,
            max_iter: 40,
            init_eval: 50,
            max_eval: 500,
            init_tries: 100,
            max_halvings: 10,
            clip_to_data_range: true,
            batch_size: 64,
            seed: 0,
        }
    }
}

impl QueryBoundaryConfig {
    pub fn validate(&self) -> Result<(), AttackError> {
        use crate::settings::Ranged;
        self.check_ranges()?;
        if self.max_eval < self.init_eval {
            return Err(AttackError::Config(format!(
                "boundary_distance: need init_eval <= max_eval, got {} and {}",
                self.init_eval, self.max_eval
            )));
        }
        Ok(())
    }
}

impl crate::settings::Ranged for QueryBoundaryConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::*;
        vec![
            (BOUNDARY_QUERIES, some(self.max_queries)),
            (BOUNDARY_ITER, some(self.max_iter)),
            (BOUNDARY_INIT_EVAL, some(self.init_eval)),
            (BOUNDARY_MAX_EVAL, some(self.max_eval)),
            (BOUNDARY_INIT_TRIES, some(self.init_tries)),
            (BOUNDARY_HALVINGS, some(self.max_halvings)),
            (BOUNDARY_BATCH, some(self.batch_size)),
        ]
    }
}

/// Outcome of the query-only search for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryStatus {
    Misclassified,
    Found,
    NotFound,
}

/// One record's result.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPoint {
    pub status: QueryStatus,
    /// Distance to `point` (0 when misclassified).
    pub distance: f64,
    /// The closest label-changing point found.
    pub point: Option<Vec<f32>>,
    /// Model queries used for this record.
    pub queries: usize,
    /// HopSkipJump iterations completed.
    pub iterations: usize,
}

/// A label oracle: the predicted label of each of `n` points (row-major,
/// `n * d` values). The search sees nothing else of the model.
pub type LabelOracle<'a> = dyn FnMut(&[f32], usize) -> Result<Vec<usize>, AttackError> + 'a;

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

/// State of one record's search.
struct Search {
    x0: Vec<f32>,
    y: usize,
    rng: ChaCha8Rng,
    queries: usize,
    /// Current boundary point (label differs from y) and its distance.
    xb: Vec<f32>,
    dist: f64,
    best: Option<(f64, Vec<f32>)>,
    status: Option<QueryStatus>,
    iterations: usize,
    active: bool,
}

impl Search {
    fn left(&self, budget: usize) -> usize {
        budget.saturating_sub(self.queries)
    }
    fn offer(&mut self, p: &[f32]) {
        let d = l2(p, &self.x0);
        if self.best.as_ref().map_or(true, |(b, _)| d < *b) {
            self.best = Some((d, p.to_vec()));
        }
    }
}

/// Ask the oracle about the points of several records at once: `asks[k] =
/// (record, points)`; returns per ask whether each point's label differs
/// from the record's y, and charges the queries.
fn ask(
    oracle: &mut LabelOracle,
    d: usize,
    searches: &mut [Search],
    asks: Vec<(usize, Vec<f32>)>,
) -> Result<Vec<Vec<bool>>, AttackError> {
    let mut rows: Vec<f32> = Vec::new();
    let mut owner: Vec<usize> = Vec::new();
    for (k, (_, pts)) in asks.iter().enumerate() {
        rows.extend_from_slice(pts);
        owner.extend(std::iter::repeat(k).take(pts.len() / d.max(1)));
    }
    let n = owner.len();
    let mut labels = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + MAX_ROWS).min(n);
        let l = oracle(&rows[start * d..end * d], end - start)?;
        if l.len() != end - start {
            return Err(AttackError::Input(format!(
                "internal: the label oracle answered {} of {} points",
                l.len(),
                end - start
            )));
        }
        labels.extend(l);
        start = end;
    }
    let mut out: Vec<Vec<bool>> = asks.iter().map(|_| Vec::new()).collect();
    for (i, &k) in owner.iter().enumerate() {
        let r = asks[k].0;
        out[k].push(labels[i] != searches[r].y);
    }
    for (k, (r, _)) in asks.iter().enumerate() {
        searches[*r].queries += out[k].len();
    }
    Ok(out)
}

/// Bisection between each record's x0 (label y) and `far[r]` (another
/// label), in lockstep; returns the closest point known to change the label
/// and its distance. Stops early for a record out of budget.
fn bisect(
    oracle: &mut LabelOracle,
    d: usize,
    searches: &mut [Search],
    who: &[usize],
    far: Vec<Vec<f32>>,
    theta: f64,
    budget: usize,
) -> Result<Vec<(Vec<f32>, f64)>, AttackError> {
    let mut lo = vec![0.0f64; who.len()];
    let mut hi = vec![1.0f64; who.len()];
    let blend = |x0: &[f32], f: &[f32], a: f64| -> Vec<f32> {
        x0.iter()
            .zip(f)
            .map(|(&p, &q)| ((1.0 - a) * p as f64 + a * q as f64) as f32)
            .collect()
    };
    loop {
        let mut asks = Vec::new();
        let mut idx = Vec::new();
        for (k, &r) in who.iter().enumerate() {
            if hi[k] - lo[k] > theta && searches[r].left(budget) > 0 {
                let mid = 0.5 * (lo[k] + hi[k]);
                asks.push((r, blend(&searches[r].x0, &far[k], mid)));
                idx.push((k, mid));
            }
        }
        if asks.is_empty() {
            break;
        }
        let res = ask(oracle, d, searches, asks)?;
        for ((k, mid), adv) in idx.into_iter().zip(res) {
            if adv[0] {
                hi[k] = mid;
            } else {
                lo[k] = mid;
            }
        }
    }
    Ok(who
        .iter()
        .enumerate()
        .map(|(k, &r)| {
            let p = blend(&searches[r].x0, &far[k], hi[k]);
            let dist = l2(&p, &searches[r].x0);
            (p, dist)
        })
        .collect())
}

/// The query-only boundary search for `n` records (`x` row-major [n, d],
/// labels `y`); `stream0` = stream of the first record. Only `oracle` sees
/// the model.
#[allow(clippy::too_many_arguments)]
pub fn query_boundary_points(
    oracle: &mut LabelOracle,
    x: &[f32],
    y: &[usize],
    d: usize,
    lo: &[f32],
    hi: &[f32],
    cfg: &QueryBoundaryConfig,
    stream0: u64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Vec<QueryPoint>, AttackError> {
    cfg.validate()?;
    if lo.len() != d || hi.len() != d || x.len() != y.len() * d {
        return Err(AttackError::Input(format!(
            "boundary_distance: {} values for {} records of {d} features, data range of {} values",
            x.len(),
            y.len(),
            lo.len()
        )));
    }
    let budget = cfg.max_queries;
    let df = d.max(1) as f64;
    let theta = 1.0 / (df * df.sqrt());
    let clip = |p: &mut [f32]| {
        if cfg.clip_to_data_range {
            for ((v, &a), &b) in p.iter_mut().zip(lo).zip(hi) {
                *v = v.clamp(a, b);
            }
        }
    };
    let mut results = Vec::with_capacity(y.len());
    let n = y.len();
    let mut start = 0;
    while start < n {
        let end = (start + cfg.batch_size).min(n);
        let mut s: Vec<Search> = (start..end)
            .map(|i| {
                let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
                rng.set_stream(stream0 + i as u64);
                Search {
                    x0: x[i * d..(i + 1) * d].to_vec(),
                    y: y[i],
                    rng,
                    queries: 0,
                    xb: Vec::new(),
                    dist: 0.0,
                    best: None,
                    status: None,
                    iterations: 0,
                    active: true,
                }
            })
            .collect();
        let all: Vec<usize> = (0..s.len()).collect();
        // the record itself
        let asks = all.iter().map(|&r| (r, s[r].x0.clone())).collect();
        let res = ask(oracle, d, &mut s, asks)?;
        for (r, adv) in res.into_iter().enumerate() {
            if adv[0] {
                s[r].status = Some(QueryStatus::Misclassified);
                s[r].active = false;
            }
        }
        // a random start with another label
        let mut start_pt: Vec<Option<Vec<f32>>> = vec![None; s.len()];
        for _ in 0..cfg.init_tries {
            let want: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&r| s[r].active && start_pt[r].is_none() && s[r].left(budget) > 0)
                .collect();
            if want.is_empty() {
                break;
            }
            let asks = want
                .iter()
                .map(|&r| {
                    let rng = &mut s[r].rng;
                    let p: Vec<f32> = lo
                        .iter()
                        .zip(hi)
                        .map(|(&a, &b)| a + (b - a) * rng.gen::<f32>())
                        .collect();
                    (r, p)
                })
                .collect::<Vec<_>>();
            let pts: Vec<Vec<f32>> = asks.iter().map(|(_, p)| p.clone()).collect();
            let res = ask(oracle, d, &mut s, asks)?;
            for ((&r, adv), p) in want.iter().zip(res).zip(pts) {
                if adv[0] {
                    start_pt[r] = Some(p);
                }
            }
        }
        let who: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&r| s[r].active && start_pt[r].is_some())
            .collect();
        for &r in &all {
            if s[r].active && start_pt[r].is_none() {
                s[r].status = Some(QueryStatus::NotFound);
                s[r].active = false;
            }
        }
        let far: Vec<Vec<f32>> = who
            .iter()
            .map(|&r| start_pt[r].clone().unwrap_or_default())
            .collect();
        let found = bisect(oracle, d, &mut s, &who, far, theta, budget)?;
        for (&r, (p, dist)) in who.iter().zip(found) {
            s[r].offer(&p);
            s[r].xb = p;
            s[r].dist = dist;
            s[r].status = Some(QueryStatus::Found);
        }
        // HopSkipJump iterations
        for t in 1..=cfg.max_iter {
            let tf = t as f64;
            let mut live: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&r| s[r].active && s[r].dist > 0.0 && s[r].left(budget) > 1)
                .collect();
            if live.is_empty() {
                break;
            }
            // 1. gradient-direction estimate
            let want = ((cfg.init_eval as f64 * tf.sqrt()) as usize).min(cfg.max_eval);
            let mut deltas = Vec::with_capacity(live.len());
            let mut offsets: Vec<Vec<f32>> = Vec::with_capacity(live.len());
            let asks: Vec<(usize, Vec<f32>)> = live
                .iter()
                .map(|&r| {
                    // keep room for a step and a bisection
                    let room = s[r].left(budget).saturating_sub(cfg.max_halvings + 24);
                    let m = want.min(room).max(1);
                    let delta = s[r].dist / df;
                    deltas.push(delta);
                    let xb = s[r].xb.clone();
                    let rng = &mut s[r].rng;
                    let mut pts = Vec::with_capacity(m * d);
                    let mut offs = Vec::with_capacity(m * d);
                    for _ in 0..m {
                        let u: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
                        let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
                        let mut p: Vec<f32> = xb
                            .iter()
                            .zip(&u)
                            .map(|(&b, &e)| (b as f64 + delta * e / norm) as f32)
                            .collect();
                        clip(&mut p);
                        offs.extend(p.iter().zip(&xb).map(|(&a, &b)| a - b));
                        pts.extend(p);
                    }
                    offsets.push(offs);
                    (r, pts)
                })
                .collect();
            let res = ask(oracle, d, &mut s, asks)?;
            let mut grads: Vec<Option<Vec<f64>>> = Vec::with_capacity(live.len());
            for (k, adv) in res.into_iter().enumerate() {
                let m = adv.len();
                let phi: Vec<f64> = adv.iter().map(|&a| if a { 1.0 } else { -1.0 }).collect();
                let mean = phi.iter().sum::<f64>() / m as f64;
                let centre = if mean.abs() == 1.0 { 0.0 } else { mean };
                let mut g = vec![0.0f64; d];
                for (i, &ph) in phi.iter().enumerate() {
                    let w = (ph - centre) / (deltas[k] * m as f64);
                    for (gj, &o) in g.iter_mut().zip(&offsets[k][i * d..(i + 1) * d]) {
                        *gj += w * o as f64;
                    }
                }
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                grads.push(
                    (norm > 0.0 && norm.is_finite()).then(|| g.iter().map(|v| v / norm).collect()),
                );
            }
            // 2. geometric step
            let mut eps: Vec<f64> = live.iter().map(|&r| s[r].dist / tf.sqrt()).collect();
            let mut stepped: Vec<Option<Vec<f32>>> = vec![None; live.len()];
            let mut tries = vec![0usize; live.len()];
            loop {
                let mut asks = Vec::new();
                let mut idx = Vec::new();
                for (k, &r) in live.iter().enumerate() {
                    let Some(g) = &grads[k] else { continue };
                    if stepped[k].is_some() || tries[k] > cfg.max_halvings || s[r].left(budget) == 0
                    {
                        continue;
                    }
                    let mut p: Vec<f32> = s[r]
                        .xb
                        .iter()
                        .zip(g)
                        .map(|(&b, &e)| (b as f64 + eps[k] * e) as f32)
                        .collect();
                    clip(&mut p);
                    asks.push((r, p));
                    idx.push(k);
                }
                if asks.is_empty() {
                    break;
                }
                let pts: Vec<Vec<f32>> = asks.iter().map(|(_, p)| p.clone()).collect();
                let res = ask(oracle, d, &mut s, asks)?;
                for ((k, adv), p) in idx.into_iter().zip(res).zip(pts) {
                    if adv[0] {
                        stepped[k] = Some(p);
                    } else {
                        eps[k] *= 0.5;
                        tries[k] += 1;
                    }
                }
            }
            // 3. back to the boundary
            let mut who = Vec::new();
            let mut far = Vec::new();
            for (k, &r) in live.iter().enumerate() {
                match stepped[k].take() {
                    Some(p) => {
                        who.push(r);
                        far.push(p);
                    }
                    None => s[r].active = false,
                }
            }
            let found = bisect(oracle, d, &mut s, &who, far, theta, budget)?;
            for (&r, (p, dist)) in who.iter().zip(found) {
                s[r].offer(&p);
                s[r].xb = p;
                s[r].dist = dist;
                s[r].iterations = t;
            }
            live.retain(|&r| s[r].active);
        }
        for st in s {
            let (distance, point) = match (st.status, st.best) {
                (Some(QueryStatus::Found), Some((dd, p))) => (dd, Some(p)),
                _ => (0.0, None),
            };
            results.push(QueryPoint {
                status: st.status.unwrap_or(QueryStatus::NotFound),
                distance,
                point,
                queries: st.queries,
                iterations: st.iterations,
            });
        }
        if !progress(end - start) {
            return Err(AttackError::Cancelled);
        }
        start = end;
    }
    Ok(results)
}

/// The label oracle of a target: argmax of its class probabilities (first
/// maximum on ties), nothing else leaves it.
pub fn label_oracle<'a>(target: &'a Target<'a>, shape: &'a [usize]) -> Box<LabelOracle<'a>> {
    Box::new(move |rows: &[f32], n: usize| {
        let mut s = vec![n];
        s.extend_from_slice(shape);
        let x = Tensor::from_shape_vec(IxDyn(&s), rows.to_vec())
            .map_err(|e| AttackError::Input(format!("cannot build a batch: {e}")))?;
        let p = predict_probs(target.graph, target.params, target.output_kind, &x)?;
        Ok(p.outer_iter()
            .map(|row| {
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best
            })
            .collect())
    })
}

/// The query-only `boundary_distance` attack.
pub fn run_boundary_distance(
    target: &Target,
    inputs: &AuditInputs,
    cfg: &QueryBoundaryConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AttackOutput, AttackError> {
    cfg.validate()?;
    let k = classes_of_width(target.num_classes.max(1));
    check_labels(&inputs.members, k, "members")?;
    check_labels(&inputs.nonmembers, k, "non-members")?;
    let stats = FeatureStats::of_inputs(inputs)?;
    let shape: Vec<usize> = inputs.members.x.shape().get(1..).unwrap_or(&[]).to_vec();
    let d: usize = shape.iter().product();
    let total = inputs.members.len() + inputs.nonmembers.len();
    let mut done = 0;
    let mut tick = |k: usize| {
        done += k;
        progress(Progress {
            stage: "boundary distance (query-only)".into(),
            done,
            total,
        })
    };
    let mut oracle = label_oracle(target, &shape);
    let flat = |r: &Records| -> Vec<f32> { r.x.as_standard_layout().iter().copied().collect() };
    let pm = query_boundary_points(
        &mut *oracle,
        &flat(&inputs.members),
        &inputs.members.y,
        d,
        &stats.min,
        &stats.max,
        cfg,
        0,
        &mut tick,
    )?;
    let pn = query_boundary_points(
        &mut *oracle,
        &flat(&inputs.nonmembers),
        &inputs.nonmembers.y,
        d,
        &stats.min,
        &stats.max,
        cfg,
        inputs.members.len() as u64,
        &mut tick,
    )?;
    let found_max = pm
        .iter()
        .chain(&pn)
        .filter(|p| p.status == QueryStatus::Found)
        .map(|p| p.distance)
        .fold(0.0f64, f64::max);
    let cap = stats.diagonal().max(found_max);
    let score = |p: &QueryPoint| match p.status {
        QueryStatus::NotFound => cap,
        _ => p.distance,
    };
    let count = |st: QueryStatus| pm.iter().chain(&pn).filter(|p| p.status == st).count();
    let queries: Vec<usize> = pm.iter().chain(&pn).map(|p| p.queries).collect();
    let iters: Vec<usize> = pm
        .iter()
        .chain(&pn)
        .filter(|p| p.status == QueryStatus::Found)
        .map(|p| p.iterations)
        .collect();
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    Ok(AttackOutput {
        members: pm.iter().map(score).collect(),
        nonmembers: pn.iter().map(score).collect(),
        details: json!({
            "attack": "boundary_distance",
            "mode": "query-only: predicted labels only (HopSkipJump search)",
            "labels_only": true,
            "score": "L2 distance (input units) of the closest label-changing point found; 0 if misclassified",
            "orientation": "higher score = more likely a member",
            "reference": "Choquette-Choo et al. 2021; search: HopSkipJump (Chen, Jordan, Wainwright 2020), as IBM ART's LabelOnlyDecisionBoundary",
            "max_queries_per_record": cfg.max_queries,
            "queries_mean": mean(&queries),
            "queries_max": queries.iter().copied().max().unwrap_or(0),
            "max_iter": cfg.max_iter,
            "init_eval": cfg.init_eval,
            "max_eval": cfg.max_eval,
            "init_tries": cfg.init_tries,
            "clip_to_data_range": cfg.clip_to_data_range,
            "seed": cfg.seed,
            "misclassified": count(QueryStatus::Misclassified),
            "found": count(QueryStatus::Found),
            "not_found": count(QueryStatus::NotFound),
            "not_found_score": cap,
            "not_found_rule": "max(diagonal of the data range, largest distance found)",
            "mean_iterations_when_found": mean(&iters),
        }),
    })
}
