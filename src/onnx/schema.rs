//! The operators the importer runs and the attributes each may carry, with
//! their types: one table ([`SCHEMAS`]), from which [`is_supported`] and
//! [`check_attributes`] are derived.
//!
//! The attribute lists are the union over the supported opsets (ai.onnx
//! 9-22, ai.onnx.ml 1-5) of the official ONNX schemas (`onnx.defs` of onnx
//! 1.23; `tests/fixtures/hostile/gen_models.py --schema-table` prints them).
//!
//! [`check_attributes`] runs on every node of the file, used or not, before
//! anything is lowered, and is at least as strict as onnxruntime's load:
//! - every attribute declares its type and holds exactly the value field of
//!   that type (onnxruntime: "type field and data field mismatch"); a
//!   repeated type may be empty;
//! - no attribute name appears twice on a node;
//! - for an operator of the table: no attribute outside its schema
//!   ("Unrecognized attribute") and each of the declared type ("Mismatched
//!   attribute type"). Nodes of other operators (label paths that are
//!   pruned away, unsupported operators, reported as such) get the first
//!   two checks only.

use super::proto::{attribute_proto::AttributeType as A, AttributeProto, NodeProto};
use super::OnnxError;

/// One operator the importer supports, and its attributes' types.
pub struct OpSchema {
    /// "" for ai.onnx, or "ai.onnx.ml".
    pub domain: &'static str,
    pub op: &'static str,
    pub attributes: &'static [(&'static str, A)],
}

const fn s(op: &'static str, attributes: &'static [(&'static str, A)]) -> OpSchema {
    OpSchema {
        domain: "",
        op,
        attributes,
    }
}

const fn ml(op: &'static str, attributes: &'static [(&'static str, A)]) -> OpSchema {
    OpSchema {
        domain: super::import::ML,
        op,
        attributes,
    }
}

const WINDOW: &[(&str, A)] = &[
    ("auto_pad", A::String),
    ("dilations", A::Ints),
    ("kernel_shape", A::Ints),
    ("pads", A::Ints),
    ("strides", A::Ints),
];

const TREE: &[(&str, A)] = &[
    ("base_values", A::Floats),
    ("base_values_as_tensor", A::Tensor),
    ("nodes_falsenodeids", A::Ints),
    ("nodes_featureids", A::Ints),
    ("nodes_hitrates", A::Floats),
    ("nodes_hitrates_as_tensor", A::Tensor),
    ("nodes_missing_value_tracks_true", A::Ints),
    ("nodes_modes", A::Strings),
    ("nodes_nodeids", A::Ints),
    ("nodes_treeids", A::Ints),
    ("nodes_truenodeids", A::Ints),
    ("nodes_values", A::Floats),
    ("nodes_values_as_tensor", A::Tensor),
    ("post_transform", A::String),
];

/// Every supported operator. Window operators share [`WINDOW`], tree
/// ensembles [`TREE`], plus their own entries (see [`attribute_type`]).
pub const SCHEMAS: &[OpSchema] = &[
    s(
        "Gemm",
        &[
            ("alpha", A::Float),
            ("beta", A::Float),
            ("transA", A::Int),
            ("transB", A::Int),
        ],
    ),
    s("MatMul", &[]),
    s("Add", &[]),
    s("Sub", &[]),
    s("Mul", &[]),
    s("Div", &[]),
    s("Neg", &[]),
    s("Exp", &[]),
    s("Log", &[]),
    s("Sqrt", &[]),
    s("Relu", &[]),
    s("LeakyRelu", &[("alpha", A::Float)]),
    s("Sigmoid", &[]),
    s("Tanh", &[]),
    s("Softmax", &[("axis", A::Int)]),
    s("LogSoftmax", &[("axis", A::Int)]),
    s("Conv", &[("group", A::Int)]),
    s(
        "MaxPool",
        &[("ceil_mode", A::Int), ("storage_order", A::Int)],
    ),
    s(
        "AveragePool",
        &[("ceil_mode", A::Int), ("count_include_pad", A::Int)],
    ),
    s("GlobalAveragePool", &[]),
    s(
        "BatchNormalization",
        &[
            ("epsilon", A::Float),
            ("momentum", A::Float),
            ("training_mode", A::Int),
        ],
    ),
    s("Flatten", &[("axis", A::Int)]),
    s("Reshape", &[("allowzero", A::Int)]),
    s("Transpose", &[("perm", A::Ints)]),
    s("Squeeze", &[("axes", A::Ints)]),
    s("Unsqueeze", &[("axes", A::Ints)]),
    s("Concat", &[("axis", A::Int)]),
    s("Dropout", &[("ratio", A::Float), ("seed", A::Int)]),
    s("Identity", &[]),
    s("Cast", &[("saturate", A::Int), ("to", A::Int)]),
    s(
        "Constant",
        &[
            ("sparse_value", A::SparseTensor),
            ("value", A::Tensor),
            ("value_float", A::Float),
            ("value_floats", A::Floats),
            ("value_int", A::Int),
            ("value_ints", A::Ints),
            ("value_string", A::String),
            ("value_strings", A::Strings),
        ],
    ),
    s("Shape", &[("end", A::Int), ("start", A::Int)]),
    s("Gather", &[("axis", A::Int)]),
    s(
        "Slice",
        &[("axes", A::Ints), ("ends", A::Ints), ("starts", A::Ints)],
    ),
    ml(
        "ZipMap",
        &[
            ("classlabels_int64s", A::Ints),
            ("classlabels_strings", A::Strings),
        ],
    ),
    ml("Scaler", &[("offset", A::Floats), ("scale", A::Floats)]),
    ml("Normalizer", &[("norm", A::String)]),
    ml(
        "LinearClassifier",
        &[
            ("classlabels_ints", A::Ints),
            ("classlabels_strings", A::Strings),
            ("coefficients", A::Floats),
            ("intercepts", A::Floats),
            ("multi_class", A::Int),
            ("post_transform", A::String),
        ],
    ),
    ml(
        "LinearRegressor",
        &[
            ("coefficients", A::Floats),
            ("intercepts", A::Floats),
            ("post_transform", A::String),
            ("targets", A::Int),
        ],
    ),
    ml(
        "SVMClassifier",
        &[
            ("classlabels_ints", A::Ints),
            ("classlabels_strings", A::Strings),
            ("coefficients", A::Floats),
            ("kernel_params", A::Floats),
            ("kernel_type", A::String),
            ("post_transform", A::String),
            ("prob_a", A::Floats),
            ("prob_b", A::Floats),
            ("rho", A::Floats),
            ("support_vectors", A::Floats),
            ("vectors_per_class", A::Ints),
        ],
    ),
    ml(
        "SVMRegressor",
        &[
            ("coefficients", A::Floats),
            ("kernel_params", A::Floats),
            ("kernel_type", A::String),
            ("n_supports", A::Int),
            ("one_class", A::Int),
            ("post_transform", A::String),
            ("rho", A::Floats),
            ("support_vectors", A::Floats),
        ],
    ),
    ml(
        "TreeEnsembleClassifier",
        &[
            ("class_ids", A::Ints),
            ("class_nodeids", A::Ints),
            ("class_treeids", A::Ints),
            ("class_weights", A::Floats),
            ("class_weights_as_tensor", A::Tensor),
            ("classlabels_int64s", A::Ints),
            ("classlabels_strings", A::Strings),
        ],
    ),
    ml(
        "TreeEnsembleRegressor",
        &[
            ("aggregate_function", A::String),
            ("n_targets", A::Int),
            ("target_ids", A::Ints),
            ("target_nodeids", A::Ints),
            ("target_treeids", A::Ints),
            ("target_weights", A::Floats),
            ("target_weights_as_tensor", A::Tensor),
        ],
    ),
];

/// The schema of `op` in `domain` ("" or "ai.onnx" for the default).
pub fn schema(domain: &str, op: &str) -> Option<&'static OpSchema> {
    let domain = super::import::norm_domain(domain);
    SCHEMAS.iter().find(|s| s.domain == domain && s.op == op)
}

/// Does the importer run `op` of `domain`?
pub fn is_supported(domain: &str, op: &str) -> bool {
    schema(domain, op).is_some()
}

/// The declared type of attribute `name` of a supported operator.
fn attribute_type(s: &OpSchema, name: &str) -> Option<A> {
    let shared: &[(&str, A)] = match s.op {
        "Conv" | "MaxPool" | "AveragePool" => WINDOW,
        "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => TREE,
        _ => &[],
    };
    s.attributes
        .iter()
        .chain(shared)
        .find(|(n, _)| *n == name)
        .map(|&(_, t)| t)
}

/// The value fields an attribute holds (a repeated field counts when it is
/// not empty).
fn held(a: &AttributeProto) -> Vec<A> {
    let mut v = Vec::new();
    let single = [
        (a.f.is_some(), A::Float),
        (a.i.is_some(), A::Int),
        (a.s.is_some(), A::String),
        (a.t.is_some(), A::Tensor),
        (a.g.is_some(), A::Graph),
        (a.sparse_tensor.is_some(), A::SparseTensor),
        (a.tp.is_some(), A::TypeProto),
        (!a.floats.is_empty(), A::Floats),
        (!a.ints.is_empty(), A::Ints),
        (!a.strings.is_empty(), A::Strings),
        (!a.tensors.is_empty(), A::Tensors),
        (!a.graphs.is_empty(), A::Graphs),
        (!a.sparse_tensors.is_empty(), A::SparseTensors),
        (!a.type_protos.is_empty(), A::TypeProtos),
    ];
    for (has, t) in single {
        if has {
            v.push(t);
        }
    }
    v
}

fn is_repeated(t: A) -> bool {
    matches!(
        t,
        A::Floats
            | A::Ints
            | A::Strings
            | A::Tensors
            | A::Graphs
            | A::SparseTensors
            | A::TypeProtos
    )
}

/// Check every attribute of `n` (see the module docs); `label` names the
/// node in the error (its name, or `OpType_index`).
pub fn check_attributes(n: &NodeProto, label: impl Fn() -> String) -> Result<(), OnnxError> {
    let schema = schema(n.domain(), n.op_type());
    let bad = |a: &AttributeProto, message: String| OnnxError::BadAttribute {
        node: label(),
        op: n.op_type().to_string(),
        attribute: a.name().to_string(),
        message,
    };
    for (k, a) in n.attribute.iter().enumerate() {
        let declared = a.r#type();
        if declared == A::Undefined {
            return Err(bad(a, "declares no type".into()));
        }
        let fields = held(a);
        let fits = match fields.as_slice() {
            [] => is_repeated(declared),
            [one] => *one == declared,
            _ => false,
        };
        if !fits {
            let names: Vec<&str> = fields.iter().map(|t| t.as_str_name()).collect();
            return Err(bad(
                a,
                format!(
                    "declares type {} but holds {}",
                    declared.as_str_name(),
                    if names.is_empty() {
                        "no value".to_string()
                    } else {
                        names.join(" and ")
                    }
                ),
            ));
        }
        if n.attribute[..k].iter().any(|b| b.name() == a.name()) {
            return Err(bad(a, "is given twice".into()));
        }
        if let Some(s) = schema {
            match attribute_type(s, a.name()) {
                None => return Err(bad(a, format!("{} has no such attribute", n.op_type()))),
                Some(want) if want != declared => {
                    return Err(bad(
                        a,
                        format!(
                            "must be {}, the file has {}",
                            want.as_str_name(),
                            declared.as_str_name()
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            name: Some("n".into()),
            attribute: attrs,
            ..Default::default()
        }
    }

    fn attr(name: &str, t: A) -> AttributeProto {
        AttributeProto {
            name: Some(name.into()),
            r#type: Some(t as i32),
            ..Default::default()
        }
    }

    fn check(n: &NodeProto) -> Result<(), String> {
        check_attributes(n, || "n".into()).map_err(|e| e.to_string())
    }

    #[test]
    fn attribute_types_are_checked() {
        let ok = AttributeProto {
            i: Some(1),
            ..attr("axis", A::Int)
        };
        assert_eq!(check(&node("Softmax", vec![ok.clone()])), Ok(()));
        // FLOAT for an INT
        let f = AttributeProto {
            f: Some(1.0),
            ..attr("axis", A::Float)
        };
        let e = check(&node("Softmax", vec![f])).unwrap_err();
        assert!(e.contains("'axis': must be INT, the file has FLOAT"), "{e}");
        // INTS for an INT
        let is = AttributeProto {
            ints: vec![1],
            ..attr("transB", A::Ints)
        };
        let e = check(&node("Gemm", vec![is])).unwrap_err();
        assert!(e.contains("must be INT, the file has INTS"), "{e}");
        // type field and value field disagree
        let mixed = AttributeProto {
            f: Some(1.0),
            ..attr("axis", A::Int)
        };
        let e = check(&node("Softmax", vec![mixed])).unwrap_err();
        assert!(e.contains("declares type INT but holds FLOAT"), "{e}");
        let two = AttributeProto {
            f: Some(1.0),
            ..ok.clone()
        };
        let e = check(&node("Softmax", vec![two])).unwrap_err();
        assert!(e.contains("holds FLOAT and INT"), "{e}");
        // no type, unknown name, twice
        let e = check(&node("Relu", vec![attr("x", A::Undefined)])).unwrap_err();
        assert!(e.contains("declares no type"), "{e}");
        let e = check(&node(
            "Relu",
            vec![AttributeProto {
                f: Some(1.0),
                ..attr("alpha", A::Float)
            }],
        ))
        .unwrap_err();
        assert!(e.contains("Relu has no such attribute"), "{e}");
        let e = check(&node("Softmax", vec![ok.clone(), ok.clone()])).unwrap_err();
        assert!(e.contains("is given twice"), "{e}");
        // an empty repeated attribute is fine; shared window attributes
        assert_eq!(check(&node("Conv", vec![attr("pads", A::Ints)])), Ok(()));
        // an operator outside the table: types only
        let any = AttributeProto {
            i: Some(1),
            ..attr("whatever", A::Int)
        };
        assert_eq!(check(&node("ArgMax", vec![any])), Ok(()));
    }
}
