//! ai.onnx.ml `TreeEnsembleClassifier` and `TreeEnsembleRegressor`: forward
//! as onnxruntime 1.32 computes it (`tree_ensemble_common.h`,
//! `tree_ensemble_aggregator.h`), and the leaf each record reaches in every
//! tree ([`leaf_ids`]), for the leaf-membership analysis.
//!
//! Traversal: from a tree's root, a branch node compares `x[feature]` with
//! its threshold (`BRANCH_LEQ` `<=`, `LT` `<`, `GTE` `>=`, `GT` `>`, `EQ`
//! `==`, `NEQ` `!=`, IEEE semantics, so NaN fails every test but NEQ) and
//! goes to its true child when the test holds or when `x[feature]` is NaN
//! and the node's `missing_value_tracks_true` is set. A tree's root is its
//! first node in attribute order; trees are ordered by first appearance.
//!
//! Aggregation over trees, per output column `c` (the leaf's weights with
//! target/class id `c`; "has a score" when some reached leaf has one):
//! - regressor, one target: SUM `s + b0`, AVERAGE `s / trees + b0`, MIN/MAX
//!   `m + b0` (`b0` = the single base value, else 0); only PROBIT applies;
//! - regressor, several targets: SUM `s + b_c`, AVERAGE `s / trees + b_c`,
//!   MIN/MAX `m + b_c` (base values only when there is one per target); a
//!   column without a score is 0; then the post transform over the row;
//! - classifier (always SUM), more than two classes: a column without a
//!   score takes its base value, others add it; post transform over the row;
//! - classifier, two classes: onnxruntime's binary rules. With two base
//!   values and a score for class 1: `[-(s0 + b1), s0 + b1]`; with two base
//!   values otherwise, both add their base. With one base value it is added to
//!   class 0, and without any, or when class 1 has no score, the row is the
//!   single score `v` (class 0's, or 0 when it has none) expanded to two
//!   columns: all weights non-negative: `[1 - v, v]`; some negative:
//!   LOGISTIC `[logistic(-v), logistic(v)]`, otherwise `[-v, v]`. A column
//!   without a score reads 0 (so a base value added to it is lost, as in the
//!   reference). PROBIT on the single-score form gives `[probit(v), 0]`.
//!
//! Trees are piecewise constant: there is no input gradient ([`backward`]
//! is an error) and no re-training here.

use super::super::{EngineError, Tensor};
use super::ml_post::{apply_row, logistic, probit, PostTransform};
use ndarray::{Array2, ArrayView1, IxDyn};

/// Comparison of a branch node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeMode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Leaf,
}

impl NodeMode {
    /// Parses `nodes_modes` entries.
    pub fn parse(s: &str) -> Option<NodeMode> {
        Some(match s {
            "BRANCH_LEQ" => NodeMode::Leq,
            "BRANCH_LT" => NodeMode::Lt,
            "BRANCH_GTE" => NodeMode::Gte,
            "BRANCH_GT" => NodeMode::Gt,
            "BRANCH_EQ" => NodeMode::Eq,
            "BRANCH_NEQ" => NodeMode::Neq,
            "LEAF" => NodeMode::Leaf,
            _ => return None,
        })
    }
}

/// How leaf values combine over trees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// One node; children are indices into [`TreeEnsemble::nodes`].
#[derive(Debug, Clone, PartialEq)]
pub struct TreeNode {
    /// The ONNX `nodes_nodeids` value.
    pub id: u32,
    pub mode: NodeMode,
    pub feature: usize,
    pub threshold: f32,
    pub missing_tracks_true: bool,
    pub true_child: usize,
    pub false_child: usize,
    /// (output column, weight) of a leaf.
    pub weights: Vec<(usize, f32)>,
}

/// A validated tree ensemble (built by the ONNX importer).
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEnsemble {
    /// `Some` for a classifier (`binary_case` = two classes with weights on
    /// a single class id, `weights_all_positive` = no negative weight).
    pub classifier: Option<ClassifierInfo>,
    /// Classes or targets.
    pub outputs: usize,
    /// Minimum input width (largest feature id + 1).
    pub features: usize,
    pub nodes: Vec<TreeNode>,
    /// Root node index of every tree.
    pub roots: Vec<usize>,
    /// The ONNX `nodes_treeids` value of every tree.
    pub tree_ids: Vec<i64>,
    pub base_values: Vec<f32>,
    pub aggregate: Aggregate,
    pub post: PostTransform,
}

/// Classifier facts onnxruntime's binary rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifierInfo {
    pub binary_case: bool,
    pub weights_all_positive: bool,
}

fn err(m: String) -> EngineError {
    EngineError::op("TreeEnsemble", m)
}

/// (score, has a score) of one output column.
#[derive(Clone, Copy, Default)]
struct Score {
    s: f32,
    has: bool,
}

impl Score {
    fn value(self) -> f32 {
        if self.has {
            self.s
        } else {
            0.0
        }
    }
}

impl TreeEnsemble {
    /// Checks indices, lengths and that no tree has a cycle.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.outputs == 0 {
            return Err("no output columns".into());
        }
        if self.roots.len() != self.tree_ids.len() {
            return Err("roots and tree ids differ in length".into());
        }
        for (i, nd) in self.nodes.iter().enumerate() {
            if nd.mode != NodeMode::Leaf {
                if nd.true_child >= n || nd.false_child >= n {
                    return Err(format!("node {i} points to a child outside 0..{n}"));
                }
                if nd.feature >= self.features {
                    return Err(format!(
                        "node {i} reads feature {}, the ensemble has {}",
                        nd.feature, self.features
                    ));
                }
            }
            if let Some((c, _)) = nd.weights.iter().find(|(c, _)| *c >= self.outputs) {
                return Err(format!(
                    "node {i} has a weight for column {c}, there are {}",
                    self.outputs
                ));
            }
        }
        // Cycle check: iterative DFS with colours from every root.
        let mut state = vec![0u8; n];
        for &root in &self.roots {
            if root >= n {
                return Err(format!("root {root} outside 0..{n}"));
            }
            if state[root] == 2 {
                continue;
            }
            let mut stack: Vec<(usize, u8)> = vec![(root, 0)];
            state[root] = 1;
            while let Some(top) = stack.last_mut() {
                let (v, step) = *top;
                let nd = &self.nodes[v];
                let next = match (nd.mode, step) {
                    (NodeMode::Leaf, _) | (_, 2..) => None,
                    (_, 0) => Some(nd.true_child),
                    (_, _) => Some(nd.false_child),
                };
                top.1 += 1;
                match next {
                    None => {
                        state[v] = 2;
                        stack.pop();
                    }
                    Some(c) => match state[c] {
                        0 => {
                            state[c] = 1;
                            stack.push((c, 0));
                        }
                        1 => {
                            return Err(format!(
                                "tree {} has a cycle through node id {}",
                                self.tree_ids
                                    [self.roots.iter().position(|&r| r == root).unwrap_or(0)],
                                self.nodes[c].id
                            ))
                        }
                        _ => {}
                    },
                }
            }
        }
        Ok(())
    }

    /// Whether the output rows are class probabilities: a softmax over
    /// classes, per-tree class distributions averaged (random forests,
    /// decision trees: non-negative weights, every leaf's weights summing to
    /// 1 / trees, no base values, post NONE), their single-column binary
    /// form `[1 - p, p]`, or gradient boosting's binary
    /// `[logistic(-v), logistic(v)]`.
    pub fn outputs_probabilities(&self) -> bool {
        let Some(info) = self.classifier else {
            return false;
        };
        let k = self.outputs;
        if matches!(
            self.post,
            PostTransform::Softmax | PostTransform::SoftmaxZero
        ) && k > 2
        {
            return true;
        }
        let trees = self.roots.len().max(1) as f32;
        let leaves = || self.nodes.iter().filter(|n| n.mode == NodeMode::Leaf);
        if k == 2 && info.binary_case {
            let class = self
                .nodes
                .iter()
                .flat_map(|n| n.weights.iter().map(|w| w.0))
                .next();
            let single = class == Some(0) || self.base_values.is_empty();
            if !single || self.base_values.len() > 1 {
                return false;
            }
            return match self.post {
                PostTransform::None => {
                    info.weights_all_positive
                        && self.base_values.is_empty()
                        && leaves().all(|n| {
                            n.weights.iter().map(|w| w.1).sum::<f32>() * trees <= 1.0 + 1e-4
                        })
                }
                PostTransform::Logistic => !info.weights_all_positive,
                _ => false,
            };
        }
        self.post == PostTransform::None
            && self.base_values.is_empty()
            && info.weights_all_positive
            && leaves()
                .all(|n| ((n.weights.iter().map(|w| w.1).sum::<f32>() * trees) - 1.0).abs() <= 1e-4)
    }

    /// Output columns.
    pub fn output_width(&self) -> usize {
        self.outputs
    }

    /// The leaf node index reached from `root` by record `x`.
    fn leaf(&self, root: usize, x: ArrayView1<f32>) -> Result<usize, EngineError> {
        let mut v = root;
        // A validated ensemble has no cycle; the bound guards a hand-built one.
        for _ in 0..=self.nodes.len() {
            let nd = &self.nodes[v];
            let val = x[nd.feature];
            let t = nd.threshold;
            let go_true = match nd.mode {
                NodeMode::Leaf => return Ok(v),
                NodeMode::Leq => val <= t,
                NodeMode::Lt => val < t,
                NodeMode::Gte => val >= t,
                NodeMode::Gt => val > t,
                NodeMode::Eq => val == t,
                NodeMode::Neq => val != t,
            } || (nd.missing_tracks_true && val.is_nan());
            v = if go_true {
                nd.true_child
            } else {
                nd.false_child
            };
        }
        Err(err("a tree walk did not reach a leaf (cycle)".into()))
    }

    fn check_input<'a>(&self, x: &'a Tensor) -> Result<ndarray::ArrayView2<'a, f32>, EngineError> {
        self.validate().map_err(err)?;
        if x.ndim() != 2 || x.shape()[1] < self.features {
            return Err(err(format!(
                "input has shape {:?}, the trees read {} features",
                x.shape(),
                self.features
            )));
        }
        x.view()
            .into_dimensionality::<ndarray::Ix2>()
            .map_err(|e| err(e.to_string()))
    }

    /// Forward over a batch `[N, >= features]`: `[N, outputs]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, EngineError> {
        let x2 = self.check_input(x)?;
        let n = x2.nrows();
        let k = self.outputs;
        let mut out = Vec::with_capacity(n * k);
        let mut preds = vec![Score::default(); k];
        for row in x2.rows() {
            preds.iter_mut().for_each(|p| *p = Score::default());
            for &root in &self.roots {
                let leaf = self.leaf(root, row)?;
                for &(c, w) in &self.nodes[leaf].weights {
                    let p = &mut preds[c];
                    p.s = match self.aggregate {
                        Aggregate::Sum | Aggregate::Average => p.s + w,
                        Aggregate::Min if p.has => p.s.min(w),
                        Aggregate::Max if p.has => p.s.max(w),
                        Aggregate::Min | Aggregate::Max => w,
                    };
                    p.has = true;
                }
            }
            out.extend(self.finalize(&mut preds));
        }
        Tensor::from_shape_vec(IxDyn(&[n, k]), out).map_err(|e| err(e.to_string()))
    }

    fn finalize(&self, p: &mut [Score]) -> Vec<f32> {
        let k = self.outputs;
        let trees = self.roots.len() as f32;
        let base = &self.base_values;
        let Some(info) = self.classifier else {
            if k == 1 {
                let origin = if base.len() == 1 { base[0] } else { 0.0 };
                let s = p[0];
                let v = match self.aggregate {
                    Aggregate::Sum => s.s + origin,
                    Aggregate::Average => s.s / trees + origin,
                    Aggregate::Min | Aggregate::Max => s.value() + origin,
                };
                return vec![if self.post == PostTransform::Probit {
                    probit(v)
                } else {
                    v
                }];
            }
            let use_base = base.len() == k;
            let mut row: Vec<f32> = p
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    let b = if use_base { base[c] } else { 0.0 };
                    match self.aggregate {
                        Aggregate::Sum => Score { s: s.s + b, ..*s }.value(),
                        Aggregate::Average => Score {
                            s: s.s / trees + b,
                            ..*s
                        }
                        .value(),
                        Aggregate::Min | Aggregate::Max => {
                            if s.has {
                                b + s.s
                            } else {
                                0.0
                            }
                        }
                    }
                })
                .collect();
            apply_row(self.post, &mut row);
            return row;
        };
        if k != 2 {
            for (c, b) in base.iter().enumerate().take(k) {
                if p[c].has {
                    p[c].s += b;
                } else {
                    p[c] = Score { s: *b, has: true };
                }
            }
            let mut row: Vec<f32> = p.iter().map(|s| s.value()).collect();
            if k > 1 {
                apply_row(self.post, &mut row);
            }
            return row;
        }
        // Two classes.
        let mut add_second: i32 = -1;
        let mut len = 2;
        match base.len() {
            2 => {
                if p[1].has {
                    p[1].s = base[1] + p[0].s;
                    p[0].s = -p[1].s;
                } else {
                    p[1].s += base[1];
                    p[0].s += base[0];
                }
            }
            1 => {
                p[0].s += base[0];
                if !p[1].has {
                    len = 1;
                }
            }
            _ => {
                add_second = 3;
                if !p[1].has {
                    len = 1;
                }
            }
        }
        if info.binary_case {
            let pos = if len == 2 && p[1].has {
                p[1].s
            } else {
                p[0].value()
            };
            add_second = match (info.weights_all_positive, pos) {
                (true, w) if w > 0.5 => 0,
                (true, _) => 1,
                (false, w) if w > 0.0 => 2,
                (false, _) => 3,
            };
        }
        if len == 2 {
            let mut row = vec![p[0].value(), p[1].value()];
            apply_row(self.post, &mut row);
            return row;
        }
        let v = p[0].value();
        if self.post == PostTransform::Probit {
            return vec![probit(v), 0.0];
        }
        match add_second {
            0 | 1 => vec![1.0 - v, v],
            2 | 3 if self.post == PostTransform::Logistic => vec![logistic(-v), logistic(v)],
            2 | 3 => vec![-v, v],
            _ => vec![v, 0.0],
        }
    }
}

/// Trees have no input gradient.
pub fn backward() -> EngineError {
    err("TreeEnsemble is piecewise constant: no input gradient".into())
}

/// For every record of `x` (`[N, >= features]`), the ONNX node id of the
/// leaf it reaches in every tree: `[N, trees]`, column `t` belonging to tree
/// `op.tree_ids[t]`.
pub fn leaf_ids(op: &TreeEnsemble, x: &Tensor) -> Result<Array2<u32>, EngineError> {
    let x2 = op.check_input(x)?;
    let mut out = Array2::<u32>::zeros((x2.nrows(), op.roots.len()));
    for (i, row) in x2.rows().into_iter().enumerate() {
        for (t, &root) in op.roots.iter().enumerate() {
            out[[i, t]] = op.nodes[op.leaf(root, row)?].id;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn node(id: u32, mode: NodeMode, f: usize, t: f32, tc: usize, fc: usize) -> TreeNode {
        TreeNode {
            id,
            mode,
            feature: f,
            threshold: t,
            missing_tracks_true: false,
            true_child: tc,
            false_child: fc,
            weights: vec![],
        }
    }

    fn leaf(id: u32, w: Vec<(usize, f32)>) -> TreeNode {
        TreeNode {
            weights: w,
            ..node(id, NodeMode::Leaf, 0, 0.0, 0, 0)
        }
    }

    /// One stump x0 <= 0.5 (NaN goes true) with two leaves.
    fn stump(outputs: usize, agg: Aggregate) -> TreeEnsemble {
        let mut root = node(0, NodeMode::Leq, 0, 0.5, 1, 2);
        root.missing_tracks_true = true;
        TreeEnsemble {
            classifier: None,
            outputs,
            features: 1,
            nodes: vec![root, leaf(1, vec![(0, 2.0)]), leaf(2, vec![(0, -1.0)])],
            roots: vec![0],
            tree_ids: vec![0],
            base_values: vec![],
            aggregate: agg,
            post: PostTransform::None,
        }
    }

    #[test]
    fn stump_routes_nan_to_the_true_branch() {
        let t = stump(1, Aggregate::Sum);
        let y = t
            .forward(&array![[0.0f32], [1.0], [f32::NAN], [0.5]].into_dyn())
            .unwrap();
        assert_eq!(
            y.iter().copied().collect::<Vec<_>>(),
            vec![2.0, -1.0, 2.0, 2.0]
        );
        let ids = leaf_ids(&t, &array![[0.0f32], [1.0]].into_dyn()).unwrap();
        assert_eq!(ids, array![[1u32], [2]]);
    }

    #[test]
    fn cycles_and_bad_indices_are_rejected() {
        let mut t = stump(1, Aggregate::Sum);
        t.nodes[1] = node(1, NodeMode::Leq, 0, 0.0, 0, 2);
        assert!(t.validate().unwrap_err().contains("cycle"));
        assert!(t.forward(&array![[0.0f32]].into_dyn()).is_err());
        let mut t = stump(1, Aggregate::Sum);
        t.nodes[0].true_child = 9;
        assert!(t.validate().is_err());
        let mut t = stump(1, Aggregate::Sum);
        t.nodes[1].weights = vec![(3, 1.0)];
        assert!(t.validate().is_err());
        let t = stump(1, Aggregate::Sum);
        assert!(t.forward(&Tensor::zeros(IxDyn(&[2, 0]))).is_err());
    }

    #[test]
    fn aggregates_over_two_trees() {
        let mut t = stump(1, Aggregate::Sum);
        let mut second = stump(1, Aggregate::Sum).nodes;
        for n in &mut second {
            if n.mode != NodeMode::Leaf {
                n.true_child += 3;
                n.false_child += 3;
            }
            for w in &mut n.weights {
                w.1 *= 3.0;
            }
        }
        t.nodes.extend(second);
        t.roots = vec![0, 3];
        t.tree_ids = vec![0, 1];
        t.base_values = vec![0.5];
        let x = array![[0.0f32], [1.0]].into_dyn();
        let got = |agg| {
            let mut t = t.clone();
            t.aggregate = agg;
            t.forward(&x).unwrap().iter().copied().collect::<Vec<_>>()
        };
        assert_eq!(got(Aggregate::Sum), vec![8.5, -3.5]);
        assert_eq!(got(Aggregate::Average), vec![4.5, -1.5]);
        assert_eq!(got(Aggregate::Min), vec![2.5, -2.5]);
        assert_eq!(got(Aggregate::Max), vec![6.5, -0.5]);
    }

    #[test]
    fn backward_is_a_clear_error() {
        assert!(backward().to_string().contains("piecewise constant"));
    }
}
