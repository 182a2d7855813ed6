//! One CSV holding members and non-members, with a 0/1 membership column,
//! split into a members CSV and a non-members CSV (the page's "one CSV with
//! a membership column" input).
//!
//! Contract: the file is parsed by [`read_csv`] (the one CSV parser: same
//! separators, quoting, limits and errors as every other CSV); the
//! membership column must be a feature column whose every value is 0 or 1.
//! Each part is written back as CSV text without that column: the feature
//! columns in order, then the label column (when the file has one), each
//! feature as the shortest text that reads back as the same f32, so reading
//! a part gives exactly the rows of the file.

use super::{read_csv, CsvOptions, DataError, Dataset};
use serde::Serialize;
use std::fmt::Write as _;

/// The two parts of a split ([`split_by_membership`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipSplit {
    /// CSV text of the rows with 1.
    pub members: String,
    /// CSV text of the rows with 0.
    pub nonmembers: String,
    pub member_rows: usize,
    pub nonmember_rows: usize,
}

/// Split the CSV `bytes` on its 0/1 column `column` (see the module docs).
/// `opts` carries the limits; its label settings are those of a plain read
/// (the `label` column, when present, stays the label). Errors: any
/// [`read_csv`] error, or [`DataError::Membership`] naming a missing column
/// or the first row whose value is not 0 or 1.
pub fn split_by_membership(
    bytes: &[u8],
    column: &str,
    opts: &CsvOptions,
) -> Result<MembershipSplit, DataError> {
    let opts = CsvOptions {
        label_column: None,
        require_label: false,
        ..opts.clone()
    };
    let ds = read_csv(bytes, &opts)?;
    let Some(j) = ds.feature_names.iter().position(|n| n == column) else {
        return Err(DataError::Membership(format!(
            "the header has no feature column '{column}' (columns: {})",
            ds.feature_names.join(", ")
        )));
    };
    let mut header: Vec<&str> = ds
        .feature_names
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != j)
        .map(|(_, n)| n.as_str())
        .collect();
    if let Some(l) = &ds.label_column {
        header.push(l);
    }
    let header = header.join(",") + "\n";
    let (mut members, mut nonmembers) = (header.clone(), header);
    let (mut m, mut n) = (0usize, 0usize);
    for (i, row) in ds.features.rows().into_iter().enumerate() {
        let v = row[j];
        let out = if v == 1.0 {
            m += 1;
            &mut members
        } else if v == 0.0 {
            n += 1;
            &mut nonmembers
        } else {
            return Err(DataError::Membership(format!(
                "CSV row {}: '{column}' is {v}, expected 0 or 1",
                i + 1
            )));
        };
        write_row(out, &ds, i, j);
    }
    Ok(MembershipSplit {
        members,
        nonmembers,
        member_rows: m,
        nonmember_rows: n,
    })
}

/// Row `i` of `ds` without column `skip`, then its label, as one CSV line.
fn write_row(out: &mut String, ds: &Dataset, i: usize, skip: usize) {
    let mut first = true;
    for (k, v) in ds.features.row(i).iter().enumerate() {
        if k == skip {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        let _ = write!(out, "{v}");
    }
    if let Some(y) = ds.labels.as_ref().and_then(|l| l.get(i)) {
        if !first {
            out.push(',');
        }
        let _ = write!(out, "{y}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, col: &str) -> Result<MembershipSplit, DataError> {
        split_by_membership(text.as_bytes(), col, &CsvOptions::default())
    }

    #[test]
    fn splits_on_the_column_and_drops_it() {
        let s = split(
            "f0,f1,label,member\n0.1,0.2,1,1\n0.3,0.4,0,0\n0.5,0.6,2,1\n",
            "member",
        )
        .unwrap();
        assert_eq!(s.members, "f0,f1,label\n0.1,0.2,1\n0.5,0.6,2\n");
        assert_eq!(s.nonmembers, "f0,f1,label\n0.3,0.4,0\n");
        assert_eq!((s.member_rows, s.nonmember_rows), (2, 1));
        // quoted fields go through the one parser
        let s = split("\"f0\",\"member\",label\n\"1.5\",1,0\n2,0,1\n", "member").unwrap();
        assert_eq!(s.members, "f0,label\n1.5,0\n");
        assert_eq!(s.nonmembers, "f0,label\n2,1\n");
    }

    #[test]
    fn parts_read_back_as_the_same_rows() {
        let text = "a,b,member\n0.1,-0.30000001,1\n1e-7,3.4028235e38,0\n";
        let s = split(text, "member").unwrap();
        let whole = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap();
        let m = read_csv(s.members.as_bytes(), &CsvOptions::default()).unwrap();
        let n = read_csv(s.nonmembers.as_bytes(), &CsvOptions::default()).unwrap();
        assert_eq!(
            m.features.row(0).to_vec(),
            whole.features.row(0).to_vec()[..2]
        );
        assert_eq!(
            n.features.row(0).to_vec(),
            whole.features.row(1).to_vec()[..2]
        );
    }

    #[test]
    fn bad_columns_are_named() {
        let e = split("f0,member\n1,2\n", "member").unwrap_err();
        assert_eq!(e.code(), "bad_membership_column");
        assert!(
            e.to_string()
                .contains("CSV row 1: 'member' is 2, expected 0 or 1"),
            "{e}"
        );
        let e = split("f0,member\n1\n", "member").unwrap_err();
        assert_eq!(e.code(), "csv_ragged", "{e}");
        let e = split("f0,f1\n1,0\n", "member").unwrap_err();
        assert!(e.to_string().contains("no feature column 'member'"), "{e}");
        let e = split("f0,member\n1,true\n", "member").unwrap_err();
        assert_eq!(e.code(), "csv_not_numeric", "{e}");
    }
}
