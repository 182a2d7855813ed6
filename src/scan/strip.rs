//! A cleaned copy of a model file.
//!
//! Contract of [`strip_metadata`]:
//! - cleared: the model's `doc_string`, `producer_name`, `producer_version`,
//!   `metadata_props`, and `domain` when the metadata scan flags it; in every
//!   graph (recursively): `doc_string`, `metadata_props`, and the same two
//!   fields of every node, input, output, value_info and initializer, and
//!   every attribute's `doc_string`; function doc strings;
//! - replaced: every value name (graph inputs, outputs, value_info,
//!   initializers, node inputs and outputs, in every graph) that the
//!   metadata scan flags becomes `value_K`, consistently everywhere it
//!   appears (subgraphs reference outer values by name); flagged node names
//!   become `node_K` and flagged graph names `graph_K` (K counts up,
//!   skipping names already in the file);
//! - nothing else changes: operators, attributes (other than doc strings),
//!   tensors and opsets are kept, so the cleaned model computes the same
//!   outputs (checked by `tests/scan.rs` with the engine);
//! - a re-scan of the cleaned copy finds no metadata.

use super::metadata::detect;
use super::{decode, ScanError};
use crate::onnx::proto::{GraphProto, ModelProto};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// What stripping changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripSummary {
    /// Non-empty text fields cleared, by field path.
    pub fields_cleared: Vec<String>,
    /// Flagged names replaced (the new names; the old ones are what was
    /// sensitive).
    pub names_replaced: Vec<String>,
}

fn flagged(s: &str) -> bool {
    !s.is_empty() && !detect(s).is_empty()
}

fn collect_names(g: &GraphProto, all: &mut HashSet<String>) {
    all.insert(g.name().to_string());
    for v in g.input.iter().chain(&g.output).chain(&g.value_info) {
        all.insert(v.name().to_string());
    }
    for t in &g.initializer {
        all.insert(t.name().to_string());
    }
    for n in &g.node {
        all.insert(n.name().to_string());
        all.extend(n.input.iter().cloned());
        all.extend(n.output.iter().cloned());
        for a in &n.attribute {
            if let Some(sg) = &a.g {
                collect_names(sg, all);
            }
            for sg in &a.graphs {
                collect_names(sg, all);
            }
        }
    }
}

struct Renamer {
    existing: HashSet<String>,
    values: HashMap<String, String>,
    counter: usize,
    new_names: Vec<String>,
}

impl Renamer {
    fn fresh(&mut self, prefix: &str) -> String {
        loop {
            let cand = format!("{prefix}_{}", self.counter);
            self.counter += 1;
            if !self.existing.contains(&cand) {
                self.existing.insert(cand.clone());
                self.new_names.push(cand.clone());
                return cand;
            }
        }
    }

    fn value(&mut self, name: &mut Option<String>) {
        if let Some(n) = name {
            *n = self.value_str(n);
        }
    }

    fn value_str(&mut self, n: &str) -> String {
        if let Some(r) = self.values.get(n) {
            return r.clone();
        }
        if flagged(n) {
            let r = self.fresh("value");
            self.values.insert(n.to_string(), r.clone());
            r
        } else {
            n.to_string()
        }
    }
}

fn clear(field: &mut Option<String>, path: String, cleared: &mut Vec<String>) {
    if field.as_deref().is_some_and(|s| !s.is_empty()) {
        cleared.push(path);
    }
    *field = None;
}

fn clear_props<T>(props: &mut Vec<T>, path: String, cleared: &mut Vec<String>) {
    if !props.is_empty() {
        cleared.push(path);
        props.clear();
    }
}

fn clean_graph(g: &mut GraphProto, path: &str, r: &mut Renamer, cleared: &mut Vec<String>) {
    if flagged(g.name()) {
        g.name = Some(r.fresh("graph"));
    }
    clear(&mut g.doc_string, format!("{path}.doc_string"), cleared);
    clear_props(
        &mut g.metadata_props,
        format!("{path}.metadata_props"),
        cleared,
    );
    for (field, list) in [
        ("input", &mut g.input),
        ("output", &mut g.output),
        ("value_info", &mut g.value_info),
    ] {
        for (i, v) in list.iter_mut().enumerate() {
            r.value(&mut v.name);
            clear(
                &mut v.doc_string,
                format!("{path}.{field}[{i}].doc_string"),
                cleared,
            );
            clear_props(
                &mut v.metadata_props,
                format!("{path}.{field}[{i}].metadata_props"),
                cleared,
            );
        }
    }
    for (i, t) in g.initializer.iter_mut().enumerate() {
        r.value(&mut t.name);
        clear(
            &mut t.doc_string,
            format!("{path}.initializer[{i}].doc_string"),
            cleared,
        );
        clear_props(
            &mut t.metadata_props,
            format!("{path}.initializer[{i}].metadata_props"),
            cleared,
        );
    }
    for s in &mut g.sparse_initializer {
        if let Some(v) = &mut s.values {
            r.value(&mut v.name);
        }
        if let Some(ix) = &mut s.indices {
            r.value(&mut ix.name);
        }
    }
    for q in &mut g.quantization_annotation {
        r.value(&mut q.tensor_name);
    }
    for (j, n) in g.node.iter_mut().enumerate() {
        let np = format!("{path}.node[{j}]({})", n.op_type());
        if flagged(n.name()) {
            n.name = Some(r.fresh("node"));
        }
        for s in n.input.iter_mut().chain(n.output.iter_mut()) {
            if !s.is_empty() {
                *s = r.value_str(s);
            }
        }
        clear(&mut n.doc_string, format!("{np}.doc_string"), cleared);
        clear_props(
            &mut n.metadata_props,
            format!("{np}.metadata_props"),
            cleared,
        );
        for a in &mut n.attribute {
            let ap = format!("{np}.{}", a.name());
            clear(&mut a.doc_string, format!("{ap}.doc_string"), cleared);
            if let Some(t) = &mut a.t {
                r.value(&mut t.name);
                clear(&mut t.doc_string, format!("{ap}.t.doc_string"), cleared);
            }
            if let Some(sg) = &mut a.g {
                clean_graph(sg, &ap, r, cleared);
            }
            for (k, sg) in a.graphs.iter_mut().enumerate() {
                clean_graph(sg, &format!("{ap}[{k}]"), r, cleared);
            }
        }
    }
}

/// The cleaned copy of a model file, and what changed.
pub fn strip_metadata(bytes: &[u8]) -> Result<(Vec<u8>, StripSummary), ScanError> {
    let mut m: ModelProto = decode(bytes)?;
    let mut existing = HashSet::new();
    if let Some(g) = &m.graph {
        collect_names(g, &mut existing);
    }
    let mut r = Renamer {
        existing,
        values: HashMap::new(),
        counter: 0,
        new_names: Vec::new(),
    };
    let mut cleared = Vec::new();
    clear(&mut m.doc_string, "model.doc_string".into(), &mut cleared);
    clear(
        &mut m.producer_name,
        "model.producer_name".into(),
        &mut cleared,
    );
    clear(
        &mut m.producer_version,
        "model.producer_version".into(),
        &mut cleared,
    );
    if flagged(m.domain()) {
        clear(&mut m.domain, "model.domain".into(), &mut cleared);
    }
    clear_props(
        &mut m.metadata_props,
        "model.metadata_props".into(),
        &mut cleared,
    );
    for (i, f) in m.functions.iter_mut().enumerate() {
        clear(
            &mut f.doc_string,
            format!("model.functions[{i}].doc_string"),
            &mut cleared,
        );
    }
    if let Some(g) = &mut m.graph {
        clean_graph(g, "graph", &mut r, &mut cleared);
    }
    let summary = StripSummary {
        fields_cleared: cleared,
        names_replaced: r.new_names,
    };
    Ok((m.encode_to_vec(), summary))
}
