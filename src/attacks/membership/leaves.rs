//! Leaf membership of tree ensembles: which leaves the members reach, and
//! which leaves single a member out.
//!
//! Contract:
//! - Every record is routed through every tree ([`leaf_ids`]); a leaf is
//!   identified by (tree id, node id) as the ONNX file numbers them.
//! - A leaf is *uniquely identifying* when exactly one member and no
//!   non-member reaches it: its prediction was shaped by that one training
//!   record, and anyone who sees a record land there learns it was (very
//!   likely) in the training set. Non-members stand in for the population:
//!   a leaf a non-member also reaches is not unique to the member.
//! - [`LeafReport`] gives the number of trees and leaves, how many leaves
//!   members reach, a histogram of members per leaf, the uniquely
//!   identifying leaves with their member's index (0-based row of the
//!   members file, in file order) and the number of distinct members that
//!   reach at least one of them. The list is capped at
//!   [`MAX_LISTED_LEAVES`] entries (`unique_leaves` keeps the full count).
//! - [`analyze`] finds the first tree ensemble of the target graph, feeds it
//!   the members and non-members (through whatever the graph does before
//!   it, e.g. a Scaler) and returns `None` for graphs without one.

use super::{AttackError, AuditInputs, Target};
use crate::engine::ops::tree::{leaf_ids, NodeMode, TreeEnsemble};
use crate::engine::{Op, Tensor};
use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Most uniquely identifying leaves listed in a report.
pub const MAX_LISTED_LEAVES: usize = 1000;

/// A leaf reached by exactly one member and no non-member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UniqueLeaf {
    /// `nodes_treeids` of the tree.
    pub tree: i64,
    /// `nodes_nodeids` of the leaf.
    pub node: u32,
    /// 0-based row of the member in the members file.
    pub member: usize,
}

/// The leaf-membership section of a report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeafReport {
    /// Name of the ONNX node analysed.
    pub node: String,
    pub trees: usize,
    /// Leaves in the ensemble.
    pub leaves: usize,
    pub members: usize,
    pub nonmembers: usize,
    /// Leaves at least one member reaches.
    pub leaves_reached_by_members: usize,
    /// `[members per leaf, number of leaves]`, ascending, over the leaves
    /// members reach.
    pub members_per_leaf: Vec<[usize; 2]>,
    /// Number of uniquely identifying leaves.
    pub unique_leaves: usize,
    /// Distinct members reaching at least one uniquely identifying leaf.
    pub members_with_unique_leaf: usize,
    /// The uniquely identifying leaves (tree, then node order), at most
    /// [`MAX_LISTED_LEAVES`].
    pub unique: Vec<UniqueLeaf>,
    /// Whether `unique` was cut at [`MAX_LISTED_LEAVES`].
    pub truncated: bool,
}

/// Per-leaf counts: members, non-members, the first member seen.
#[derive(Default, Clone, Copy)]
struct Count {
    members: usize,
    nonmembers: usize,
    first_member: usize,
}

/// The leaf-membership report of `op` given the tree inputs of the members
/// and the non-members (`[N, >= features]` each).
pub fn leaf_membership(
    node: &str,
    op: &TreeEnsemble,
    members: &Tensor,
    nonmembers: &Tensor,
) -> Result<LeafReport, AttackError> {
    let m = leaf_ids(op, members)?;
    let n = leaf_ids(op, nonmembers)?;
    let mut counts: HashMap<(usize, u32), Count> = HashMap::new();
    for (i, row) in m.axis_iter(Axis(0)).enumerate() {
        for (t, &leaf) in row.iter().enumerate() {
            let c = counts.entry((t, leaf)).or_default();
            if c.members == 0 {
                c.first_member = i;
            }
            c.members += 1;
        }
    }
    for row in n.axis_iter(Axis(0)) {
        for (t, &leaf) in row.iter().enumerate() {
            if let Some(c) = counts.get_mut(&(t, leaf)) {
                c.nonmembers += 1;
            }
        }
    }
    Ok(report(node, op, &m, &n, &counts))
}

fn report(
    node: &str,
    op: &TreeEnsemble,
    m: &Array2<u32>,
    n: &Array2<u32>,
    counts: &HashMap<(usize, u32), Count>,
) -> LeafReport {
    let mut hist: BTreeMap<usize, usize> = BTreeMap::new();
    for c in counts.values() {
        *hist.entry(c.members).or_default() += 1;
    }
    let mut unique: Vec<(usize, u32, usize)> = counts
        .iter()
        .filter(|(_, c)| c.members == 1 && c.nonmembers == 0)
        .map(|(&(t, leaf), c)| (t, leaf, c.first_member))
        .collect();
    unique.sort_unstable();
    let mut who: Vec<usize> = unique.iter().map(|u| u.2).collect();
    who.sort_unstable();
    who.dedup();
    let total = unique.len();
    LeafReport {
        node: node.to_string(),
        trees: op.roots.len(),
        leaves: op.nodes.iter().filter(|x| x.mode == NodeMode::Leaf).count(),
        members: m.nrows(),
        nonmembers: n.nrows(),
        leaves_reached_by_members: counts.len(),
        members_per_leaf: hist.into_iter().map(|(k, v)| [k, v]).collect(),
        unique_leaves: total,
        members_with_unique_leaf: who.len(),
        unique: unique
            .into_iter()
            .take(MAX_LISTED_LEAVES)
            .map(|(t, leaf, member)| UniqueLeaf {
                tree: op.tree_ids[t],
                node: leaf,
                member,
            })
            .collect(),
        truncated: total > MAX_LISTED_LEAVES,
    }
}

/// The leaf-membership report of the target's first tree ensemble, or
/// `None` when the graph has none.
pub fn analyze(target: &Target, inputs: &AuditInputs) -> Result<Option<LeafReport>, AttackError> {
    let Some(node) = target
        .graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::TreeEnsemble(_)))
    else {
        return Ok(None);
    };
    let Op::TreeEnsemble(op) = &node.op else {
        return Ok(None);
    };
    let tree_input = |x: &Tensor| -> Result<Tensor, AttackError> {
        if node.inputs[0] == target.graph.input.value {
            return Ok(x.clone());
        }
        let tape = target.graph.forward_tape(target.params, x)?;
        Ok(tape.get(node.inputs[0]).clone())
    };
    let m = tree_input(&inputs.members.x)?;
    let n = tree_input(&inputs.nonmembers.x)?;
    leaf_membership(&node.name, op, &m, &n).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ops::ml_post::PostTransform;
    use crate::engine::ops::tree::{Aggregate, TreeNode};
    use ndarray::array;

    /// x0 <= 0 -> leaf 1, else x0 <= 1 -> leaf 3, else leaf 4.
    fn tree() -> TreeEnsemble {
        let branch = |id, t, tc, fc| TreeNode {
            id,
            mode: NodeMode::Leq,
            feature: 0,
            threshold: t,
            missing_tracks_true: false,
            true_child: tc,
            false_child: fc,
            weights: vec![],
        };
        let leaf = |id| TreeNode {
            id,
            mode: NodeMode::Leaf,
            feature: 0,
            threshold: 0.0,
            missing_tracks_true: false,
            true_child: 0,
            false_child: 0,
            weights: vec![(0, 1.0)],
        };
        TreeEnsemble {
            classifier: None,
            outputs: 1,
            features: 1,
            nodes: vec![
                branch(0, 0.0, 1, 2),
                leaf(1),
                branch(2, 1.0, 3, 4),
                leaf(3),
                leaf(4),
            ],
            roots: vec![0],
            tree_ids: vec![7],
            base_values: vec![],
            aggregate: Aggregate::Sum,
            post: PostTransform::None,
        }
    }

    #[test]
    fn unique_leaves_are_those_of_one_member_and_no_nonmember() {
        let t = tree();
        // members: two in leaf 1, one in leaf 3, one in leaf 4
        let members = array![[-1.0f32], [-2.0], [0.5], [5.0]].into_dyn();
        // a non-member shares leaf 4
        let nonmembers = array![[3.0f32], [-0.5]].into_dyn();
        let r = leaf_membership("trees", &t, &members, &nonmembers).unwrap();
        assert_eq!(r.trees, 1);
        assert_eq!(r.leaves, 3);
        assert_eq!(r.leaves_reached_by_members, 3);
        assert_eq!(r.members_per_leaf, vec![[1, 2], [2, 1]]);
        assert_eq!(r.unique_leaves, 1);
        assert_eq!(
            r.unique,
            vec![UniqueLeaf {
                tree: 7,
                node: 3,
                member: 2
            }]
        );
        assert_eq!(r.members_with_unique_leaf, 1);
        assert!(!r.truncated);
    }
}
