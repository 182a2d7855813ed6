//! Attribute inference (Fredrikson et al. 2014): what the model reveals
//! about a sensitive column of the records it was trained on.
//!
//! Contract:
//! - The sensitive column is an index into the model's flattened record
//!   (`0..d`, d = product of the non-batch input dims); `feature_names` (empty,
//!   or one name per column) only names it in messages and the report.
//! - **Candidates.** Categorical (no bins): the distinct values of the column
//!   over all supplied records (members, non-members, population), ascending;
//!   more than `max_categories` of them is an error asking for bins (see
//!   [`auto_bins`]). Binned (bin edges `e_0 < ... < e_B`): bin `b` holds
//!   `e_b <= v < e_{b+1}`, the last bin is closed `[e_{B-1}, e_B]`; values
//!   below `e_0` count in the first bin and values above `e_B` in the last
//!   (their number is reported as `values_outside_bins`). A record's truth is
//!   the value (bin) it has. The value plugged into the model for a bin is
//!   the **mean of the reference set's values in that bin**, or the bin's
//!   midpoint when the reference set has none there.
//! - **Reference set**: the population records when given, else the
//!   non-members. It fits the imputation baseline and the bins'
//!   representative values.
//! - **Prior**: add-one smoothed frequency, `prior(v) = (c_v + 1) / (n + V)`,
//!   one prior for every record. With a population it is counted over the
//!   population (no audit record in it). Without one it is counted over the
//!   members and the non-members together (the **pooled prior**): every
//!   record's own value then counts once, with the same weight, whichever
//!   set it is in, and the majority value is chosen on both sets alike.
//!   Neither leave-one-out nor a prior from the non-members alone is used:
//!   the majority of the other n - 1 records is biased against a record's
//!   own value whenever that value is (near) the most frequent (Kohavi 1995:
//!   leave-one-out gives 0% to the majority rule on balanced classes), which
//!   showed as a fake gap (every non-member wrong on near-uniform quartile
//!   bins); a majority chosen on the non-members alone favours them (their
//!   most frequent value is chosen on their own counts). Measured on 200
//!   audits of a model that ignores the column (tests/attribute.rs), each
//!   gap's 95% interval excludes 0 at about the nominal rate.
//! - **Ties** (every argmax below): the larger score; then the larger prior
//!   of the value; then the smallest seeded key
//!   `splitmix64(splitmix64(splitmix64(seed + stream) ^ record) ^ value)`
//!   (stream 1 members, 2 non-members). No rule favours a low or high value index,
//!   and a checked-in script (tests/fixtures/attribute/gen_attribute.py)
//!   reproduces it.
//! - **Attack**: for every record (x, y) and candidate v, x[col] := rep(v);
//!   `score(v) = log P_model(y | x) + log prior(v)`, predicted value =
//!   argmax (ties as above). `log P` is `-loss` of
//!   [`ModelOutput`] (the `engine::proba` convention for the output kind,
//!   taken from the logits when the model exposes them; probabilities
//!   floored at 1e-45). All candidates of many records go to the model in
//!   one batch (at most [`QUERY_ROWS`] rows). A model that ignores the column
//!   gives every candidate the same `log P`, so the attack is then exactly
//!   the prior baseline.
//! - **Baselines without the model**: (a) prior: the argmax of the record's
//!   prior (ties as above); (b) imputation:
//!   k-nearest neighbours (k = `knn_k`, Euclidean on the other columns
//!   standardised by the reference mean and standard deviation (ddof 0;
//!   constant columns are only centred); majority vote of the neighbours'
//!   values, vote ties as above (the record's prior, then the seeded key);
//!   distance ties -> lower reference row; a reference record is left out of
//!   its own neighbours). The label is not a kNN feature. If the reference set
//!   exceeds `knn_max_reference` records, a seeded (ChaCha8) random subset
//!   of that size is the kNN reference. A record with no neighbour (a
//!   reference set of one record, left out) gets the prior's choice.
//! - **Figures** on members and non-members separately: accuracies with a
//!   95% Wilson score interval; the attack's member/non-member gap
//!   `acc_m - acc_n` with Newcombe's hybrid score interval (method 10 of
//!   Newcombe 1998: Wilson limits of each proportion combined in
//!   quadrature); `baseline_gap` = the imputation baseline's gap,
//!   `gap_minus_baseline = gap - baseline_gap`; the prior and imputation
//!   gaps carry the same interval; the attack's confusion table
//!   `confusion[true][predicted]`.
//! - Errors, never panics: bad settings ([`AttackError::Config`]), a column
//!   out of range, labels outside the model's classes, a continuous-looking
//!   column without bins, empty or mismatched sets ([`AttackError::Input`]).
//!   `progress` may return `false` to cancel ([`AttackError::Cancelled`]).

use super::membership::signals::{classes_of_width, ModelOutput, Signal};
use super::membership::{AttackError, AuditInputs, Progress, Records, Target};
use crate::engine::math::PortableMath;
use crate::engine::Tensor;
use ndarray::IxDyn;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Most model rows per batch of candidate queries.
pub const QUERY_ROWS: usize = 4096;
/// z for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Settings of the attribute-inference attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttributeConfig {
    /// Index of the sensitive column among the model's feature columns.
    pub column: usize,
    /// Bin edges for a continuous column (strictly increasing, >= 2 edges).
    pub bins: Option<Vec<f64>>,
    /// Most distinct values a categorical column may have.
    pub max_categories: usize,
    /// Neighbours of the imputation baseline.
    pub knn_k: usize,
    /// Largest kNN reference set (a seeded subset is used above it).
    pub knn_max_reference: usize,
    pub seed: u64,
}

impl Default for AttributeConfig {
    fn default() -> Self {
        AttributeConfig {
            column: 0,
            bins: None,
            max_categories: 64,
            knn_k: 5,
            knn_max_reference: 5000,
            seed: 0,
        }
    }
}

impl AttributeConfig {
    /// Check the settings that do not depend on the data.
    pub fn validate(&self) -> Result<(), AttackError> {
        crate::settings::Ranged::check_ranges(self)?;
        if let Some(b) = &self.bins {
            check_bins(b)?;
        }
        Ok(())
    }
}

impl crate::settings::Ranged for AttributeConfig {
    fn fields(&self) -> Vec<(crate::settings::Range, Option<u64>)> {
        use crate::settings::*;
        vec![
            (MAX_CATEGORIES, some(self.max_categories)),
            (KNN_K, some(self.knn_k)),
            (KNN_MAX_REFERENCE, some(self.knn_max_reference)),
            (ATTRIBUTE_EDGES, opt(self.bins.as_ref().map(Vec::len))),
        ]
    }
}

fn check_bins(b: &[f64]) -> Result<(), AttackError> {
    if b.len() < 2 {
        return Err(AttackError::Config(format!(
            "bins need at least 2 edges (one bin), got {}",
            b.len()
        )));
    }
    if let Some((i, e)) = b.iter().enumerate().find(|(_, e)| !e.is_finite()) {
        return Err(AttackError::Config(format!(
            "bin edge {} is not a finite number ({e})",
            i + 1
        )));
    }
    for i in 1..b.len() {
        if b[i] <= b[i - 1] {
            return Err(AttackError::Config(format!(
                "bin edges must increase: edge {} ({}) is not above edge {} ({})",
                i + 1,
                b[i],
                i,
                b[i - 1]
            )));
        }
    }
    Ok(())
}

/// Categorical column, or continuous column cut into bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Categorical,
    Binned,
}

/// Figures on one record set (members or non-members).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFigures {
    pub n: usize,
    pub attack_correct: usize,
    pub attack_accuracy: f64,
    pub attack_ci95: [f64; 2],
    pub prior_correct: usize,
    pub prior_accuracy: f64,
    pub prior_ci95: [f64; 2],
    pub imputation_correct: usize,
    pub imputation_accuracy: f64,
    pub imputation_ci95: [f64; 2],
    /// Attack confusion table: `confusion[true value][predicted value]`.
    pub confusion: Vec<Vec<usize>>,
    /// Records per true value.
    pub true_counts: Vec<usize>,
    /// The true value index of every record, in input order (not serialised).
    #[serde(skip)]
    pub truth: Vec<usize>,
    /// The attack's predicted value index of every record (not serialised).
    #[serde(skip)]
    pub attack_predictions: Vec<usize>,
    /// The prior baseline's prediction of every record (not serialised).
    #[serde(skip)]
    pub prior_predictions: Vec<usize>,
    /// The imputation baseline's prediction of every record (not serialised).
    #[serde(skip)]
    pub imputation_predictions: Vec<usize>,
}

/// Settings as run, with the derived choices the report must state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeSettings {
    pub config: AttributeConfig,
    pub prior: String,
    pub imputation: String,
    pub bin_value: String,
    pub gap_interval: String,
    /// How every argmax breaks ties (older reports: empty).
    #[serde(default)]
    pub ties: String,
    pub knn_reference_size: usize,
}

/// Result of the attribute-inference attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeReport {
    pub column: usize,
    pub column_name: String,
    pub kind: ColumnKind,
    /// Labels of the candidate values (bins as "[a, b)").
    pub values: Vec<String>,
    /// The value plugged into the model for each candidate.
    pub representatives: Vec<f64>,
    /// Bin edges (binned columns).
    pub bins: Option<Vec<f64>>,
    /// The smoothed prior of each candidate (population, or members and
    /// non-members pooled), used for every record.
    pub prior: Vec<f64>,
    pub members: SetFigures,
    pub nonmembers: SetFigures,
    /// Attack accuracy on members minus on non-members.
    pub gap: f64,
    pub gap_ci95: [f64; 2],
    /// Prior baseline's member minus non-member accuracy.
    pub prior_gap: f64,
    /// Its Newcombe interval (older reports: [0, 0]).
    #[serde(default)]
    pub prior_gap_ci95: [f64; 2],
    /// Imputation baseline's member minus non-member accuracy.
    pub baseline_gap: f64,
    /// Its Newcombe interval (older reports: [0, 0]).
    #[serde(default)]
    pub baseline_gap_ci95: [f64; 2],
    pub gap_minus_baseline: f64,
    /// "population" or "nonmembers".
    pub reference_set: String,
    pub values_outside_bins: usize,
    pub settings: AttributeSettings,
}

/// 95% Wilson score interval of `k` successes in `n` trials ([0, 1] if n = 0).
pub fn wilson_ci95(k: usize, n: usize) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let n_f = n as f64;
    let p = k as f64 / n_f;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n_f;
    let centre = (p + z2 / (2.0 * n_f)) / denom;
    let half = Z95 * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denom;
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// 95% Newcombe hybrid score interval (method 10) of `k1/n1 - k2/n2`.
pub fn newcombe_ci95(k1: usize, n1: usize, k2: usize, n2: usize) -> [f64; 2] {
    let p1 = if n1 == 0 { 0.0 } else { k1 as f64 / n1 as f64 };
    let p2 = if n2 == 0 { 0.0 } else { k2 as f64 / n2 as f64 };
    let [l1, u1] = wilson_ci95(k1, n1);
    let [l2, u2] = wilson_ci95(k2, n2);
    let d = p1 - p2;
    let lo = d - ((p1 - l1).p_powi(2) + (u2 - p2).p_powi(2)).sqrt();
    let hi = d + ((u1 - p1).p_powi(2) + (p2 - l2).p_powi(2)).sqrt();
    [lo.max(-1.0), hi.min(1.0)]
}

/// Quantile bin edges (`k` bins, numpy's default linear quantiles at
/// `i / k`), equal edges merged. Errors if fewer than two distinct edges
/// remain (a constant column) or a value is not finite.
pub fn quantile_bins(values: &[f64], k: usize) -> Result<Vec<f64>, AttackError> {
    if k == 0 {
        return Err(AttackError::Config("auto bins need k >= 1 (got 0)".into()));
    }
    if values.is_empty() {
        return Err(AttackError::Input(
            "auto bins need at least one value".into(),
        ));
    }
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(AttackError::Input(format!(
            "auto bins: the column holds a non-finite value ({v})"
        )));
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let mut edges: Vec<f64> = Vec::with_capacity(k + 1);
    for i in 0..=k {
        let pos = (n - 1) as f64 * i as f64 / k as f64;
        let lo = pos.floor() as usize;
        let hi = (lo + 1).min(n - 1);
        let e = s[lo] + (s[hi] - s[lo]) * (pos - lo as f64);
        if edges.last().map_or(true, |&last| e > last) {
            edges.push(e);
        }
    }
    if edges.len() < 2 {
        return Err(AttackError::Input(format!(
            "auto bins: the column has a single value ({}), nothing to bin",
            s[0]
        )));
    }
    Ok(edges)
}

/// Editable default bins for `column`: [`quantile_bins`] with k = 4 over the
/// column's values in all supplied records.
pub fn auto_bins(inputs: &AuditInputs, column: usize) -> Result<Vec<f64>, AttackError> {
    let mut values = Vec::new();
    for (name, r) in sets(inputs) {
        let (_, d) = flat_shape(&r.x);
        if column >= d {
            return Err(AttackError::Input(format!(
                "sensitive column index {column} is out of range: {name} have {d} feature columns (0 to {})",
                d.saturating_sub(1)
            )));
        }
        values.extend(column_values(r, column));
    }
    quantile_bins(&values, 4)
}

fn sets(inputs: &AuditInputs) -> Vec<(&'static str, &Records)> {
    let mut v = vec![
        ("members", &inputs.members),
        ("non-members", &inputs.nonmembers),
    ];
    if let Some(p) = &inputs.population {
        v.push(("population", p));
    }
    v
}

/// (rows, record length) of a record tensor.
fn flat_shape(x: &Tensor) -> (usize, usize) {
    let n = x.shape().first().copied().unwrap_or(0);
    let d = x.shape().iter().skip(1).product::<usize>();
    (n, d)
}

/// Row-major flat record values.
fn flat_rows(x: &Tensor) -> Vec<f32> {
    x.iter().copied().collect()
}

fn column_values(r: &Records, column: usize) -> Vec<f64> {
    let (n, d) = flat_shape(&r.x);
    let flat = r.x.as_standard_layout();
    let s = flat.as_slice().unwrap_or(&[]);
    (0..n)
        // `+ 0.0` turns -0 into 0, so the two are one category
        .filter_map(|i| s.get(i * d + column).map(|&v| v as f64 + 0.0))
        .collect()
}

/// The candidate values of the column and the truth of every value.
#[derive(Debug, Clone)]
struct Candidates {
    kind: ColumnKind,
    labels: Vec<String>,
    /// Category values (categorical) or bin edges (binned).
    points: Vec<f64>,
}

impl Candidates {
    fn len(&self) -> usize {
        match self.kind {
            ColumnKind::Categorical => self.points.len(),
            ColumnKind::Binned => self.points.len() - 1,
        }
    }

    /// Index of the value (or bin) of `v`; `outside` counts binned values
    /// clamped into the first/last bin.
    fn truth(&self, v: f64, outside: &mut usize) -> usize {
        match self.kind {
            ColumnKind::Categorical => self
                .points
                .binary_search_by(|p| p.total_cmp(&v))
                .unwrap_or_else(|i| i.min(self.points.len().saturating_sub(1))),
            ColumnKind::Binned => {
                let e = &self.points;
                let b = e.len() - 1;
                if v < e[0] || v > e[b] {
                    *outside += 1;
                }
                // number of edges <= v among e_1..e_{B-1}
                e[1..b].iter().take_while(|&&x| x <= v).count()
            }
        }
    }
}

fn fmt_num(v: f64) -> String {
    format!("{v}")
}

fn name_of(feature_names: &[String], column: usize) -> String {
    feature_names
        .get(column)
        .cloned()
        .unwrap_or_else(|| format!("column {column}"))
}

/// splitmix64 (Steele, Lea, Flood 2014): the seeded keys that break ties.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Key streams: ties of members, of non-members.
const STREAM_TIE_M: u64 = 1;
const STREAM_TIE_N: u64 = 2;

/// The seeded key of value `v` for record `i` of a stream: among tied
/// values the smallest key wins.
pub fn tie_key(seed: u64, stream: u64, i: usize, v: usize) -> u64 {
    splitmix64(splitmix64(splitmix64(seed.wrapping_add(stream)) ^ i as u64) ^ v as u64)
}

/// The argmax of `scores` (NaN counts as -infinity); ties -> the larger
/// `prior`, then the smallest `key(v)`.
pub fn pick(scores: &[f64], prior: &[f64], key: &dyn Fn(usize) -> u64) -> usize {
    let s = |v: usize| {
        let x = scores[v];
        if x.is_nan() {
            f64::NEG_INFINITY
        } else {
            x
        }
    };
    let p = |v: usize| prior.get(v).copied().unwrap_or(0.0);
    let mut best = 0;
    for v in 1..scores.len() {
        let better = match s(v).total_cmp(&s(best)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => match p(v).total_cmp(&p(best)) {
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Equal => key(v) < key(best),
            },
        };
        if better {
            best = v;
        }
    }
    best
}

/// Run the attribute-inference attack and its baselines.
pub fn run(
    target: &Target,
    inputs: &AuditInputs,
    feature_names: &[String],
    cfg: &AttributeConfig,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Result<AttributeReport, AttackError> {
    cfg.validate()?;
    // --- inputs ---------------------------------------------------------
    for (name, r) in sets(inputs) {
        if r.is_empty() {
            return Err(AttackError::Input(format!(
                "attribute inference needs {name}, but the set is empty"
            )));
        }
        let (n, _) = flat_shape(&r.x);
        if n != r.len() {
            return Err(AttackError::Input(format!(
                "{name}: {n} rows but {} labels",
                r.len()
            )));
        }
    }
    let record_shape: Vec<usize> = inputs.members.x.shape()[1..].to_vec();
    for (name, r) in sets(inputs) {
        if r.x.shape()[1..] != record_shape[..] {
            return Err(AttackError::Input(format!(
                "{name} records have shape {:?}, members have {:?}",
                &r.x.shape()[1..],
                record_shape
            )));
        }
    }
    let d: usize = record_shape.iter().product();
    if !feature_names.is_empty() && feature_names.len() != d {
        return Err(AttackError::Input(format!(
            "{} feature names for {d} feature columns",
            feature_names.len()
        )));
    }
    let col = cfg.column;
    if col >= d {
        return Err(AttackError::Input(format!(
            "sensitive column index {col} is out of range: the model has {d} feature columns (0 to {})",
            d.saturating_sub(1)
        )));
    }
    let column_name = name_of(feature_names, col);
    let k_classes = classes_of_width(target.num_classes.max(1));
    for (name, r) in sets(inputs) {
        if let Some((i, &y)) = r.y.iter().enumerate().find(|(_, &y)| y >= k_classes) {
            return Err(AttackError::Input(format!(
                "{name} row {}: label {y} is outside the model's {k_classes} classes (0 to {})",
                i + 1,
                k_classes - 1
            )));
        }
    }
    let has_pop = inputs.population.is_some();
    let reference = inputs.population.as_ref().unwrap_or(&inputs.nonmembers);
    let vals_m = column_values(&inputs.members, col);
    let vals_n = column_values(&inputs.nonmembers, col);
    let vals_r = column_values(reference, col);
    for (name, vals) in [
        ("members", &vals_m),
        ("non-members", &vals_n),
        ("reference", &vals_r),
    ] {
        if let Some((i, v)) = vals.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(AttackError::Input(format!(
                "{name} row {}: column '{column_name}' holds {v}",
                i + 1,
                column_name = crate::text::Shown(&column_name)
            )));
        }
    }
    // --- candidates -------------------------------------------------------
    let cand = match &cfg.bins {
        Some(b) => {
            let labels = (0..b.len() - 1)
                .map(|i| {
                    let close = if i + 2 == b.len() { "]" } else { ")" };
                    format!("[{}, {}{close}", fmt_num(b[i]), fmt_num(b[i + 1]))
                })
                .collect();
            Candidates {
                kind: ColumnKind::Binned,
                labels,
                points: b.clone(),
            }
        }
        None => {
            let mut all: Vec<f64> = vals_m.iter().chain(&vals_n).copied().collect();
            if has_pop {
                all.extend(&vals_r);
            }
            all.sort_by(f64::total_cmp);
            all.dedup();
            if all.len() > cfg.max_categories {
                return Err(AttackError::Input(format!(
                    "column '{column_name}' (index {col}) has {} distinct values, more than the {} a categorical column may have: it looks continuous, give bin edges (e.g. quartile bins {})",
                    all.len(),
                    cfg.max_categories,
                    quantile_bins(&all, 4)
                        .unwrap_or_default()
                        .iter()
                        .map(|e| format!("{}", (e * 1e4).round() / 1e4))
                        .collect::<Vec<_>>()
                        .join(","),
                    column_name = crate::text::Shown(&column_name)
                )));
            }
            Candidates {
                kind: ColumnKind::Categorical,
                labels: all.iter().map(|&v| fmt_num(v)).collect(),
                points: all,
            }
        }
    };
    let nv = cand.len();
    let mut outside = 0usize;
    let truth_m: Vec<usize> = vals_m
        .iter()
        .map(|&v| cand.truth(v, &mut outside))
        .collect();
    let truth_n: Vec<usize> = vals_n
        .iter()
        .map(|&v| cand.truth(v, &mut outside))
        .collect();
    let mut outside_ref = 0usize;
    let truth_r: Vec<usize> = vals_r
        .iter()
        .map(|&v| cand.truth(v, &mut outside_ref))
        .collect();
    if has_pop {
        outside += outside_ref;
    }
    let mut counts = vec![0usize; nv];
    let mut sums = vec![0.0f64; nv];
    for (&t, &v) in truth_r.iter().zip(&vals_r) {
        counts[t] += 1;
        sums[t] += v;
    }
    let representatives: Vec<f64> = match cand.kind {
        ColumnKind::Categorical => cand.points.clone(),
        ColumnKind::Binned => (0..nv)
            .map(|b| {
                if counts[b] > 0 {
                    sums[b] / counts[b] as f64
                } else {
                    0.5 * (cand.points[b] + cand.points[b + 1])
                }
            })
            .collect(),
    };
    let smoothed = |c: &[usize]| -> Vec<f64> {
        let n: usize = c.iter().sum();
        c.iter()
            .map(|&k| (k as f64 + 1.0) / (n as f64 + nv as f64))
            .collect()
    };
    // the prior: the population's counts, or the pooled counts of the
    // members and the non-members (see the module doc)
    let prior = if has_pop {
        smoothed(&counts)
    } else {
        let mut c = vec![0usize; nv];
        for &t in truth_m.iter().chain(&truth_n) {
            c[t] += 1;
        }
        smoothed(&c)
    };
    let seed = cfg.seed;
    let key_m = |i: usize| move |v: usize| tie_key(seed, STREAM_TIE_M, i, v);
    let key_n = |i: usize| move |v: usize| tie_key(seed, STREAM_TIE_N, i, v);
    let prior_m_of = |_: usize| prior.as_slice();
    let prior_n_of = |_: usize| prior.as_slice();

    // --- attack -----------------------------------------------------------
    let total = 2 * (inputs.members.len() + inputs.nonmembers.len());
    let mut done = 0usize;
    let mut tick = |stage: &str, k: usize| {
        done += k;
        if progress(Progress {
            stage: stage.into(),
            done,
            total,
        }) {
            Ok(())
        } else {
            Err(AttackError::Cancelled)
        }
    };
    let att_m = attack_predictions(
        target,
        &inputs.members,
        col,
        &representatives,
        &|i, sc| pick(sc, prior_m_of(i), &key_m(i)),
        &|i| prior_m_of(i).to_vec(),
        &mut |k| tick("attribute inference: model queries on members", k),
    )?;
    let att_n = attack_predictions(
        target,
        &inputs.nonmembers,
        col,
        &representatives,
        &|i, sc| pick(sc, prior_n_of(i), &key_n(i)),
        &|i| prior_n_of(i).to_vec(),
        &mut |k| tick("attribute inference: model queries on non-members", k),
    )?;
    // --- baselines --------------------------------------------------------
    let flat = vec![0.0; nv];
    let prior_m: Vec<usize> = (0..truth_m.len())
        .map(|i| pick(&flat, prior_m_of(i), &key_m(i)))
        .collect();
    let prior_n: Vec<usize> = (0..truth_n.len())
        .map(|i| pick(&flat, prior_n_of(i), &key_n(i)))
        .collect();
    let knn = Knn::fit(reference, &truth_r, col, cfg)?;
    let imp_m = knn.predict(
        &inputs.members,
        false,
        nv,
        &|i, votes| pick(votes, prior_m_of(i), &key_m(i)),
        &mut |k| tick("attribute inference: imputation baseline on members", k),
    )?;
    let imp_n = knn.predict(
        &inputs.nonmembers,
        !has_pop,
        nv,
        &|i, votes| pick(votes, prior_n_of(i), &key_n(i)),
        &mut |k| tick("attribute inference: imputation baseline on non-members", k),
    )?;
    // --- figures ----------------------------------------------------------
    let members = figures(nv, truth_m, att_m, prior_m, imp_m);
    let nonmembers = figures(nv, truth_n, att_n, prior_n, imp_n);
    let gap = members.attack_accuracy - nonmembers.attack_accuracy;
    let gap_ci95 = newcombe_ci95(
        members.attack_correct,
        members.n,
        nonmembers.attack_correct,
        nonmembers.n,
    );
    let baseline_gap = members.imputation_accuracy - nonmembers.imputation_accuracy;
    let baseline_gap_ci95 = newcombe_ci95(
        members.imputation_correct,
        members.n,
        nonmembers.imputation_correct,
        nonmembers.n,
    );
    let prior_gap = members.prior_accuracy - nonmembers.prior_accuracy;
    let prior_gap_ci95 = newcombe_ci95(
        members.prior_correct,
        members.n,
        nonmembers.prior_correct,
        nonmembers.n,
    );
    let bin_value = match cand.kind {
        ColumnKind::Categorical => "the category value itself".to_string(),
        ColumnKind::Binned => {
            "mean of the reference set's values in the bin (midpoint if none)".to_string()
        }
    };
    Ok(AttributeReport {
        column: col,
        column_name,
        kind: cand.kind,
        values: cand.labels.clone(),
        representatives,
        bins: cfg.bins.clone(),
        prior: prior.clone(),
        members,
        nonmembers,
        gap,
        gap_ci95,
        prior_gap,
        prior_gap_ci95,
        baseline_gap,
        baseline_gap_ci95,
        gap_minus_baseline: gap - baseline_gap,
        reference_set: if has_pop { "population" } else { "nonmembers" }.into(),
        values_outside_bins: outside,
        settings: AttributeSettings {
            config: cfg.clone(),
            prior: if has_pop {
                "(count in the population + 1) / (population size + number of values)".into()
            } else {
                "(count among members and non-members + 1) / (their number + number of values), the same for both sets".into()
            },
            imputation: format!(
                "{}-nearest neighbours on the other standardised columns, majority vote (label not used)",
                cfg.knn_k
            ),
            bin_value,
            gap_interval: "Newcombe hybrid score (method 10), 95%".into(),
            ties: "larger score, then the larger prior, then the smallest seeded key splitmix64(splitmix64(splitmix64(seed + stream) ^ record) ^ value)".into(),
            knn_reference_size: knn.rows.len(),
        },
    })
}

fn figures(
    nv: usize,
    truth: Vec<usize>,
    attack: Vec<usize>,
    prior: Vec<usize>,
    imputation: Vec<usize>,
) -> SetFigures {
    let n = truth.len();
    let hits = |p: &[usize]| p.iter().zip(&truth).filter(|(a, b)| a == b).count();
    let attack_correct = hits(&attack);
    let prior_correct = hits(&prior);
    let imputation_correct = hits(&imputation);
    let mut confusion = vec![vec![0usize; nv]; nv];
    let mut true_counts = vec![0usize; nv];
    for (&t, &p) in truth.iter().zip(&attack) {
        confusion[t][p] += 1;
        true_counts[t] += 1;
    }
    let acc = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    SetFigures {
        n,
        attack_correct,
        attack_accuracy: acc(attack_correct),
        attack_ci95: wilson_ci95(attack_correct, n),
        prior_correct,
        prior_accuracy: acc(prior_correct),
        prior_ci95: wilson_ci95(prior_correct, n),
        imputation_correct,
        imputation_accuracy: acc(imputation_correct),
        imputation_ci95: wilson_ci95(imputation_correct, n),
        confusion,
        true_counts,
        truth,
        attack_predictions: attack,
        prior_predictions: prior,
        imputation_predictions: imputation,
    }
}

/// The attack's predicted candidate for every record of `records`:
/// `choose(i, scores)` with `scores[v] = log P(y | x with x[col] =
/// representatives[v]) + log prior(i)[v]` (`choose` breaks ties, see the
/// module doc). `prior(i)` gives the prior of record `i`; `tick(k)` is
/// called after every `k` records and may cancel.
pub fn attack_predictions(
    target: &Target,
    records: &Records,
    col: usize,
    representatives: &[f64],
    choose: &dyn Fn(usize, &[f64]) -> usize,
    prior: &dyn Fn(usize) -> Vec<f64>,
    tick: &mut dyn FnMut(usize) -> Result<(), AttackError>,
) -> Result<Vec<usize>, AttackError> {
    let nv = representatives.len();
    let (n, d) = flat_shape(&records.x);
    if nv == 0 || n == 0 {
        return Ok(vec![0; n]);
    }
    if col >= d {
        return Err(AttackError::Input(format!(
            "sensitive column index {col} is out of range: the model has {d} feature columns (0 to {})",
            d.saturating_sub(1)
        )));
    }
    let flat = flat_rows(&records.x);
    let record_shape = &records.x.shape()[1..];
    let per_chunk = (QUERY_ROWS / nv).max(1);
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + per_chunk).min(n);
        let rows = (end - start) * nv;
        let mut xs = Vec::with_capacity(rows * d);
        let mut ys = Vec::with_capacity(rows);
        for i in start..end {
            let rec = &flat[i * d..(i + 1) * d];
            for &rep in representatives {
                let at = xs.len();
                xs.extend_from_slice(rec);
                xs[at + col] = rep as f32;
                ys.push(records.y[i]);
            }
        }
        let mut shape = vec![rows];
        shape.extend_from_slice(record_shape);
        let x = Tensor::from_shape_vec(IxDyn(&shape), xs)
            .map_err(|e| AttackError::Input(format!("query batch shape: {e}")))?;
        let q = Records { x, y: ys };
        let out_m = ModelOutput::compute(target.graph, target.params, target.output_kind, &q)?;
        let loss = out_m.signals(Signal::Loss, &q.y)?;
        let mut scores = vec![0.0f64; nv];
        for (r, i) in (start..end).enumerate() {
            let p = prior(i);
            for (v, s) in scores.iter_mut().enumerate() {
                *s = -loss[r * nv + v] + p.get(v).copied().unwrap_or(0.0).p_ln();
            }
            out.push(choose(i, &scores));
        }
        tick(end - start)?;
        start = end;
    }
    Ok(out)
}

/// The kNN imputation baseline fitted on the reference set.
struct Knn {
    /// Standardised reference rows (other columns only), row-major.
    rows: Vec<usize>,
    feats: Vec<f64>,
    labels: Vec<usize>,
    mean: Vec<f64>,
    scale: Vec<f64>,
    col: usize,
    k: usize,
}

impl Knn {
    fn fit(
        reference: &Records,
        truth: &[usize],
        col: usize,
        cfg: &AttributeConfig,
    ) -> Result<Knn, AttackError> {
        let (n, d) = flat_shape(&reference.x);
        let flat = flat_rows(&reference.x);
        let mut rows: Vec<usize> = if n > cfg.knn_max_reference {
            let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xa771_b07e);
            let mut v = sample(&mut rng, n, cfg.knn_max_reference).into_vec();
            v.sort_unstable();
            v
        } else {
            (0..n).collect()
        };
        rows.retain(|&i| i < truth.len());
        let m = d - 1;
        let mut mean = vec![0.0f64; m];
        let mut sq = vec![0.0f64; m];
        let nf = n.max(1) as f64;
        let other = |rec: &[f32]| -> Vec<f64> {
            rec.iter()
                .enumerate()
                .filter(|&(j, _)| j != col)
                .map(|(_, &v)| v as f64)
                .collect()
        };
        // two passes: mean, then the mean squared deviation (ddof 0)
        for i in 0..n {
            for (j, v) in other(&flat[i * d..(i + 1) * d]).into_iter().enumerate() {
                mean[j] += v / nf;
            }
        }
        for i in 0..n {
            for (j, v) in other(&flat[i * d..(i + 1) * d]).into_iter().enumerate() {
                sq[j] += (v - mean[j]) * (v - mean[j]) / nf;
            }
        }
        let scale: Vec<f64> = sq
            .iter()
            .map(|&var| {
                let sd = var.sqrt();
                if sd > 1e-12 {
                    1.0 / sd
                } else {
                    1.0
                }
            })
            .collect();
        let mut feats = Vec::with_capacity(rows.len() * m);
        for &i in &rows {
            for (j, v) in other(&flat[i * d..(i + 1) * d]).into_iter().enumerate() {
                feats.push((v - mean[j]) * scale[j]);
            }
        }
        let labels = rows.iter().map(|&i| truth[i]).collect();
        Ok(Knn {
            rows,
            feats,
            labels,
            mean,
            scale,
            col,
            k: cfg.knn_k,
        })
    }

    /// Predictions for `records`; `same_rows` means `records` is the
    /// reference set itself (leave each record out of its own neighbours).
    /// `choose(i, votes)` is the argmax with the tie rule; a record with no
    /// neighbour left has no votes and so gets the prior's choice.
    fn predict(
        &self,
        records: &Records,
        same_rows: bool,
        nv: usize,
        choose: &dyn Fn(usize, &[f64]) -> usize,
        tick: &mut dyn FnMut(usize) -> Result<(), AttackError>,
    ) -> Result<Vec<usize>, AttackError> {
        let (n, d) = flat_shape(&records.x);
        let m = d - 1;
        let flat = flat_rows(&records.x);
        let mut out = Vec::with_capacity(n);
        let mut q = vec![0.0f64; m];
        let mut dist: Vec<(f64, usize)> = Vec::with_capacity(self.rows.len());
        for i in 0..n {
            let rec = &flat[i * d..(i + 1) * d];
            let mut j = 0;
            for (c, &v) in rec.iter().enumerate() {
                if c != self.col {
                    q[j] = (v as f64 - self.mean[j]) * self.scale[j];
                    j += 1;
                }
            }
            dist.clear();
            for (r, &orig) in self.rows.iter().enumerate() {
                if same_rows && orig == i {
                    continue;
                }
                let f = &self.feats[r * m..(r + 1) * m];
                let s: f64 = f.iter().zip(&q).map(|(a, b)| (a - b) * (a - b)).sum();
                dist.push((s, r));
            }
            let k = self.k.min(dist.len());
            let mut votes = vec![0.0f64; nv];
            if k > 0 {
                let cmp =
                    |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if k < dist.len() {
                    dist.select_nth_unstable_by(k - 1, cmp);
                }
                for &(_, r) in &dist[..k] {
                    votes[self.labels[r]] += 1.0;
                }
            }
            out.push(choose(i, &votes));
            if (i + 1) % 256 == 0 || i + 1 == n {
                tick(if (i + 1) % 256 == 0 {
                    256
                } else {
                    (i + 1) % 256
                })?;
            }
        }
        Ok(out)
    }
}
