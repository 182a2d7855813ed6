//! CSV reading: a header row, numeric (f32) feature columns and an optional
//! integer label column, validated cell by cell.
//!
//! Contract:
//! - The first non-blank line is the header. Blank lines are skipped, every
//!   field is trimmed, a UTF-8 byte order mark is ignored, quoting follows
//!   RFC 4180 (the `csv` crate).
//! - The label column is `opts.label_column` when given (it must exist), else
//!   `label` when the header has it. `require_label` makes it mandatory.
//!   Labels are non-negative integers, written `3` or `3.0`.
//! - Every other column is a feature. Cells must parse as finite f32:
//!   `nan`, `inf`, `NaN`, `1e40` (overflow) are errors, as are empty cells.
//! - Errors name the 1-based data row (the header is not counted, blank lines
//!   are not counted) and the column.
//! - The limits (see [`crate::limits`]) are checked as the file is read, so
//!   an oversized file fails without being read to the end: `max_bytes`
//!   (bytes read so far), `max_columns` (header fields), `max_rows` (data
//!   rows) and `max_cells` (rows x columns, label included).
//! - [`CsvStream`] reads chunk by chunk from any `Read` (the CLI streams
//!   `predict` through it); [`read_csv`] reads everything into one
//!   [`Dataset`].
//! - [`Dataset::to_batch`] reshapes rows to the model's per-record input
//!   shape (64 columns feed [N,1,8,8]).

use super::DataError;
use crate::engine::{Dim, Input, Tensor};
use crate::limits::{self, Limit, LimitExceeded};
use ndarray::{Array2, IxDyn};
use std::io::{self, BufRead, BufReader, Read};

/// The name used for the label column when none is given.
pub const DEFAULT_LABEL_COLUMN: &str = "label";

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// CSV options.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Name of the label column; `None` means "use `label` if present".
    pub label_column: Option<String>,
    /// Require the label column to exist.
    pub require_label: bool,
    /// Limit on rows x columns (label column included).
    pub max_cells: usize,
    /// Limit on data rows.
    pub max_rows: usize,
    /// Limit on columns (label column included).
    pub max_columns: usize,
    /// Limit on bytes read.
    pub max_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            label_column: None,
            require_label: false,
            max_cells: limits::DEFAULT_MAX_CSV_CELLS,
            max_rows: limits::DEFAULT_MAX_CSV_ROWS,
            max_columns: limits::DEFAULT_MAX_CSV_COLUMNS,
            max_bytes: limits::DEFAULT_MAX_CSV_BYTES,
        }
    }
}

/// A reader that counts bytes and fails once more than `max` were read.
struct Counted<R> {
    inner: R,
    read: u64,
    max: u64,
}

impl<R> Counted<R> {
    fn over(&self) -> Option<LimitExceeded> {
        (self.read > self.max).then(|| LimitExceeded::new(Limit::CsvBytes, self.read, self.max))
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.over().is_none() {
            let n = self.inner.read(buf)?;
            self.read = self.read.saturating_add(n as u64);
            if self.over().is_none() {
                return Ok(n);
            }
        }
        Err(io::Error::other("the CSV byte limit was passed"))
    }
}

/// A parsed table.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Names of the feature columns, in order.
    pub feature_names: Vec<String>,
    /// [rows, features]
    pub features: Array2<f32>,
    /// Class index per row, when a label column was present.
    pub labels: Option<Vec<usize>>,
    pub label_column: Option<String>,
}

/// Parse CSV bytes into one [`Dataset`].
pub fn read_csv(bytes: &[u8], opts: &CsvOptions) -> Result<Dataset, DataError> {
    read_csv_from(bytes, opts)
}

/// Parse CSV from a reader into one [`Dataset`]. Fails as soon as the size
/// limit is passed, without reading the rest.
pub fn read_csv_from<R: Read>(reader: R, opts: &CsvOptions) -> Result<Dataset, DataError> {
    let mut stream = CsvStream::new(reader, opts)?;
    match stream.next_chunk(usize::MAX)? {
        Some(ds) => Ok(ds),
        // next_chunk reports NoRows itself on the first call
        None => Err(DataError::NoRows),
    }
}

/// A CSV being read chunk by chunk: the header is parsed and the columns are
/// resolved by [`CsvStream::new`]; [`CsvStream::next_chunk`] returns the
/// next rows as a [`Dataset`].
pub struct CsvStream<R: Read> {
    reader: csv::Reader<BufReader<Counted<R>>>,
    record: csv::ByteRecord,
    /// Display names of all columns (unnamed ones become "column K").
    columns: Vec<String>,
    feature_idx: Vec<usize>,
    feature_names: Vec<String>,
    label_idx: Option<usize>,
    label_column: Option<String>,
    /// Data rows read so far (1-based number of the last one).
    rows_read: usize,
    max_cells: usize,
    max_rows: usize,
    finished: bool,
}

fn is_blank(rec: &csv::ByteRecord) -> bool {
    rec.is_empty() || (rec.len() == 1 && rec[0].is_empty())
}

/// A read error: the byte limit when it was passed, else the parse error.
fn read_err<R>(counted: &Counted<R>, e: impl ToString) -> DataError {
    match counted.over() {
        Some(l) => DataError::Limit(l),
        None => DataError::Parse(e.to_string()),
    }
}

impl<R: Read> CsvStream<R> {
    /// Read the header and resolve the feature and label columns.
    pub fn new(reader: R, opts: &CsvOptions) -> Result<Self, DataError> {
        let mut buf = BufReader::new(Counted {
            inner: reader,
            read: 0,
            max: opts.max_bytes,
        });
        let head = match buf.fill_buf() {
            Ok(head) => head,
            Err(e) => return Err(read_err(buf.get_ref(), e)),
        };
        if head.starts_with(BOM) {
            buf.consume(BOM.len());
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(buf);
        let mut record = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) if is_blank(&record) => {}
                Ok(true) => break,
                Ok(false) => return Err(DataError::Empty),
                Err(e) => return Err(read_err(reader.get_ref().get_ref(), e)),
            }
        }
        LimitExceeded::check(
            Limit::CsvColumns,
            record.len() as u128,
            opts.max_columns as u128,
        )?;
        if record.len() == 1 {
            if let Some(sep) = [b';', b'\t', b'|']
                .into_iter()
                .find(|c| record[0].contains(c))
            {
                return Err(DataError::Separator(sep as char));
            }
        }
        let mut columns = Vec::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let name = std::str::from_utf8(field)
                .map_err(|_| DataError::Parse("the CSV header is not valid UTF-8 text".into()))?;
            let name = if name.is_empty() {
                format!("column {}", i + 1)
            } else {
                name.to_string()
            };
            if columns.contains(&name) {
                return Err(DataError::DuplicateColumn(name));
            }
            columns.push(name);
        }

        let wanted = opts.label_column.as_deref().map(str::trim);
        let label_idx = match wanted {
            Some(name) => match columns.iter().position(|c| c == name) {
                Some(i) => Some(i),
                None => return Err(DataError::NoLabelColumn(name.to_string())),
            },
            None => {
                let i = columns.iter().position(|c| c == DEFAULT_LABEL_COLUMN);
                if i.is_none() && opts.require_label {
                    return Err(DataError::NoLabelColumn(DEFAULT_LABEL_COLUMN.into()));
                }
                i
            }
        };
        let feature_idx: Vec<usize> = (0..columns.len())
            .filter(|&i| Some(i) != label_idx)
            .collect();
        if feature_idx.is_empty() {
            return Err(DataError::NoFeatures(columns.join(", ")));
        }
        let feature_names = feature_idx.iter().map(|&i| columns[i].clone()).collect();
        let label_column = label_idx.map(|i| columns[i].clone());
        Ok(CsvStream {
            reader,
            record,
            columns,
            feature_idx,
            feature_names,
            label_idx,
            label_column,
            rows_read: 0,
            max_cells: opts.max_cells,
            max_rows: opts.max_rows,
            finished: false,
        })
    }

    /// Names of the feature columns, in order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The label column, when there is one.
    pub fn label_column(&self) -> Option<&str> {
        self.label_column.as_deref()
    }

    /// Number of data rows read so far.
    pub fn rows_read(&self) -> usize {
        self.rows_read
    }

    /// The next up to `max_rows` rows (`max_rows` >= 1), or `None` at the
    /// end. A file with a header and no rows is [`DataError::NoRows`].
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Dataset>, DataError> {
        let max_rows = max_rows.max(1);
        let nfeat = self.feature_idx.len();
        let ncols = self.columns.len();
        let mut features: Vec<f32> = Vec::with_capacity(max_rows.min(4096) * nfeat);
        let mut labels: Vec<usize> = Vec::new();
        let mut rows = 0usize;
        while rows < max_rows && !self.finished {
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {}
                Ok(false) => {
                    self.finished = true;
                    break;
                }
                Err(e) => return Err(read_err(self.reader.get_ref().get_ref(), e)),
            }
            if is_blank(&self.record) {
                continue;
            }
            let row = self.rows_read + 1;
            if self.record.len() != ncols {
                return Err(DataError::RaggedRow {
                    row,
                    got: self.record.len(),
                    expected: ncols,
                });
            }
            LimitExceeded::check(Limit::CsvRows, row as u128, self.max_rows as u128)?;
            if row.saturating_mul(ncols) > self.max_cells {
                return Err(DataError::TooLarge {
                    rows: row,
                    cols: ncols,
                    limit: self.max_cells,
                });
            }
            for &i in &self.feature_idx {
                features.push(parse_cell(&self.record[i], row, &self.columns[i])?);
            }
            if let Some(li) = self.label_idx {
                labels.push(parse_label(&self.record[li], row)?);
            }
            self.rows_read = row;
            rows += 1;
        }
        if rows == 0 {
            return if self.rows_read == 0 {
                Err(DataError::NoRows)
            } else {
                Ok(None)
            };
        }
        let features = Array2::from_shape_vec((rows, nfeat), features)
            .map_err(|e| DataError::Parse(format!("internal shape error: {e}")))?;
        Ok(Some(Dataset {
            feature_names: self.feature_names.clone(),
            features,
            labels: self.label_idx.map(|_| labels),
            label_column: self.label_column.clone(),
        }))
    }
}

fn cell_str(bytes: &[u8], row: usize) -> Result<&str, DataError> {
    std::str::from_utf8(bytes).map_err(|_| DataError::NotUtf8 { row })
}

fn parse_cell(bytes: &[u8], row: usize, column: &str) -> Result<f32, DataError> {
    let s = cell_str(bytes, row)?;
    if s.is_empty() {
        return Err(DataError::EmptyCell {
            row,
            column: column.to_string(),
        });
    }
    match s.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(DataError::NonFinite {
            row,
            column: column.to_string(),
            value: s.to_string(),
        }),
        Err(_) => Err(DataError::NotNumeric {
            row,
            column: column.to_string(),
            value: s.to_string(),
        }),
    }
}

/// Largest label accepted (a class index; beyond this it is surely not one).
const MAX_LABEL: f64 = (1u64 << 31) as f64;

fn parse_label(bytes: &[u8], row: usize) -> Result<usize, DataError> {
    let s = cell_str(bytes, row)?;
    let bad = || DataError::BadLabel {
        row,
        value: s.to_string(),
    };
    if let Ok(v) = s.parse::<u32>() {
        return Ok(v as usize);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < MAX_LABEL => Ok(v as usize),
        _ => Err(bad()),
    }
}

fn shape_text(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) => s.clone(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.features.nrows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn num_features(&self) -> usize {
        self.features.ncols()
    }

    /// The hint appended to a feature-count mismatch.
    fn count_hint(&self, expected: usize) -> String {
        let got = self.num_features();
        let first_unnamed = self.feature_names.first().is_some_and(|n| n == "column 1");
        match &self.label_column {
            None if got == expected + 1 && first_unnamed => {
                "; the first column has no name (a saved pandas index?): remove it, \
                 or if a column holds the labels, name it with --label-column NAME"
                    .to_string()
            }
            None if got == expected + 1 => format!(
                "; if one of the columns is the label (no column is named '{DEFAULT_LABEL_COLUMN}'), \
                 name it with --label-column NAME"
            ),
            Some(label) if got + 1 == expected => format!(
                " (column '{label}' is read as the label and not counted; if it is a feature, \
                 name the real label column with --label-column NAME)"
            ),
            Some(label) if got == expected + 1 => format!(
                "; column '{label}' is the label: is there another extra column (an index or ID)?"
            ),
            _ => String::new(),
        }
    }

    /// The batch tensor in the model's input shape: `[N, ...record_shape]`
    /// when the per-record shape is fixed, `[N, features]` for a rank-2 input
    /// with a symbolic feature dimension.
    pub fn to_batch(&self, input: &Input) -> Result<Tensor, DataError> {
        let n = self.len();
        let got = self.num_features();
        let shape: Vec<usize> = match input.record_shape() {
            Some(rec) => {
                let expected: usize = rec.iter().product();
                if got != expected {
                    return Err(DataError::FeatureCount {
                        got,
                        expected,
                        hint: self.count_hint(expected),
                    });
                }
                std::iter::once(n).chain(rec).collect()
            }
            None if input.shape.len() == 2 => vec![n, got],
            None => {
                return Err(DataError::UnfixedShape {
                    shape: shape_text(&input.shape),
                })
            }
        };
        let flat: Vec<f32> = self.features.iter().copied().collect();
        Tensor::from_shape_vec(IxDyn(&shape), flat)
            .map_err(|e| DataError::Parse(format!("internal reshape error: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CsvOptions {
        CsvOptions::default()
    }

    fn read(s: &str) -> Result<Dataset, DataError> {
        read_csv(s.as_bytes(), &opts())
    }

    fn input(shape: Vec<Dim>) -> Input {
        Input {
            name: "x".into(),
            value: 0,
            shape,
        }
    }

    #[track_caller]
    fn err(s: &str) -> DataError {
        match read(s) {
            Ok(d) => panic!("expected an error, got {d:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn reads_features_and_default_label() {
        let d = read("a,b,label\n1,2.5,0\n-3,4e-1,2\n").unwrap();
        assert_eq!(d.feature_names, vec!["a", "b"]);
        assert_eq!(d.features.shape(), &[2, 2]);
        assert_eq!(d.features[[0, 1]], 2.5);
        assert_eq!(d.features[[1, 0]], -3.0);
        assert!((d.features[[1, 1]] - 0.4).abs() < 1e-7);
        assert_eq!(d.labels, Some(vec![0, 2]));
        assert_eq!(d.label_column.as_deref(), Some("label"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn label_anywhere_and_no_label() {
        let d = read("label,a\n1,5\n").unwrap();
        assert_eq!(d.feature_names, vec!["a"]);
        assert_eq!(d.features[[0, 0]], 5.0);
        assert_eq!(d.labels, Some(vec![1]));
        let d = read("a,b\n1,2\n").unwrap();
        assert_eq!(d.labels, None);
        assert_eq!(d.label_column, None);
    }

    #[test]
    fn named_label_column() {
        let o = CsvOptions {
            label_column: Some("y".into()),
            ..opts()
        };
        let d = read_csv(b"a,y,label\n1,3.0,7\n", &o).unwrap();
        // 'label' is an ordinary feature when another column is named
        assert_eq!(d.feature_names, vec!["a", "label"]);
        assert_eq!(d.features.row(0).to_vec(), vec![1.0, 7.0]);
        assert_eq!(d.labels, Some(vec![3]));
        assert_eq!(
            read_csv(b"a,b\n1,2\n", &o).unwrap_err(),
            DataError::NoLabelColumn("y".into())
        );
    }

    #[test]
    fn required_label() {
        let o = CsvOptions {
            require_label: true,
            ..opts()
        };
        assert_eq!(
            read_csv(b"a,b\n1,2\n", &o).unwrap_err(),
            DataError::NoLabelColumn("label".into())
        );
        assert!(read_csv(b"a,label\n1,2\n", &o).is_ok());
    }

    #[test]
    fn trims_bom_blank_lines_crlf_quotes() {
        let d = read("\u{feff}\n  a , b \r\n\r\n 1 ,\"2\"\r\n   \n3,4\n\n").unwrap();
        assert_eq!(d.feature_names, vec!["a", "b"]);
        assert_eq!(d.features.shape(), &[2, 2]);
        assert_eq!(d.features.row(0).to_vec(), vec![1.0, 2.0]);
        assert_eq!(d.features.row(1).to_vec(), vec![3.0, 4.0]);
    }

    #[test]
    fn no_trailing_newline() {
        let d = read("a\n1\n2").unwrap();
        assert_eq!(d.features.column(0).to_vec(), vec![1.0, 2.0]);
    }

    #[test]
    fn empty_and_header_only() {
        assert_eq!(err(""), DataError::Empty);
        assert_eq!(err("\n \n\r\n"), DataError::Empty);
        assert_eq!(err("\u{feff}"), DataError::Empty);
        assert_eq!(err("a,b\n"), DataError::NoRows);
        assert_eq!(err("a,b\n\n\n"), DataError::NoRows);
    }

    #[test]
    fn other_separators_are_named() {
        assert_eq!(err("a;b\n1;2\n"), DataError::Separator(';'));
        assert_eq!(err("a\tb\n1\t2\n"), DataError::Separator('\t'));
        // a single column without separators is fine
        assert!(read("a\n1\n").is_ok());
    }

    #[test]
    fn header_problems() {
        assert_eq!(err("a,a\n1,2\n"), DataError::DuplicateColumn("a".into()));
        assert!(matches!(err("label\n1\n"), DataError::NoFeatures(c) if c == "label"));
        // unnamed columns get a positional name
        let d = read(",f\n0,1\n").unwrap();
        assert_eq!(d.feature_names, vec!["column 1", "f"]);
    }

    #[test]
    fn ragged_rows_name_the_row() {
        assert_eq!(
            err("a,b,c\n1,2,3\n\n4,5\n"),
            DataError::RaggedRow {
                row: 2,
                got: 2,
                expected: 3
            }
        );
        assert_eq!(
            err("a,b\n1,2,\n"),
            DataError::RaggedRow {
                row: 1,
                got: 3,
                expected: 2
            }
        );
    }

    #[test]
    fn non_numeric_and_empty_cells() {
        let e = err("a,b\n1,2\n3,x1\n");
        assert_eq!(
            e,
            DataError::NotNumeric {
                row: 2,
                column: "b".into(),
                value: "x1".into()
            }
        );
        assert_eq!(e.to_string(), "CSV row 2, column 'b': 'x1' is not a number");
        assert_eq!(
            err("a,b\n1,\n"),
            DataError::EmptyCell {
                row: 1,
                column: "b".into()
            }
        );
        // a decimal comma is not a number
        assert!(matches!(err("a\n\"1,5\"\n"), DataError::NotNumeric { .. }));
    }

    #[test]
    fn nan_and_inf_are_errors() {
        for v in [
            "nan", "NaN", "NAN", "inf", "-inf", "Infinity", "+inf", "1e40",
        ] {
            let e = err(&format!("a,b\n1,2\n3,{v}\n"));
            assert_eq!(
                e,
                DataError::NonFinite {
                    row: 2,
                    column: "b".into(),
                    value: v.into()
                },
                "value {v}"
            );
        }
    }

    #[test]
    fn labels() {
        let d = read("x,label\n0,3\n0,3.0\n0, 0 \n0,-0\n0,1e1\n").unwrap();
        assert_eq!(d.labels, Some(vec![3, 3, 0, 0, 10]));
        for bad in ["-1", "1.5", "cat", "nan", "inf", "", "1e300"] {
            let e = err(&format!("x,label\n0,1\n0,{bad}\n"));
            assert_eq!(
                e,
                DataError::BadLabel {
                    row: 2,
                    value: bad.into()
                },
                "label {bad:?}"
            );
        }
    }

    #[test]
    fn not_utf8() {
        let e = read_csv(b"a\n1\n\xff\n", &opts()).unwrap_err();
        assert_eq!(e, DataError::NotUtf8 { row: 2 });
    }

    #[test]
    fn size_limit_checked_while_reading() {
        let o = CsvOptions {
            max_cells: 10,
            ..opts()
        };
        // 3 columns: rows 1..=3 fit (9 cells), row 4 passes the limit
        let e = read_csv(b"a,b,label\n1,2,0\n1,2,0\n1,2,0\n1,2,0\n", &o).unwrap_err();
        assert_eq!(
            e,
            DataError::TooLarge {
                rows: 4,
                cols: 3,
                limit: 10
            }
        );
        // the limit stops reading: rows after it are never parsed (an endless
        // reader would otherwise never return)
        struct Endless(usize);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let text: &[u8] = if self.0 == 0 { b"a,b\n" } else { b"1,2\n" };
                self.0 += 1;
                let n = text.len().min(buf.len());
                buf[..n].copy_from_slice(&text[..n]);
                Ok(n)
            }
        }
        let o = CsvOptions {
            max_cells: 1000,
            ..opts()
        };
        let e = read_csv_from(Endless(0), &o).unwrap_err();
        assert_eq!(
            e,
            DataError::TooLarge {
                rows: 501,
                cols: 2,
                limit: 1000
            }
        );
    }

    #[test]
    fn streams_in_chunks() {
        let text = "a,b,label\n1,2,0\n3,4,1\n5,6,0\n";
        let mut s = CsvStream::new(text.as_bytes(), &opts()).unwrap();
        assert_eq!(s.feature_names(), &["a".to_string(), "b".to_string()]);
        assert_eq!(s.label_column(), Some("label"));
        let c1 = s.next_chunk(2).unwrap().unwrap();
        assert_eq!(c1.features.shape(), &[2, 2]);
        assert_eq!(c1.labels, Some(vec![0, 1]));
        let c2 = s.next_chunk(2).unwrap().unwrap();
        assert_eq!(c2.features.row(0).to_vec(), vec![5.0, 6.0]);
        assert_eq!(s.rows_read(), 3);
        assert!(s.next_chunk(2).unwrap().is_none());
        // row numbers continue across chunks
        let mut s = CsvStream::new("a\n1\n2\nz\n".as_bytes(), &opts()).unwrap();
        assert!(s.next_chunk(2).is_ok());
        assert!(matches!(
            s.next_chunk(2),
            Err(DataError::NotNumeric { row: 3, .. })
        ));
    }

    #[test]
    fn to_batch_reshapes_to_record_shape() {
        let header: Vec<String> = (0..64).map(|i| format!("p{i}")).collect();
        let row: Vec<String> = (0..64).map(|i| i.to_string()).collect();
        let text = format!(
            "{}\n{}\n{}\n",
            header.join(","),
            row.join(","),
            row.join(",")
        );
        let d = read(&text).unwrap();
        let inp = input(vec![
            Dim::Symbolic("N".into()),
            Dim::Fixed(1),
            Dim::Fixed(8),
            Dim::Fixed(8),
        ]);
        let t = d.to_batch(&inp).unwrap();
        assert_eq!(t.shape(), &[2, 1, 8, 8]);
        assert_eq!(t[[1, 0, 2, 3]], 19.0); // row-major: 2*8+3
                                           // rank-2 input with a fixed feature dimension
        let d = read("a,b,c\n1,2,3\n").unwrap();
        let t = d
            .to_batch(&input(vec![Dim::Symbolic("N".into()), Dim::Fixed(3)]))
            .unwrap();
        assert_eq!(t.shape(), &[1, 3]);
        assert_eq!(t.as_slice().unwrap(), &[1.0, 2.0, 3.0]);
    }

    #[test]
    fn to_batch_symbolic_record_dims() {
        let d = read("a,b,c\n1,2,3\n4,5,6\n").unwrap();
        let t = d
            .to_batch(&input(vec![
                Dim::Symbolic("N".into()),
                Dim::Symbolic("F".into()),
            ]))
            .unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        let e = d
            .to_batch(&input(vec![
                Dim::Symbolic("N".into()),
                Dim::Fixed(1),
                Dim::Symbolic("H".into()),
            ]))
            .unwrap_err();
        assert_eq!(
            e,
            DataError::UnfixedShape {
                shape: "[N, 1, H]".into()
            }
        );
    }

    #[test]
    fn feature_count_errors_and_hints() {
        let inp = |n| input(vec![Dim::Symbolic("N".into()), Dim::Fixed(n)]);
        // one column more, no label column: suggest --label-column
        let d = read("a,b,target\n1,2,0\n").unwrap();
        let e = d.to_batch(&inp(2)).unwrap_err();
        assert!(matches!(
            e,
            DataError::FeatureCount {
                got: 3,
                expected: 2,
                ..
            }
        ));
        let msg = e.to_string();
        assert!(
            msg.starts_with("the CSV has 3 feature columns, the model expects 2"),
            "{msg}"
        );
        assert!(msg.contains("--label-column"), "{msg}");
        // one column less because 'label' was taken as the label
        let d = read("a,label\n1,2\n").unwrap();
        let msg = d.to_batch(&inp(2)).unwrap_err().to_string();
        assert!(
            msg.contains("column 'label' is read as the label and not counted"),
            "{msg}"
        );
        assert!(msg.contains("--label-column"), "{msg}");
        // an unnamed first column (pandas index)
        let d = read(",a,b\n0,1,2\n").unwrap();
        let msg = d.to_batch(&inp(2)).unwrap_err().to_string();
        assert!(msg.contains("pandas index"), "{msg}");
        // far off: no hint
        let d = read("a\n1\n").unwrap();
        let e = d
            .to_batch(&input(vec![
                Dim::Symbolic("N".into()),
                Dim::Fixed(1),
                Dim::Fixed(8),
                Dim::Fixed(8),
            ]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the CSV has 1 feature columns, the model expects 64"
        );
        // 63 vs 64 (no label): no hint
        let header: Vec<String> = (0..63).map(|i| format!("p{i}")).collect();
        let row = vec!["0"; 63].join(",");
        let d = read(&format!("{}\n{row}\n", header.join(","))).unwrap();
        let e = d.to_batch(&inp(64)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the CSV has 63 feature columns, the model expects 64"
        );
    }

    #[test]
    fn codes_are_distinct() {
        let errs = [
            DataError::Empty,
            DataError::NoRows,
            DataError::NoFeatures(String::new()),
            DataError::Separator(';'),
            DataError::DuplicateColumn(String::new()),
            DataError::RaggedRow {
                row: 1,
                got: 1,
                expected: 2,
            },
            DataError::EmptyCell {
                row: 1,
                column: String::new(),
            },
            DataError::NotNumeric {
                row: 1,
                column: String::new(),
                value: String::new(),
            },
            DataError::NonFinite {
                row: 1,
                column: String::new(),
                value: String::new(),
            },
            DataError::BadLabel {
                row: 1,
                value: String::new(),
            },
            DataError::NoLabelColumn(String::new()),
            DataError::FeatureCount {
                got: 1,
                expected: 2,
                hint: String::new(),
            },
            DataError::UnfixedShape {
                shape: String::new(),
            },
            DataError::TooLarge {
                rows: 1,
                cols: 1,
                limit: 1,
            },
            DataError::NotUtf8 { row: 1 },
            DataError::Parse(String::new()),
        ];
        let mut codes: Vec<&str> = errs.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errs.len());
    }
}

/// [`read_csv`] in chunks of `chunk_rows` rows, calling `progress(rows
/// read, estimated total rows)` after each chunk (the estimate counts the
/// lines of `bytes`), so a page can show how far a large file is. Same
/// result and errors as [`read_csv`].
pub fn read_csv_chunked(
    bytes: &[u8],
    opts: &CsvOptions,
    chunk_rows: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Dataset, DataError> {
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    let estimate = lines.saturating_sub(1).max(1);
    let mut stream = CsvStream::new(bytes, opts)?;
    // each chunk is appended and dropped at once: no second copy of the file
    let Some(mut all) = stream.next_chunk(chunk_rows.max(1))? else {
        return Err(DataError::NoRows);
    };
    progress(stream.rows_read(), estimate.max(stream.rows_read()));
    let nfeat = all.features.ncols();
    let mut rows = all.len();
    let mut features = std::mem::take(&mut all.features)
        .into_raw_vec_and_offset()
        .0;
    while let Some(ds) = stream.next_chunk(chunk_rows.max(1))? {
        rows += ds.len();
        features.extend(ds.features.iter().copied());
        if let (Some(l), Some(more)) = (all.labels.as_mut(), ds.labels.as_ref()) {
            l.extend_from_slice(more);
        }
        progress(stream.rows_read(), estimate.max(stream.rows_read()));
    }
    all.features = Array2::from_shape_vec((rows, nfeat), features)
        .map_err(|e| DataError::Parse(e.to_string()))?;
    Ok(all)
}

#[cfg(test)]
mod chunked_tests {
    use super::*;

    #[test]
    fn chunked_reading_equals_one_read_and_reports_progress() {
        let mut text = String::from("a,b,label\n");
        for i in 0..1001 {
            text.push_str(&format!("{}.5,{},{}\n", i, i * 2, i % 3));
        }
        let opts = CsvOptions::default();
        let whole = read_csv(text.as_bytes(), &opts).unwrap();
        let mut seen = Vec::new();
        let chunked =
            read_csv_chunked(text.as_bytes(), &opts, 100, &mut |r, t| seen.push((r, t))).unwrap();
        assert_eq!(chunked.features, whole.features);
        assert_eq!(chunked.labels, whole.labels);
        assert_eq!(chunked.feature_names, whole.feature_names);
        assert_eq!(seen.len(), 11);
        assert_eq!(seen.last(), Some(&(1001, 1001)));
        assert_eq!(seen[0], (100, 1001));
        // errors are the same as one read's
        let bad = "a,label\n1,0\nx,1\n";
        let e1 = read_csv(bad.as_bytes(), &opts).unwrap_err().to_string();
        let e2 = read_csv_chunked(bad.as_bytes(), &opts, 1, &mut |_, _| {})
            .unwrap_err()
            .to_string();
        assert_eq!(e1, e2);
        assert!(read_csv_chunked(b"a,label\n", &opts, 10, &mut |_, _| {}).is_err());
    }
}
