//! HTML of the report's `scan` section (`crate::scan::ScanReport`): the
//! headline (records stored verbatim, non-member coincidences, tensors that
//! look like stored records), a table of the tensors that matter (flagged or
//! matching any record) with their matches per record set and space, the
//! metadata findings with their field paths, and the tolerance rule and
//! notes. Every text is escaped; no external requests.

use super::html::esc;
use crate::scan::{ScanReport, TensorFinding};
use std::fmt::Write;

fn matches_cell(t: &TensorFinding, set: &str) -> String {
    let best = t
        .matches
        .iter()
        .filter(|m| m.set == set)
        .max_by_key(|m| m.records_matched);
    match best {
        None => "&ndash;".to_string(),
        Some(m) => {
            let mut s = format!(
                "<b>{}</b> records ({} rows exact, {} within tolerance; {} space)",
                m.records_matched,
                m.exact_rows,
                m.tolerance_rows,
                esc(&m.space)
            );
            if !m.record_indices.is_empty() {
                let shown: Vec<String> = m
                    .record_indices
                    .iter()
                    .take(20)
                    .map(|i| i.to_string())
                    .collect();
                let more = if m.records_matched > shown.len() {
                    format!(", &hellip; ({} more)", m.records_matched - shown.len())
                } else {
                    String::new()
                };
                let _ = write!(
                    s,
                    "<br><small>records (0-based CSV data rows) {}{more}</small>",
                    shown.join(", ")
                );
            }
            s
        }
    }
}

/// Append the scan section to `h`.
pub fn render(h: &mut String, r: &ScanReport) {
    let s = &r.summary;
    let _ = write!(
        h,
        "<section class=\"scan\" data-testid=\"scan-report\"><h2>Model file scan</h2><p data-testid=\"scan-lead\">"
    );
    let members = r.records.get("members").and_then(|v| v.as_u64());
    match members {
        Some(n) => {
            let _ = write!(
                h,
                "<b>{}</b> of the {n} member records are stored in the model file, as they are or after the graph's own preprocessing ({} {} member rows); {} non-member records match a stored row (the coincidence level). ",
                s.member_records_embedded,
                s.tensors_with_member_rows,
                if s.tensors_with_member_rows == 1 { "tensor holds" } else { "tensors hold" },
                s.nonmember_records_matched
            );
        }
        None => {
            let _ = write!(
                h,
                "No records were supplied, so stored rows were not matched; tensors are judged by their role and shape. "
            );
        }
    }
    let _ = write!(
        h,
        "{} float tensors scanned; <b>{}</b> look like stored records. {} metadata findings.</p>",
        s.tensors_scanned, s.tensors_flagged, s.metadata_findings
    );

    let shown: Vec<&TensorFinding> = r
        .tensors
        .iter()
        .filter(|t| t.looks_like_records || t.matches.iter().any(|m| m.rows_matched > 0))
        .collect();
    if !shown.is_empty() {
        let _ = write!(
            h,
            "<table data-testid=\"scan-tensors\"><thead><tr><th>tensor</th><th>role</th><th>rows &times; width</th><th>members</th><th>non-members</th><th>population</th><th>why flagged</th></tr></thead><tbody>"
        );
        for t in shown {
            let why = if t.looks_like_records {
                t.reasons
                    .iter()
                    .map(|r| esc(r))
                    .collect::<Vec<_>>()
                    .join("<br>")
            } else {
                String::new()
            };
            let _ = write!(
                h,
                "<tr><td><code>{}</code><br><small>{}</small></td><td>{}</td><td>{} &times; {}</td><td>{}</td><td>{}</td><td>{}</td><td>{why}</td></tr>",
                esc(&t.location),
                esc(&t.name),
                esc(t.role.name()),
                t.rows,
                t.row_width,
                matches_cell(t, "members"),
                matches_cell(t, "nonmembers"),
                matches_cell(t, "population"),
            );
        }
        let _ = write!(h, "</tbody></table>");
    }
    if r.metadata.is_empty() {
        let _ = write!(
            h,
            "<p data-testid=\"scan-metadata-none\">No file path, user or host name, e-mail address, URL or record-like string in the metadata.</p>"
        );
    } else {
        let _ = write!(
            h,
            "<table data-testid=\"scan-metadata\"><thead><tr><th>field</th><th>finding</th><th>text</th></tr></thead><tbody>"
        );
        for f in &r.metadata {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&f.field),
                esc(f.kind.name()),
                esc(&f.text)
            );
        }
        let _ = write!(h, "</tbody></table>");
    }
    let _ = write!(
        h,
        "<details><summary>How rows are matched</summary><p>{}. Rows are compared in the model's input space (raw) and, when the graph transforms the data before the node that holds the tensor, in that transformed space (preprocessed).</p>",
        esc(&r.tolerance_rule)
    );
    if !r.notes.is_empty() {
        let _ = write!(h, "<ul>");
        for n in &r.notes {
            let _ = write!(h, "<li>{}</li>", esc(n));
        }
        let _ = write!(h, "</ul>");
    }
    let _ = write!(h, "</details></section>");
}

#[cfg(test)]
mod tests {
    use crate::scan::{scan_model, ScanData, ScanSettings};

    #[test]
    fn escapes_and_lists_findings() {
        // A model is not needed for the metadata part: build a minimal one.
        use crate::onnx::proto::{GraphProto, ModelProto, NodeProto};
        use prost::Message;
        let m = ModelProto {
            doc_string: Some("<b>x</b> by eve@example.org".into()),
            graph: Some(GraphProto {
                node: vec![NodeProto {
                    op_type: Some("Relu".into()),
                    input: vec!["x".into()],
                    output: vec!["y".into()],
                    ..NodeProto::default()
                }],
                ..GraphProto::default()
            }),
            ..ModelProto::default()
        };
        let r = scan_model(
            &m.encode_to_vec(),
            &ScanData::default(),
            &ScanSettings::default(),
        )
        .unwrap();
        let mut h = String::new();
        super::render(&mut h, &r);
        assert!(h.contains("eve@example.org"));
        assert!(h.contains("e-mail address"));
        assert!(!h.contains("<b>x</b>"));
        assert!(h.contains("No records were supplied"));
    }
}
