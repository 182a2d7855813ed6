//! What a reconstruction of class c gives away.
//!
//! - `nearest_member_distance` / `nearest_nonmember_distance`: Euclidean
//!   (L2) distance from the reconstruction to the nearest member / non-member
//!   record labelled c (None when there is none). Closer to members than to
//!   non-members hints at member-specific leakage.
//! - `class_mean_similarity`: against the mean of the members labelled c.
//!   Image-shaped inputs: SSIM (Wang et al. 2004) with the defaults of
//!   scikit-image's `structural_similarity`: a uniform 7x7 window (the
//!   largest odd size <= min(H, W) when the image is smaller), sample
//!   covariances (N/(N-1)), K1 = 0.01, K2 = 0.03, the data range L = max -
//!   min over the range data (1 when it is flat or absent), averaged over
//!   the windows that lie inside the image, then over channels. Flat
//!   (tabular) inputs: cosine similarity `a.b / (|a| |b|)` (0 when a vector
//!   is zero).
//! - `recognised`: a 1-nearest-neighbour classifier (Euclidean, first row on
//!   ties) fitted on the supplied labelled records predicts class c.

use super::{ImageLayout, Reconstruction};
use crate::attacks::membership::{AttackError, Records};
use crate::engine::math::PortableMath;
use serde::{Deserialize, Serialize};

/// Which similarity `class_mean_similarity` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimilarityKind {
    Ssim,
    Cosine,
}

/// The evaluation of one reconstruction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassEvaluation {
    pub class: usize,
    pub target_confidence: f64,
    pub nearest_member_distance: Option<f64>,
    pub nearest_nonmember_distance: Option<f64>,
    pub class_mean_similarity: Option<f64>,
    pub similarity_kind: SimilarityKind,
    pub recognised: Option<bool>,
    pub nn_predicted_class: Option<usize>,
    /// The members' mean record of this class (what the reconstruction is
    /// compared with), when members of the class were given.
    pub members_class_mean: Option<Vec<f32>>,
}

fn rows(r: &Records) -> Result<(usize, Vec<f32>), AttackError> {
    let n = r.len();
    let len = r.x.len().checked_div(n).unwrap_or(0);
    let flat: Vec<f32> = r.x.as_standard_layout().iter().copied().collect();
    if flat.len() != n * len {
        return Err(AttackError::Input(format!(
            "{} values do not split into {n} records",
            flat.len()
        )));
    }
    Ok((len, flat))
}

fn l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).p_powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Index and distance of the row of `data` nearest to `x` (Euclidean, first
/// on ties), over the rows whose label passes `keep`.
fn nearest(
    x: &[f32],
    data: &Records,
    keep: impl Fn(usize) -> bool,
) -> Result<Option<(usize, f64)>, AttackError> {
    let (len, flat) = rows(data)?;
    if len != x.len() && !data.is_empty() {
        return Err(AttackError::Input(format!(
            "records hold {len} values, the reconstruction {}",
            x.len()
        )));
    }
    let mut best: Option<(usize, f64)> = None;
    for i in 0..data.len() {
        if !keep(data.y[i]) {
            continue;
        }
        let d = l2(x, &flat[i * len..(i + 1) * len]);
        if best.map_or(true, |(_, b)| d < b) {
            best = Some((i, d));
        }
    }
    Ok(best)
}

/// 1-nearest-neighbour: (row index, distance) of the nearest row of `data`.
pub fn nearest_neighbour(x: &[f32], data: &Records) -> Result<Option<(usize, f64)>, AttackError> {
    nearest(x, data, |_| true)
}

/// Cosine similarity (0 when either vector is zero).
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Mean SSIM of two images in `layout` (see the module docs); None for a
/// flat layout or a length mismatch.
pub fn ssim(a: &[f32], b: &[f32], layout: &ImageLayout, data_range: f64) -> Option<f64> {
    let (c, h, w) = layout.chw()?;
    if a.len() != c * h * w || b.len() != c * h * w || c == 0 {
        return None;
    }
    let mut win = 7.min(h).min(w);
    if win % 2 == 0 {
        win -= 1;
    }
    let np = (win * win) as f64;
    let cov_norm = if np > 1.0 { np / (np - 1.0) } else { 1.0 };
    let l = if data_range > 0.0 && data_range.is_finite() {
        data_range
    } else {
        1.0
    };
    let (c1, c2) = ((0.01 * l).p_powi(2), (0.03 * l).p_powi(2));
    let mut total = 0.0;
    for ch in 0..c {
        let mut sum = 0.0;
        let mut count = 0usize;
        for y0 in 0..=(h - win) {
            for x0 in 0..=(w - win) {
                let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for y in y0..y0 + win {
                    for x in x0..x0 + win {
                        let i = layout.index(ch, y, x);
                        let (p, q) = (a[i] as f64, b[i] as f64);
                        sa += p;
                        sb += q;
                        saa += p * p;
                        sbb += q * q;
                        sab += p * q;
                    }
                }
                let (ua, ub) = (sa / np, sb / np);
                let va = cov_norm * (saa / np - ua * ua);
                let vb = cov_norm * (sbb / np - ub * ub);
                let vab = cov_norm * (sab / np - ua * ub);
                sum += ((2.0 * ua * ub + c1) * (2.0 * vab + c2))
                    / ((ua * ua + ub * ub + c1) * (va + vb + c2));
                count += 1;
            }
        }
        total += sum / count as f64;
    }
    Some(total / c as f64)
}

/// Evaluate a reconstruction (see the module docs). `classifier` holds the
/// labelled records the 1-NN is fitted on; `range_data` gives the SSIM data
/// range.
pub fn evaluate(
    recon: &Reconstruction,
    layout: &ImageLayout,
    members: Option<&Records>,
    nonmembers: Option<&Records>,
    classifier: Option<&Records>,
    range_data: Option<&Records>,
) -> Result<ClassEvaluation, AttackError> {
    let x = &recon.reconstruction;
    let c = recon.class;
    let of_class = |r: Option<&Records>| -> Result<Option<f64>, AttackError> {
        match r {
            Some(r) => Ok(nearest(x, r, |y| y == c)?.map(|(_, d)| d)),
            None => Ok(None),
        }
    };
    let nearest_member_distance = of_class(members)?;
    let nearest_nonmember_distance = of_class(nonmembers)?;
    let similarity_kind = if layout.is_image() {
        SimilarityKind::Ssim
    } else {
        SimilarityKind::Cosine
    };
    let mut class_mean_similarity = None;
    let mut members_class_mean = None;
    if let Some(m) = members {
        let (len, flat) = rows(m)?;
        let idx: Vec<usize> = (0..m.len()).filter(|&i| m.y[i] == c).collect();
        if !idx.is_empty() && len == x.len() {
            let mut mean = vec![0f64; len];
            for &i in &idx {
                for (s, &v) in mean.iter_mut().zip(&flat[i * len..(i + 1) * len]) {
                    *s += v as f64;
                }
            }
            let mean: Vec<f32> = mean.iter().map(|s| (s / idx.len() as f64) as f32).collect();
            class_mean_similarity = match similarity_kind {
                SimilarityKind::Ssim => {
                    let range = range_data.or(Some(m)).map_or(1.0, |d| {
                        let lo = d.x.iter().cloned().fold(f32::INFINITY, f32::min);
                        let hi = d.x.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                        (hi - lo) as f64
                    });
                    ssim(x, &mean, layout, range)
                }
                SimilarityKind::Cosine => Some(cosine_similarity(x, &mean)),
            };
            members_class_mean = Some(mean);
        }
    }
    let nn_predicted_class = match classifier {
        Some(d) if !d.is_empty() => nearest_neighbour(x, d)?.map(|(i, _)| d.y[i]),
        _ => None,
    };
    Ok(ClassEvaluation {
        class: c,
        target_confidence: recon.target_confidence,
        nearest_member_distance,
        nearest_nonmember_distance,
        class_mean_similarity,
        similarity_kind,
        recognised: nn_predicted_class.map(|p| p == c),
        nn_predicted_class,
        members_class_mean,
    })
}
