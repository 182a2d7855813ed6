//! Verbatim-data scan: every float tensor of a model file, cut into rows and
//! matched against supplied records.
//!
//! Contract of [`scan_tensors`]:
//! - Enumerates, in file order and recursively through graph attributes
//!   (`Scan`/`Loop`/`If` bodies): initializers, `Constant` values
//!   (`value`, `value_float(s)`), and every FLOATS / TENSOR / TENSORS
//!   attribute of every other node. Integer tensors are not data rows and
//!   are skipped; tensors that cannot be decoded are listed in the notes.
//! - Role: `support_vectors` (SVMClassifier/SVMRegressor `support_vectors`),
//!   `coefficients` (SVM and Linear* `coefficients`, Gemm/MatMul/Conv
//!   weights), `thresholds` (TreeEnsemble* `nodes_values`/`nodes_splits`),
//!   `leaf_values` (TreeEnsemble* target/class/leaf weights),
//!   `neighbour_set` (a 2-D tensor of the model input width consumed by
//!   `Scan`/`Loop`/`CDist`: skl2onnx's kNN), `other`.
//! - Rows: SVM support vectors are `[n_sv, len / n_sv]` with `n_sv` the sum
//!   of `vectors_per_class`; tensors of rank >= 2 are `[dims[0],
//!   product(rest)]`; 1-D tensors and float lists are cut into rows of a
//!   comparison space's width when their length is a multiple of it.
//! - Comparison spaces: `raw` (the model input, flattened per record) and,
//!   when the consuming node's data input is an intermediate value of the
//!   top graph, `preprocessed` = that value computed by the engine
//!   (`onnx::load_with` with `ImportOptions::output` naming it). A space
//!   whose width differs from the tensor's row width is not compared.
//! - Matching (no O(n m d) scan): records are indexed once per space by a
//!   hash of their bit patterns (exact matches), by the sorted distinct
//!   values of every column, and by a hash of each record's positions among
//!   those. A tensor row's value in each column is snapped to the distinct
//!   record values within tolerance: none in some column means no match;
//!   exactly one in every column gives the candidates by one hash lookup;
//!   otherwise (records within tolerance of each other in a column) the
//!   records inside the tolerance window of the column with the most
//!   distinct values are checked in full. A row value `t` matches a record
//!   value `r` when `|t - r| <= atol + rtol * max(|t|, |r|)`; the window
//!   half-width `(atol + rtol |t|) / (1 - rtol)` contains every such `r`.
//!   Non-finite tensor rows and records never match.
//! - Without records (and in any case), a tensor is flagged as looking like
//!   stored records when its role is `support_vectors` or `neighbour_set`,
//!   or when its role is `other` and it has at least `min_rows` rows of the
//!   input width, >= 90% distinct rows, at least half its columns varying,
//!   and (when records are supplied) >= 90% of its values inside their
//!   per-column range. The reasons are listed.

use super::{ScanData, ScanError, ScanSettings};
use crate::engine::Tensor;
use crate::onnx::proto::{attribute_proto::AttributeType, GraphProto, ModelProto, NodeProto};
use crate::onnx::tensor::{CData, Const};
use crate::onnx::{load_with, ImportOptions};
use ndarray::{Array2, ArrayView2, IxDyn};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// What a tensor is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SupportVectors,
    NeighbourSet,
    Coefficients,
    Thresholds,
    LeafValues,
    Other,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::SupportVectors => "support vectors",
            Role::NeighbourSet => "neighbour set",
            Role::Coefficients => "coefficients",
            Role::Thresholds => "thresholds",
            Role::LeafValues => "leaf values",
            Role::Other => "other",
        }
    }
}

/// Matches of one tensor's rows against one record set in one space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetMatches {
    /// "members", "nonmembers" or "population".
    pub set: String,
    /// "raw" (model input) or "preprocessed" (the consumer's data input).
    pub space: String,
    /// Tensor rows equal to at least one record (within tolerance).
    pub rows_matched: usize,
    /// ... of which bit-equal to a record.
    pub exact_rows: usize,
    /// ... of which equal only within the tolerance.
    pub tolerance_rows: usize,
    /// Distinct records found among the tensor's rows.
    pub records_matched: usize,
    /// Their indices (0-based data rows of the set), ascending, at most
    /// `max_indices`.
    pub record_indices: Vec<usize>,
    pub indices_truncated: bool,
}

/// One float tensor of the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorFinding {
    /// Field path in the file, e.g. `graph.node[0](SVMClassifier).support_vectors`.
    pub location: String,
    pub name: String,
    pub role: Role,
    pub shape: Vec<usize>,
    /// The node that uses the tensor (`op 'name'`), when known.
    pub consumer: Option<String>,
    /// That node's data input (the value the tensor is combined with).
    pub data_input: Option<String>,
    /// Rows and row width used for matching (0 when no width fits).
    pub rows: usize,
    pub row_width: usize,
    /// The spaces compared ("raw", "preprocessed"), with notes on spaces
    /// that could not be.
    pub spaces: Vec<String>,
    pub matches: Vec<SetMatches>,
    pub looks_like_records: bool,
    pub reasons: Vec<String>,
}

/// A float tensor found in the file, before matching.
struct Candidate {
    location: String,
    name: String,
    role: Role,
    shape: Vec<usize>,
    data: Vec<f32>,
    /// Row width fixed by the tensor itself (rank >= 2, SVM support vectors).
    natural_width: Option<usize>,
    consumer: Option<String>,
    consumer_op: Option<String>,
    data_input: Option<String>,
    in_subgraph: bool,
}

impl Candidate {
    /// Rows of width `w`, when the tensor can be read that way.
    fn rows_of(&self, w: usize) -> Option<ArrayView2<'_, f32>> {
        if w == 0 || self.data.is_empty() {
            return None;
        }
        let fits = match self.natural_width {
            Some(nw) => nw == w,
            None => self.data.len() % w == 0,
        };
        if !fits {
            return None;
        }
        ArrayView2::from_shape((self.data.len() / w, w), &self.data).ok()
    }
}

// ---------------------------------------------------------------------------
// Enumeration.

fn float_const(t: &crate::onnx::proto::TensorProto, limit: u128) -> Result<Option<Const>, String> {
    match Const::from_proto(t, limit) {
        Ok(c) => Ok(matches!(c.data, CData::F(_)).then_some(c)),
        Err(e) => Err(e.to_string()),
    }
}

fn node_label(n: &NodeProto) -> String {
    if n.name().is_empty() {
        n.op_type().to_string()
    } else {
        format!("{} '{}'", n.op_type(), n.name())
    }
}

/// The first input of `n` that is neither an initializer nor a constant.
fn data_input_of(n: &NodeProto, consts: &HashSet<&str>) -> Option<String> {
    n.input
        .iter()
        .find(|s| !s.is_empty() && !consts.contains(s.as_str()))
        .cloned()
}

fn role_of_attr(op: &str, attr: &str) -> Role {
    match (op, attr) {
        ("SVMClassifier" | "SVMRegressor", "support_vectors") => Role::SupportVectors,
        ("SVMClassifier" | "SVMRegressor", "coefficients")
        | ("LinearClassifier" | "LinearRegressor", "coefficients") => Role::Coefficients,
        (o, "nodes_values" | "nodes_splits") if o.starts_with("TreeEnsemble") => Role::Thresholds,
        (o, "target_weights" | "class_weights" | "leaf_weights" | "base_values")
            if o.starts_with("TreeEnsemble") =>
        {
            Role::LeafValues
        }
        _ => Role::Other,
    }
}

fn role_of_consumer(op: Option<&str>, shape: &[usize], input_width: Option<usize>) -> Role {
    match op {
        Some("Scan" | "Loop" | "CDist" | "If")
            if shape.len() >= 2 && Some(shape[1..].iter().product()) == input_width =>
        {
            Role::NeighbourSet
        }
        Some("Gemm" | "MatMul" | "Conv" | "ConvTranspose") if shape.len() >= 2 => {
            Role::Coefficients
        }
        _ => Role::Other,
    }
}

struct Walker {
    limit: u128,
    input_width: Option<usize>,
    out: Vec<Candidate>,
    notes: Vec<String>,
}

impl Walker {
    fn graph(&mut self, g: &GraphProto, path: &str, depth: usize) {
        if depth > 16 {
            self.notes.push(format!(
                "{path}: subgraphs nested deeper than 16 not scanned"
            ));
            return;
        }
        let in_sub = depth > 0;
        let mut consts: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
        for n in &g.node {
            if n.op_type() == "Constant" {
                consts.extend(n.output.iter().map(|s| s.as_str()));
            }
        }
        // The first node reading each value (one pass; a scan of the nodes
        // per initializer was quadratic).
        let mut first_consumer: HashMap<&str, &NodeProto> = HashMap::new();
        for n in &g.node {
            for s in &n.input {
                first_consumer.entry(s.as_str()).or_insert(n);
            }
        }
        let consumer_of = |name: &str| -> Option<&NodeProto> { first_consumer.get(name).copied() };
        for (i, t) in g.initializer.iter().enumerate() {
            let loc = format!("{path}.initializer[{i}]");
            match float_const(t, self.limit) {
                Ok(Some(c)) => {
                    let cons = consumer_of(t.name());
                    self.push(c, loc, t.name().to_string(), None, cons, &consts, in_sub);
                }
                Ok(None) => {}
                Err(e) => self
                    .notes
                    .push(format!("{loc} '{}' not decoded: {e}", t.name())),
            }
        }
        for (j, n) in g.node.iter().enumerate() {
            let npath = format!("{path}.node[{j}]({})", n.op_type());
            for a in &n.attribute {
                let aloc = format!("{npath}.{}", a.name());
                if let Some(sub) = &a.g {
                    self.graph(sub, &aloc, depth + 1);
                }
                for (k, sub) in a.graphs.iter().enumerate() {
                    self.graph(sub, &format!("{aloc}[{k}]"), depth + 1);
                }
                let is_const = n.op_type() == "Constant" && n.domain().is_empty();
                // A Constant's value is used by whoever reads its output.
                let (name, cons, role_attr) = if is_const {
                    let out = n.output.first().cloned().unwrap_or_default();
                    let c = consumer_of(&out);
                    (out, c, None)
                } else {
                    (
                        format!("{}.{}", n.name(), a.name()),
                        Some(n),
                        Some(role_of_attr(n.op_type(), a.name())),
                    )
                };
                let mut tensors: Vec<(Const, String)> = Vec::new();
                if let Some(t) = &a.t {
                    match float_const(t, self.limit) {
                        Ok(Some(c)) => tensors.push((c, aloc.clone())),
                        Ok(None) => {}
                        Err(e) => self.notes.push(format!("{aloc} not decoded: {e}")),
                    }
                }
                for (k, t) in a.tensors.iter().enumerate() {
                    match float_const(t, self.limit) {
                        Ok(Some(c)) => tensors.push((c, format!("{aloc}[{k}]"))),
                        Ok(None) => {}
                        Err(e) => self.notes.push(format!("{aloc}[{k}] not decoded: {e}")),
                    }
                }
                let floats_attr = a.r#type == Some(AttributeType::Floats as i32)
                    || (!a.floats.is_empty() && a.r#type.is_none());
                if floats_attr && !a.floats.is_empty() {
                    let v =
                        ndarray::ArrayD::from_shape_vec(IxDyn(&[a.floats.len()]), a.floats.clone());
                    if let Ok(arr) = v {
                        tensors.push((Const::f(arr), aloc.clone()));
                    }
                }
                for (c, loc) in tensors {
                    let natural = if role_attr == Some(Role::SupportVectors) {
                        let n_sv: i64 = n
                            .attribute
                            .iter()
                            .find(|a| a.name() == "vectors_per_class")
                            .map(|a| a.ints.iter().filter(|&&v| v > 0).sum())
                            .unwrap_or(0);
                        let len = c.len();
                        (n_sv > 0 && len % n_sv as usize == 0).then(|| len / n_sv as usize)
                    } else {
                        None
                    };
                    self.push_with(
                        c,
                        loc,
                        name.clone(),
                        role_attr,
                        natural,
                        cons,
                        &consts,
                        in_sub,
                    );
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        c: Const,
        loc: String,
        name: String,
        role: Option<Role>,
        cons: Option<&NodeProto>,
        consts: &HashSet<&str>,
        in_sub: bool,
    ) {
        self.push_with(c, loc, name, role, None, cons, consts, in_sub)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_with(
        &mut self,
        c: Const,
        location: String,
        name: String,
        role: Option<Role>,
        natural: Option<usize>,
        cons: Option<&NodeProto>,
        consts: &HashSet<&str>,
        in_subgraph: bool,
    ) {
        let shape = c.shape().to_vec();
        let data: Vec<f32> = c.to_f32().iter().copied().collect();
        let role = role.unwrap_or_else(|| {
            role_of_consumer(cons.map(|n| n.op_type()), &shape, self.input_width)
        });
        let natural_width = natural
            .or_else(|| (shape.len() >= 2 && shape[0] > 0).then(|| shape[1..].iter().product()));
        self.out.push(Candidate {
            location,
            name,
            role,
            shape,
            data,
            natural_width,
            consumer: cons.map(node_label),
            consumer_op: cons.map(|n| n.op_type().to_string()),
            data_input: cons.and_then(|n| data_input_of(n, consts)),
            in_subgraph,
        });
    }
}

/// Name and scalars per record of the model's data input (the first graph
/// input that is not an initializer).
pub fn model_input(m: &ModelProto) -> Option<(String, Option<usize>)> {
    use crate::onnx::proto::{tensor_shape_proto::dimension, type_proto};
    let g = m.graph.as_ref()?;
    let inits: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let vi = g.input.iter().find(|v| !inits.contains(v.name()))?;
    let width = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(tt)) => tt.shape.as_ref().and_then(|s| {
            if s.dim.len() < 2 {
                return None;
            }
            s.dim[1..]
                .iter()
                .map(|d| match d.value {
                    Some(dimension::Value::DimValue(v)) if v > 0 => usize::try_from(v).ok(),
                    _ => None,
                })
                .try_fold(1usize, |acc, v| v.and_then(|v| acc.checked_mul(v)))
        }),
        _ => None,
    };
    Some((vi.name().to_string(), width))
}

// ---------------------------------------------------------------------------
// Matching.

fn key_bits(v: f32) -> u32 {
    if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

fn row_hash(row: &[f32]) -> u64 {
    // FNV-1a over the bit patterns.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &v in row {
        for b in key_bits(v).to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn close(t: f32, r: f32, rtol: f32, atol: f32) -> bool {
    (t - r).abs() <= atol + rtol * t.abs().max(r.abs())
}

/// Records of one set in one space, indexed for row queries.
pub struct RecordIndex<'a> {
    records: ArrayView2<'a, f32>,
    rtol: f32,
    atol: f32,
    exact: HashMap<u64, Vec<usize>>,
    /// Per column: the distinct record values, ascending.
    distinct: Vec<Vec<f32>>,
    /// Records by the hash of their per-column positions in `distinct`.
    snapped: HashMap<u64, Vec<usize>>,
    /// The column with the most distinct values, and (value, record)
    /// ascending by value in it: the fallback window search.
    key_col: usize,
    sorted: Vec<(f32, usize)>,
}

fn hash_u32s(v: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in v {
        for b in x.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl<'a> RecordIndex<'a> {
    /// Index `records` `[n, d]` for the tolerance `rtol`, `atol`: O(n d log n).
    pub fn new(records: ArrayView2<'a, f32>, rtol: f32, atol: f32) -> Self {
        let d = records.ncols();
        // Records with a non-finite value (possible in a computed space)
        // never match and stay out of the index.
        let valid: Vec<usize> = records
            .rows()
            .into_iter()
            .enumerate()
            .filter(|(_, r)| r.iter().all(|v| v.is_finite()))
            .map(|(i, _)| i)
            .collect();
        let mut exact: HashMap<u64, Vec<usize>> = HashMap::new();
        for &i in &valid {
            let row: Vec<f32> = records.row(i).iter().copied().collect();
            exact.entry(row_hash(&row)).or_default().push(i);
        }
        let norm = |v: f32| if v == 0.0 { 0.0 } else { v };
        let mut distinct: Vec<Vec<f32>> = Vec::with_capacity(d);
        for c in 0..d {
            let mut col: Vec<f32> = valid.iter().map(|&i| norm(records[[i, c]])).collect();
            col.sort_by(|a, b| a.total_cmp(b));
            col.dedup_by(|a, b| a.to_bits() == b.to_bits());
            distinct.push(col);
        }
        let mut snapped: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut pos = vec![0u32; d];
        for &i in &valid {
            for (c, &v) in records.row(i).iter().enumerate() {
                let v = norm(v);
                pos[c] = distinct[c].partition_point(|x| x.total_cmp(&v).is_lt()) as u32;
            }
            snapped.entry(hash_u32s(&pos)).or_default().push(i);
        }
        let key_col = (0..d)
            .max_by_key(|&c| (distinct[c].len(), std::cmp::Reverse(c)))
            .unwrap_or(0);
        let mut sorted: Vec<(f32, usize)> = if d == 0 {
            Vec::new()
        } else {
            valid.iter().map(|&i| (records[[i, key_col]], i)).collect()
        };
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        RecordIndex {
            records,
            rtol,
            atol,
            exact,
            distinct,
            snapped,
            key_col,
            sorted,
        }
    }

    /// Half-width of the window holding every `r` within tolerance of `t`.
    fn window(&self, t: f32) -> (f32, f32) {
        let w = (self.atol + self.rtol * t.abs()) / (1.0 - self.rtol);
        (t - w, t + w)
    }

    fn matches_row(&self, i: usize, row: &[f32]) -> bool {
        self.records
            .row(i)
            .iter()
            .zip(row)
            .all(|(&r, &t)| close(t, r, self.rtol, self.atol))
    }

    /// Records bit-equal to `row`, and records equal within tolerance (a
    /// superset of the first), both ascending.
    ///
    /// Each column value is snapped to the distinct record values within
    /// tolerance; when every column has exactly one, the candidates are the
    /// records with those values (one hash lookup); when a column has none,
    /// nothing matches; otherwise (two records within tolerance of each
    /// other in some column) the records in the window of the key column
    /// are checked.
    pub fn query(&self, row: &[f32]) -> (Vec<usize>, Vec<usize>) {
        if row.len() != self.records.ncols() || row.iter().any(|v| !v.is_finite()) {
            return (Vec::new(), Vec::new());
        }
        let mut exact: Vec<usize> = self
            .exact
            .get(&row_hash(row))
            .map(|c| {
                c.iter()
                    .copied()
                    .filter(|&i| {
                        self.records
                            .row(i)
                            .iter()
                            .zip(row)
                            .all(|(&a, &b)| key_bits(a) == key_bits(b))
                    })
                    .collect()
            })
            .unwrap_or_default();
        exact.sort_unstable();
        if row.is_empty() {
            return (exact.clone(), exact);
        }
        let mut pos = Vec::with_capacity(row.len());
        let mut unique = true;
        for (c, &t) in row.iter().enumerate() {
            let (lo, hi) = self.window(t);
            let col = &self.distinct[c];
            let start = col.partition_point(|&v| v < lo);
            let close_here: Vec<usize> = (start..col.len())
                .take_while(|&k| col[k] <= hi)
                .filter(|&k| close(t, col[k], self.rtol, self.atol))
                .take(2)
                .collect();
            match close_here.len() {
                0 => return (exact.clone(), exact),
                1 => pos.push(close_here[0] as u32),
                _ => unique = false,
            }
        }
        let mut tol: Vec<usize> = if unique {
            self.snapped
                .get(&hash_u32s(&pos))
                .map(|c| {
                    c.iter()
                        .copied()
                        .filter(|&i| self.matches_row(i, row))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            let (lo, hi) = self.window(row[self.key_col]);
            let start = self.sorted.partition_point(|(v, _)| *v < lo);
            self.sorted[start..]
                .iter()
                .take_while(|(v, _)| *v <= hi)
                .map(|&(_, i)| i)
                .filter(|&i| self.matches_row(i, row))
                .collect()
        };
        tol.extend(exact.iter().copied());
        tol.sort_unstable();
        tol.dedup();
        (exact, tol)
    }
}

/// One tensor's rows matched against records that arrive in chunks. The
/// index is built over the tensor's rows (a model holds few) and every
/// record is a query, so the records, possibly computed chunk by chunk in a
/// preprocessed space, are never held whole: at 100k records x 256 values
/// per space, indexing the records instead took hundreds of MB. The match
/// relation is symmetric (`close` and bit equality are), so this gives what
/// indexing the records and querying the rows gives (tested against brute
/// force).
pub struct RowMatcher<'a> {
    index: RecordIndex<'a>,
    /// Per tensor row: bit-equal to some record / equal within tolerance.
    exact: Vec<bool>,
    tol: Vec<bool>,
    /// Records equal (within tolerance) to some tensor row, ascending.
    found: Vec<usize>,
}

impl<'a> RowMatcher<'a> {
    pub fn new(rows: ArrayView2<'a, f32>, rtol: f32, atol: f32) -> Self {
        let m = rows.nrows();
        RowMatcher {
            index: RecordIndex::new(rows, rtol, atol),
            exact: vec![false; m],
            tol: vec![false; m],
            found: Vec::new(),
        }
    }

    /// Match the records `records`, the first of which is record `first`
    /// of its set (chunks come in order).
    pub fn feed(&mut self, records: ArrayView2<f32>, first: usize) {
        let mut copy = Vec::new();
        for (i, r) in records.rows().into_iter().enumerate() {
            // a row of a standard-layout chunk is read in place
            let row = match r.as_slice() {
                Some(row) => row,
                None => {
                    copy.clear();
                    copy.extend(r.iter().copied());
                    &copy[..]
                }
            };
            let (exact, tol) = self.index.query(row);
            if tol.is_empty() {
                continue;
            }
            self.found.push(first + i);
            for e in exact {
                self.exact[e] = true;
            }
            for t in tol {
                self.tol[t] = true;
            }
        }
    }

    pub fn finish(mut self, set: &str, space: &str, settings: &ScanSettings) -> SetMatches {
        self.found.sort_unstable();
        self.found.dedup();
        let rows_matched = self.tol.iter().filter(|&&b| b).count();
        let exact_rows = self.exact.iter().filter(|&&b| b).count();
        let records_matched = self.found.len();
        let indices_truncated = records_matched > settings.max_indices;
        self.found.truncate(settings.max_indices);
        SetMatches {
            set: set.to_string(),
            space: space.to_string(),
            rows_matched,
            exact_rows,
            tolerance_rows: rows_matched - exact_rows,
            records_matched,
            record_indices: self.found,
            indices_truncated,
        }
    }
}

/// Match every row of `rows` against every record of `records` (one call
/// of a [`RowMatcher`]).
pub fn match_rows(
    rows: ArrayView2<f32>,
    records: ArrayView2<f32>,
    set: &str,
    space: &str,
    settings: &ScanSettings,
) -> SetMatches {
    let mut m = RowMatcher::new(rows, settings.rtol, settings.atol);
    m.feed(records, 0);
    m.finish(set, space, settings)
}

// ---------------------------------------------------------------------------
// Preprocessed spaces.

/// Called with each chunk of computed records and its first record's index.
type ChunkFn<'a> = dyn FnMut(ArrayView2<f32>, usize) -> Result<(), String> + 'a;

/// Records of one set in the space of the intermediate value of a prefix
/// model, computed 1024 records at a time; `each(chunk [rows, width], first
/// record index)` sees every chunk in order. Returns the width (0 for no
/// records).
fn preprocess_set(
    model: &crate::onnx::Model,
    rec: &[usize],
    name: &str,
    set: &str,
    x: &Array2<f32>,
    each: &mut ChunkFn,
) -> Result<usize, String> {
    let n = x.nrows();
    let mut width: Option<usize> = None;
    let mut start = 0;
    while start < n {
        let end = (start + 1024).min(n);
        let chunk = x.slice(ndarray::s![start..end, ..]);
        let shape: Vec<usize> = std::iter::once(end - start)
            .chain(rec.iter().copied())
            .collect();
        let xb = Tensor::from_shape_vec(IxDyn(&shape), chunk.iter().copied().collect())
            .map_err(|e| format!("{set} records do not fit the input shape: {e}"))?;
        let y = model
            .graph
            .forward(&model.params, &xb)
            .map_err(|e| e.to_string())?;
        let rows = y.shape().first().copied().unwrap_or(0);
        if rows != end - start {
            return Err(format!(
                "'{name}' has {rows} rows for a batch of {}; not per record",
                end - start
            ));
        }
        let w = y.len() / rows.max(1);
        if *width.get_or_insert(w) != w {
            return Err(format!("'{name}' changes width between batches of records"));
        }
        let owned: Vec<f32>;
        let flat = match y.as_slice() {
            Some(flat) => flat,
            None => {
                owned = y.iter().copied().collect();
                &owned[..]
            }
        };
        let part = ArrayView2::from_shape((rows, w), flat).map_err(|e| e.to_string())?;
        each(part, start)?;
        start = end;
    }
    Ok(width.unwrap_or(0))
}

/// The prefix model computing the intermediate value `name`, and its
/// per-record input shape.
fn prefix_model(bytes: &[u8], name: &str) -> Result<(crate::onnx::Model, Vec<usize>), String> {
    let opts = ImportOptions {
        output: Some(name.to_string()),
        ..ImportOptions::default()
    };
    let model = load_with(bytes, &opts).map_err(|e| e.to_string())?;
    let rec = model
        .graph
        .input
        .record_shape()
        .ok_or_else(|| "the model input has a symbolic record shape".to_string())?;
    Ok((model, rec))
}

/// What one candidate tensor gets in one preprocessed space: per set, its
/// matches; or the note saying why it was not compared.
enum PreOutcome {
    /// The space's width and the matches per set.
    Matched(usize, Vec<SetMatches>),
    Note(String),
}

/// Match the candidates `who` (indices into `cands`) against every set in
/// the preprocessed space `name`, streaming the records through the prefix
/// model; one outcome per candidate in `who`, in order.
fn match_preprocessed(
    bytes: &[u8],
    name: &str,
    cands: &[Candidate],
    who: &[usize],
    data: &ScanData,
    settings: &ScanSettings,
) -> Vec<PreOutcome> {
    let all_note = |e: String| {
        who.iter()
            .map(|_| PreOutcome::Note(format!("preprocessed '{name}' not computed: {e}")))
            .collect()
    };
    let (model, rec) = match prefix_model(bytes, name) {
        Ok(m) => m,
        Err(e) => return all_note(e),
    };
    let sets = data.sets();
    // the width comes from the first record; the matchers are made then
    let width = match sets.first() {
        Some((set, x)) if x.nrows() > 0 => {
            let one = x.slice(ndarray::s![0..1, ..]).to_owned();
            match preprocess_set(&model, &rec, name, set, &one, &mut |_, _| Ok(())) {
                Ok(w) => w,
                Err(e) => return all_note(e),
            }
        }
        _ => 0,
    };
    // per candidate: its rows in this width (None: it does not fit)
    let fits: Vec<Option<ArrayView2<f32>>> = who.iter().map(|&c| cands[c].rows_of(width)).collect();
    let mut matched: Vec<Vec<SetMatches>> = vec![Vec::new(); who.len()];
    if fits.iter().any(Option::is_some) {
        for (set, x) in &sets {
            let mut matchers: Vec<Option<RowMatcher>> = fits
                .iter()
                .map(|f| f.map(|rows| RowMatcher::new(rows, settings.rtol, settings.atol)))
                .collect();
            let fed = preprocess_set(&model, &rec, name, set, x, &mut |chunk, first| {
                if chunk.ncols() != width {
                    return Err(format!("'{name}' changes width between batches of records"));
                }
                for m in matchers.iter_mut().flatten() {
                    m.feed(chunk, first);
                }
                Ok(())
            });
            if let Err(e) = fed {
                return all_note(e);
            }
            for (out, m) in matched.iter_mut().zip(matchers) {
                if let Some(m) = m {
                    out.push(m.finish(set, "preprocessed", settings));
                }
            }
        }
    }
    fits.iter()
        .zip(matched)
        .map(|(f, m)| match f {
            Some(_) => PreOutcome::Matched(width, m),
            None => PreOutcome::Note(format!(
                "preprocessed '{name}' has width {width}, which the tensor's rows do not have"
            )),
        })
        .collect()
}

/// Findings of [`scan_tensors`], the model input width and notes.
pub type TensorScan = (Vec<TensorFinding>, Option<usize>, Vec<String>);

/// At most this many distinct preprocessed spaces are computed per scan.
pub const MAX_PREPROCESSED_SPACES: usize = 16;

// ---------------------------------------------------------------------------
// The scan.

/// Scan every float tensor of `model` (`bytes` are its file bytes, used to
/// compute preprocessed spaces). Returns the findings, the model input width
/// and notes.
pub fn scan_tensors(
    model: &ModelProto,
    bytes: &[u8],
    data: &ScanData,
    settings: &ScanSettings,
) -> Result<TensorScan, ScanError> {
    let g = model.graph.as_ref().ok_or(ScanError::NoGraph)?;
    let (input_name, input_width) = match model_input(model) {
        Some((n, w)) => (Some(n), w),
        None => (None, None),
    };
    for (set, x) in data.sets() {
        match input_width {
            Some(w) if x.ncols() != w => {
                return Err(ScanError::Width {
                    set: set.to_string(),
                    got: x.ncols(),
                    expected: w,
                })
            }
            _ => {}
        }
    }
    let mut walker = Walker {
        limit: settings.max_tensor_elements,
        input_width,
        out: Vec::new(),
        notes: Vec::new(),
    };
    walker.graph(g, "graph", 0);
    let mut notes = walker.notes;
    if input_width.is_none() {
        notes.push(
            "the model input has no fixed per-record width; tensors were compared only where the records' width fits".into(),
        );
    }
    let raw_width = input_width.or_else(|| data.sets().first().map(|(_, x)| x.ncols()));

    // Union per-column range of the supplied records (raw space).
    let ranges: Option<Vec<(f32, f32)>> = raw_width.filter(|_| !data.is_empty()).map(|w| {
        let mut r = vec![(f32::INFINITY, f32::NEG_INFINITY); w];
        for (_, x) in data.sets() {
            for row in x.rows() {
                for (c, &v) in row.iter().enumerate() {
                    r[c].0 = r[c].0.min(v);
                    r[c].1 = r[c].1.max(v);
                }
            }
        }
        r
    });

    // The preprocessed spaces: which candidate is compared in which (the
    // first MAX_PREPROCESSED_SPACES distinct intermediate values, in file
    // order), then each space computed once, its records streamed.
    let mut space_names: Vec<String> = Vec::new();
    let mut pre: Vec<Option<PreOutcome>> = Vec::with_capacity(walker.out.len());
    let mut members_of: Vec<Vec<usize>> = Vec::new();
    for (ci, c) in walker.out.iter().enumerate() {
        let intermediate = c
            .data_input
            .as_ref()
            .filter(|d| Some(*d) != input_name.as_ref());
        // Scalars and single values cannot hold a record row.
        let rows_possible = c.data.len() >= 2;
        pre.push(None);
        let (Some(name), false, true) = (intermediate, data.is_empty(), rows_possible) else {
            continue;
        };
        if c.in_subgraph {
            pre[ci] = Some(PreOutcome::Note(format!(
                "preprocessed '{name}' not computed: the consumer is inside a subgraph"
            )));
            continue;
        }
        match space_names.iter().position(|s| s == name) {
            Some(k) => members_of[k].push(ci),
            None if space_names.len() >= MAX_PREPROCESSED_SPACES => {
                pre[ci] = Some(PreOutcome::Note(format!(
                    "preprocessed '{name}' not computed: over {MAX_PREPROCESSED_SPACES} spaces"
                )));
            }
            None => {
                space_names.push(name.clone());
                members_of.push(vec![ci]);
            }
        }
    }
    for (name, who) in space_names.iter().zip(&members_of) {
        let outcomes = match_preprocessed(bytes, name, &walker.out, who, data, settings);
        for (&ci, o) in who.iter().zip(outcomes) {
            pre[ci] = Some(o);
        }
    }

    let mut findings = Vec::new();
    for (c, pre) in walker.out.iter().zip(pre) {
        let mut spaces = Vec::new();
        let mut matches = Vec::new();
        let mut used_width = None;
        if let Some(w) = raw_width {
            if let Some(rows) = c.rows_of(w) {
                used_width = Some(w);
                spaces.push("raw".to_string());
                for (set, x) in data.sets() {
                    matches.push(match_rows(rows, x.view(), set, "raw", settings));
                }
            }
        }
        match pre {
            None => {}
            Some(PreOutcome::Note(note)) => spaces.push(note),
            Some(PreOutcome::Matched(w, m)) => {
                let name = c.data_input.as_deref().unwrap_or_default();
                used_width = used_width.or(Some(w));
                spaces.push(format!("preprocessed '{name}'"));
                matches.extend(m);
            }
        }
        let width = used_width.or(c.natural_width).unwrap_or(0);
        let rows = if width > 0 && c.data.len() % width == 0 {
            c.data.len() / width
        } else {
            0
        };
        let (flag, reasons) = judge(c, raw_width, ranges.as_deref(), settings);
        findings.push(TensorFinding {
            location: c.location.clone(),
            name: c.name.clone(),
            role: c.role,
            shape: c.shape.clone(),
            consumer: c.consumer.clone(),
            data_input: c.data_input.clone(),
            rows,
            row_width: width,
            spaces,
            matches,
            looks_like_records: flag,
            reasons,
        });
    }
    Ok((findings, input_width, notes))
}

/// Does the tensor look like stored records? With the reasons.
fn judge(
    c: &Candidate,
    input_width: Option<usize>,
    ranges: Option<&[(f32, f32)]>,
    settings: &ScanSettings,
) -> (bool, Vec<String>) {
    let mut reasons = Vec::new();
    let op = c.consumer_op.as_deref().unwrap_or("?");
    match c.role {
        Role::SupportVectors => {
            let w = c.natural_width.unwrap_or(0);
            reasons.push(format!(
                "{op} stores its support vectors: {} training records of {w} values each (in the space of the classifier's input)",
                c.data.len() / w.max(1)
            ));
            return (true, reasons);
        }
        Role::NeighbourSet => {
            reasons.push(format!(
                "a {}-row table of the model's input width consumed by {op}: how a k-nearest-neighbours export stores its training set",
                c.shape.first().copied().unwrap_or(0)
            ));
            return (true, reasons);
        }
        _ => {}
    }
    let Some(w) = input_width else {
        return (false, reasons);
    };
    let Some(rows) = c.rows_of(w) else {
        return (false, reasons);
    };
    let n = rows.nrows();
    if n < settings.min_rows || w < 2 {
        return (false, reasons);
    }
    if c.role != Role::Other {
        reasons.push(format!(
            "{n} rows of the input width {w}, but they are the {} of {op}: not flagged",
            c.role.name()
        ));
        return (false, reasons);
    }
    let mut distinct: Vec<u64> = rows
        .rows()
        .into_iter()
        .map(|r| row_hash(&r.iter().copied().collect::<Vec<_>>()))
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    let varying = (0..w)
        .filter(|&j| {
            let col = rows.column(j);
            let first = col[0];
            col.iter().any(|&v| v != first)
        })
        .count();
    let distinct_ok = distinct.len() * 10 >= n * 9;
    let varying_ok = varying * 2 >= w;
    reasons.push(format!(
        "{n} rows of the model's input width {w}; {} distinct rows; {varying} of {w} columns vary",
        distinct.len()
    ));
    let mut range_ok = true;
    match ranges {
        Some(r) if r.len() == w => {
            let total = rows.len();
            let inside = rows
                .rows()
                .into_iter()
                .flat_map(|row| {
                    row.iter()
                        .zip(r)
                        .map(|(&v, &(lo, hi))| (v >= lo && v <= hi) as usize)
                        .collect::<Vec<_>>()
                })
                .sum::<usize>();
            range_ok = inside * 10 >= total * 9;
            reasons.push(format!(
                "{:.1}% of its values lie inside the supplied records' per-column range",
                100.0 * inside as f64 / total.max(1) as f64
            ));
        }
        _ => reasons.push("value range not checked (no records supplied)".into()),
    }
    (distinct_ok && varying_ok && range_ok, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn settings() -> ScanSettings {
        ScanSettings::default()
    }

    #[test]
    fn exact_and_tolerance_matches_against_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, m, d) = (300, 200, 6);
        let recs = Array2::from_shape_fn((n, d), |_| (rng.gen_range(-50i32..50) as f32) * 0.37);
        let mut rows = Array2::from_shape_fn((m, d), |_| rng.gen_range(-20.0f32..20.0));
        // 40 exact copies, 30 perturbed by 5e-6 relative, 30 random.
        for i in 0..40 {
            rows.row_mut(i).assign(&recs.row(i * 3));
        }
        for i in 40..70 {
            let r = recs.row(i * 2).mapv(|v| v * (1.0 + 5e-6) + 1e-6);
            rows.row_mut(i).assign(&r);
        }
        let got = match_rows(rows.view(), recs.view(), "members", "raw", &settings());
        let s = settings();
        let (rows_matched, exact_rows, found) = brute(&recs, &rows, s.rtol, s.atol);
        assert_eq!(got.rows_matched, rows_matched);
        assert_eq!(got.exact_rows, exact_rows);
        assert_eq!(got.record_indices, found);
        assert!(got.rows_matched >= 70, "{got:?}");
        assert!(got.exact_rows >= 40);
        assert!(got.tolerance_rows >= 30);
    }

    #[test]
    fn nan_rows_and_zero_signs() {
        let recs =
            Array2::from_shape_vec((3, 2), vec![0.0f32, 1.0, 2.0, 3.0, f32::NAN, 1.0]).unwrap();
        let idx = RecordIndex::new(recs.view(), 0.0, 0.0);
        let (e, t) = idx.query(&[-0.0, 1.0]);
        assert_eq!((e, t), (vec![0], vec![0]));
        let idx = RecordIndex::new(recs.view(), 0.5, 1.0);
        let (e, t) = idx.query(&[f32::NAN, 1.0]);
        assert!(e.is_empty() && t.is_empty());
        let idx = RecordIndex::new(recs.view(), 1e-4, 1e-5);
        let (e, t) = idx.query(&[2.0, 3.0001]);
        assert_eq!((e, t), (vec![], vec![1]));
        let (_, t) = idx.query(&[2.0, 3.01]);
        assert!(t.is_empty());
    }

    /// Brute-force reference: (rows matched, exact rows, matched records).
    fn brute(
        recs: &Array2<f32>,
        rows: &Array2<f32>,
        rtol: f32,
        atol: f32,
    ) -> (usize, usize, Vec<usize>) {
        let (mut matched, mut exact_rows, mut found) = (0, 0, Vec::new());
        for r in rows.rows() {
            if r.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let ex = recs.rows().into_iter().any(|q| {
                q.iter()
                    .zip(r.iter())
                    .all(|(&a, &b)| key_bits(a) == key_bits(b))
            });
            let tol: Vec<usize> = recs
                .rows()
                .into_iter()
                .enumerate()
                .filter(|(_, q)| {
                    q.iter()
                        .zip(r.iter())
                        .all(|(&a, &b)| close(b, a, rtol, atol))
                })
                .map(|(i, _)| i)
                .collect();
            if !tol.is_empty() {
                matched += 1;
                exact_rows += ex as usize;
            }
            found.extend(tol);
        }
        found.sort_unstable();
        found.dedup();
        (matched, exact_rows, found)
    }

    #[test]
    fn discrete_columns_and_near_duplicates_agree_with_brute_force() {
        // Binary and small-integer columns (weak sort keys), records that are
        // within tolerance of each other in a column (the fallback path),
        // duplicated records, and perturbed copies.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (n, m, d) = (400, 300, 7);
        let mut recs = Array2::from_shape_fn((n, d), |(_, c)| match c {
            0..=2 => rng.gen_range(0..2) as f32,
            3 => rng.gen_range(0..5) as f32,
            _ => rng.gen_range(-2.0f32..2.0),
        });
        for i in 0..40 {
            // near-duplicates of record i in column 4, exact duplicates in the rest
            let mut r = recs.row(i).to_owned();
            r[4] *= 1.0 + 3e-5;
            recs.row_mut(200 + i).assign(&r);
        }
        let mut rows = Array2::from_shape_fn((m, d), |(_, c)| match c {
            0..=2 => rng.gen_range(0..2) as f32,
            3 => rng.gen_range(0..5) as f32,
            _ => rng.gen_range(-2.0f32..2.0),
        });
        for i in 0..100 {
            rows.row_mut(i).assign(&recs.row(i * 3));
        }
        for i in 100..150 {
            let r = recs.row(i).mapv(|v| v * (1.0 - 4e-5));
            rows.row_mut(i).assign(&r);
        }
        rows[[299, 5]] = f32::NAN;
        for (rtol, atol) in [(1e-4, 1e-5), (0.0, 0.0), (1e-3, 1e-3)] {
            let s = ScanSettings {
                rtol,
                atol,
                ..ScanSettings::default()
            };
            let got = match_rows(rows.view(), recs.view(), "members", "raw", &s);
            let (matched, exact_rows, found) = brute(&recs, &rows, rtol, atol);
            assert_eq!(got.rows_matched, matched, "rtol {rtol}");
            assert_eq!(got.exact_rows, exact_rows, "rtol {rtol}");
            assert_eq!(got.record_indices, found, "rtol {rtol}");
            assert!(matched >= 100);
        }
    }

    #[test]
    fn binary_records_ten_thousand_square() {
        // 10k binary records x 10k rows: the key-column window alone would
        // hold about half the records for every row; snapping keeps it to
        // one hash lookup per row.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (n, d) = (10_000, 24);
        let recs = Array2::from_shape_fn((n, d), |_| rng.gen_range(0..2) as f32);
        let rows = Array2::from_shape_fn((n, d), |_| rng.gen_range(0..2) as f32);
        let got = match_rows(rows.view(), recs.view(), "members", "raw", &settings());
        // Reference: exact set membership (binary values are 1 apart).
        let set: HashSet<Vec<u32>> = recs
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v.to_bits()).collect())
            .collect();
        let want = rows
            .rows()
            .into_iter()
            .filter(|r| set.contains(&r.iter().map(|v| v.to_bits()).collect::<Vec<_>>()))
            .count();
        assert_eq!(got.rows_matched, want);
        assert_eq!(got.exact_rows, want);
    }

    #[test]
    fn ten_thousand_by_ten_thousand_is_fast_enough() {
        // Not a timing assertion (shared CI cores): checks the result on a
        // size where brute force would be 10^8 x d comparisons.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (n, d) = (10_000, 8);
        let recs = Array2::from_shape_fn((n, d), |_| rng.gen_range(-1.0f32..1.0));
        let mut rows = Array2::from_shape_fn((n, d), |_| rng.gen_range(-1.0f32..1.0));
        for i in (0..n).step_by(10) {
            rows.row_mut(i).assign(&recs.row(n - 1 - i));
        }
        let got = match_rows(rows.view(), recs.view(), "members", "raw", &settings());
        assert_eq!(got.rows_matched, 1000);
        assert_eq!(got.exact_rows, 1000);
        assert_eq!(got.records_matched, 1000);
    }
}
