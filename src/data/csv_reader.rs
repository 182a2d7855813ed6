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
use std::collections::HashSet;
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

/// The `csv` reader every CSV goes through (one configuration, so the push
/// parser's record boundaries are the same as a whole-file read's).
fn csv_reader<R: Read>(buf: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(buf)
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
        let mut reader = csv_reader(buf);
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
        // Linear in the columns (a pairwise scan took two minutes on a
        // 262,144-column header).
        let mut seen: HashSet<String> = HashSet::with_capacity(record.len());
        for (i, field) in record.iter().enumerate() {
            let name = std::str::from_utf8(field)
                .map_err(|_| DataError::Parse("the CSV header is not valid UTF-8 text".into()))?;
            let name = if name.is_empty() {
                format!("column {}", i + 1)
            } else {
                name.to_string()
            };
            if !seen.insert(name.clone()) {
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

    /// The same stream (columns, rows read so far, limits) continued on the
    /// next part of the file. `next` must start at a record boundary: the
    /// push parser cuts the file only where `csv_core` ends a record.
    fn continue_on<R2: Read>(self, next: R2) -> CsvStream<R2> {
        let counted = self.reader.into_inner().into_inner();
        let buf = BufReader::new(Counted {
            inner: next,
            read: counted.read,
            max: counted.max,
        });
        CsvStream {
            reader: csv_reader(buf),
            record: self.record,
            columns: self.columns,
            feature_idx: self.feature_idx,
            feature_names: self.feature_names,
            label_idx: self.label_idx,
            label_column: self.label_column,
            rows_read: self.rows_read,
            max_cells: self.max_cells,
            max_rows: self.max_rows,
            finished: false,
        }
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
        Ok(self.next_rows(max_rows)?.map(|(features, labels)| Dataset {
            feature_names: self.feature_names.clone(),
            features,
            labels,
            label_column: self.label_column.clone(),
        }))
    }

    /// [`CsvStream::next_chunk`] without the column names: the features
    /// `[rows, features]` and the labels when there is a label column. For a
    /// caller reading many chunks, which would otherwise copy the names
    /// (up to the whole header) once per chunk.
    #[allow(clippy::type_complexity)]
    pub fn next_rows(
        &mut self,
        max_rows: usize,
    ) -> Result<Option<(Array2<f32>, Option<Vec<usize>>)>, DataError> {
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
        Ok(Some((features, self.label_idx.map(|_| labels))))
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
                 name the real label column with --label-column NAME)",
                label = crate::text::Shown(label)
            ),
            Some(label) if got == expected + 1 => format!(
                "; column '{label}' is the label: is there another extra column (an index or ID)?",
                label = crate::text::Shown(label)
            ),
            _ => String::new(),
        }
    }

    /// The batch tensor in the model's input shape: `[N, ...record_shape]`
    /// when the per-record shape is fixed, `[N, features]` for a rank-2 input
    /// with a symbolic feature dimension.
    pub fn to_batch(&self, input: &Input) -> Result<Tensor, DataError> {
        let shape = self.batch_shape(input)?;
        let flat: Vec<f32> = self.features.iter().copied().collect();
        Tensor::from_shape_vec(IxDyn(&shape), flat)
            .map_err(|e| DataError::Parse(format!("internal reshape error: {e}")))
    }

    /// [`Dataset::to_batch`] without a copy: the features move into the
    /// tensor (a reshape of the same memory) and the dataset keeps no rows
    /// until [`Dataset::give_back_batch`] returns them. For a caller that
    /// lends large records to a probe for one call (the page's worker).
    pub fn take_batch(&mut self, input: &Input) -> Result<Tensor, DataError> {
        let shape = self.batch_shape(input)?;
        let nfeat = self.num_features();
        let features = std::mem::replace(&mut self.features, Array2::zeros((0, nfeat)));
        let features = if features.is_standard_layout() {
            features
        } else {
            features.as_standard_layout().into_owned()
        };
        let (flat, _) = features.into_raw_vec_and_offset();
        Tensor::from_shape_vec(IxDyn(&shape), flat)
            .map_err(|e| DataError::Parse(format!("internal reshape error: {e}")))
    }

    /// Put back the tensor [`Dataset::take_batch`] lent (rows unchanged).
    pub fn give_back_batch(&mut self, x: Tensor) {
        let nfeat = self.num_features();
        let rows = x.len().checked_div(nfeat).unwrap_or(0);
        let x = if x.is_standard_layout() {
            x
        } else {
            x.as_standard_layout().into_owned()
        };
        let (flat, _) = x.into_raw_vec_and_offset();
        self.features = Array2::from_shape_vec((rows, nfeat), flat)
            .unwrap_or_else(|_| Array2::zeros((0, nfeat)));
    }

    /// The batch shape for `input`, with the feature-count check.
    fn batch_shape(&self, input: &Input) -> Result<Vec<usize>, DataError> {
        let n = self.len();
        let got = self.num_features();
        match input.record_shape() {
            Some(rec) => {
                let expected: usize = rec.iter().product();
                if got != expected {
                    return Err(DataError::FeatureCount {
                        got,
                        expected,
                        hint: self.count_hint(expected),
                    });
                }
                Ok(std::iter::once(n).chain(rec).collect())
            }
            None if input.shape.len() == 2 => Ok(vec![n, got]),
            None => Err(DataError::UnfixedShape {
                shape: shape_text(&input.shape),
            }),
        }
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
    fn take_batch_lends_the_same_tensor_without_a_copy() {
        let mut ds = read("a,b,c,d,label\n1,2,3,4,0\n5,6,7,8,1\n9,10,11,12,0\n").unwrap();
        let inp = input(vec![
            Dim::Symbolic("N".into()),
            Dim::Fixed(1),
            Dim::Fixed(2),
            Dim::Fixed(2),
        ]);
        let want = ds.to_batch(&inp).unwrap();
        let before = ds.features.clone();
        let ptr = ds.features.as_ptr();
        let x = ds.take_batch(&inp).unwrap();
        assert_eq!(x, want);
        assert_eq!(x.as_ptr(), ptr, "the tensor is the dataset's own memory");
        assert_eq!(ds.len(), 0);
        ds.give_back_batch(x);
        assert_eq!(ds.features, before);
        assert_eq!(ds.features.as_ptr(), ptr);
        // a wrong shape lends nothing
        let bad = input(vec![Dim::Symbolic("N".into()), Dim::Fixed(3)]);
        assert_eq!(
            ds.take_batch(&bad).unwrap_err().code(),
            ds.to_batch(&bad).unwrap_err().code()
        );
        assert_eq!(ds.features, before);
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

/// A CSV parsed as its bytes arrive (a page reading a `File` stream), so the
/// whole file is never in memory: only the rows parsed so far and the bytes
/// of the record in progress.
///
/// [`CsvPushParser::push`] appends bytes; whole records (boundaries found by
/// `csv_core`, the state machine under the `csv` crate, so quoted newlines
/// stay inside their field) are parsed once at least [`PUSH_PORTION`] bytes
/// of them are waiting; [`CsvPushParser::finish`] parses the rest and
/// returns the [`Dataset`]. The result and the error codes are those of
/// [`read_csv`] on the whole file, however the bytes are split (tested with
/// random splits), and every limit of `opts` is checked as rows arrive: the
/// byte limit as soon as the bytes pushed pass it.
pub struct CsvPushParser {
    opts: CsvOptions,
    /// Bytes the caller expects in all (the file size), for the row estimate.
    expected_bytes: u64,
    pushed: u64,
    /// Bytes not parsed yet; `pending[..boundary]` are whole records.
    pending: Vec<u8>,
    boundary: usize,
    /// How far `core` has read into `pending`.
    scanned: usize,
    core: csv_core::Reader,
    scratch: Vec<u8>,
    scratch_ends: Vec<usize>,
    /// The stream once the header was read (on the first whole records).
    stream: Option<CsvStream<io::Cursor<Vec<u8>>>>,
    features: Vec<f32>,
    labels: Vec<usize>,
    reserved: bool,
    portion: usize,
}

/// Whole records are parsed once this many bytes of them are waiting.
pub const PUSH_PORTION: usize = 1 << 20;

impl CsvPushParser {
    /// A parser for a file of about `expected_bytes` bytes (0 when unknown;
    /// used only to reserve the rows' memory once).
    pub fn new(opts: &CsvOptions, expected_bytes: u64) -> Self {
        CsvPushParser {
            opts: opts.clone(),
            expected_bytes,
            pushed: 0,
            pending: Vec::new(),
            boundary: 0,
            scanned: 0,
            core: csv_core::Reader::new(),
            scratch: vec![0; 1024],
            scratch_ends: vec![0; 64],
            stream: None,
            features: Vec::new(),
            labels: Vec::new(),
            reserved: false,
            portion: PUSH_PORTION,
        }
    }

    /// Parse whole records once `bytes` of them wait (default
    /// [`PUSH_PORTION`]; small values exercise the splitting in tests).
    pub fn with_portion(mut self, bytes: usize) -> Self {
        self.portion = bytes.max(1);
        self
    }

    /// Data rows parsed so far.
    pub fn rows(&self) -> usize {
        self.stream.as_ref().map_or(0, |s| s.rows_read())
    }

    /// Bytes pushed so far.
    pub fn bytes(&self) -> u64 {
        self.pushed
    }

    /// Append the next bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        self.pushed = self.pushed.saturating_add(bytes.len() as u64);
        LimitExceeded::check(Limit::CsvBytes, self.pushed, self.opts.max_bytes)?;
        self.pending.extend_from_slice(bytes);
        self.find_boundaries();
        if self.boundary >= self.portion {
            let rest = self.pending.split_off(self.boundary);
            let whole = std::mem::replace(&mut self.pending, rest);
            self.scanned -= self.boundary;
            self.boundary = 0;
            self.parse(whole, false)?;
        }
        Ok(())
    }

    /// Parse what is left and return every row.
    pub fn finish(mut self) -> Result<Dataset, DataError> {
        let rest = std::mem::take(&mut self.pending);
        self.parse(rest, true)?;
        let Some(stream) = self.stream else {
            return Err(DataError::Empty);
        };
        if stream.rows_read() == 0 {
            return Err(DataError::NoRows);
        }
        let nfeat = stream.feature_idx.len();
        let rows = self.features.len() / nfeat.max(1);
        let mut features = self.features;
        features.shrink_to_fit();
        let features = Array2::from_shape_vec((rows, nfeat), features)
            .map_err(|e| DataError::Parse(format!("internal shape error: {e}")))?;
        Ok(Dataset {
            feature_names: stream.feature_names,
            features,
            labels: stream.label_idx.map(|_| self.labels),
            label_column: stream.label_column,
        })
    }

    /// Move `boundary` to the end of the last whole record in `pending`.
    fn find_boundaries(&mut self) {
        use csv_core::ReadRecordResult as R;
        // an empty input means the end of the file to csv_core: never pass one
        while self.scanned < self.pending.len() {
            let (res, nin, _, _) = self.core.read_record(
                &self.pending[self.scanned..],
                &mut self.scratch,
                &mut self.scratch_ends,
            );
            self.scanned += nin;
            match res {
                R::Record => self.boundary = self.scanned,
                R::InputEmpty | R::End => break,
                R::OutputFull => {
                    let n = self.scratch.len() * 2;
                    self.scratch.resize(n, 0);
                }
                R::OutputEndsFull => {
                    let n = self.scratch_ends.len() * 2;
                    self.scratch_ends.resize(n, 0);
                }
            }
        }
    }

    /// Parse whole records (`last`: the end of the file).
    fn parse(&mut self, part: Vec<u8>, last: bool) -> Result<(), DataError> {
        let stream = match self.stream.take() {
            Some(s) => s.continue_on(io::Cursor::new(part)),
            None if last => CsvStream::new(io::Cursor::new(part), &self.opts)?,
            None => {
                // the header may not have arrived yet (blank lines first):
                // keep the bytes and wait for more
                // `part` holds whole records only: when they are all blank
                // they are dropped (kept and parsed again with each new
                // part, a file of blank lines cost quadratic time)
                match CsvStream::new(io::Cursor::new(part), &self.opts) {
                    Err(DataError::Empty) => return Ok(()),
                    other => other?,
                }
            }
        };
        let mut stream = stream;
        let result = stream.next_rows(usize::MAX);
        let chunk = match result {
            Ok(c) => c,
            // a part with no rows is not an empty file (rows may follow)
            Err(DataError::NoRows) if !last => None,
            Err(e) => return Err(e),
        };
        if let Some((features, labels)) = chunk {
            if !self.reserved {
                self.reserve(&features, labels.is_some());
            }
            self.features
                .extend_from_slice(features.as_slice().unwrap_or(&[]));
            if let Some(l) = labels {
                self.labels.extend_from_slice(&l);
            }
        }
        self.stream = Some(stream);
        Ok(())
    }

    /// Reserve the rows' memory once, from the first part's bytes per row
    /// and the expected file size (growing by doubling could take twice the
    /// memory of the rows).
    fn reserve(&mut self, first: &Array2<f32>, labels: bool) {
        self.reserved = true;
        let rows = first.nrows().max(1) as u64;
        let per_row = (self.pushed.saturating_sub(self.pending.len() as u64) / rows).max(1);
        // the size the caller announced, never above the CSV byte limit
        let expected = self.expected_bytes.min(self.opts.max_bytes);
        let estimate = (expected / per_row).saturating_mul(21) / 20 + 16;
        let cap = (self.opts.max_rows as u64)
            .min(self.opts.max_cells as u64 / first.ncols().max(1) as u64);
        let estimate = estimate.min(cap) as usize;
        self.features
            .reserve(estimate.saturating_mul(first.ncols()));
        if labels {
            self.labels.reserve(estimate);
        }
    }
}

#[cfg(test)]
mod push_tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn outcome(r: Result<Dataset, DataError>) -> String {
        match r {
            Ok(d) => format!(
                "ok {:?} {:?} {:?} {:?}",
                d.feature_names, d.features, d.labels, d.label_column
            ),
            Err(e) => format!("err {}", e.code()),
        }
    }

    fn pushed(
        bytes: &[u8],
        opts: &CsvOptions,
        cuts: &[usize],
        portion: usize,
    ) -> Result<Dataset, DataError> {
        let mut p = CsvPushParser::new(opts, bytes.len() as u64).with_portion(portion);
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let c = c.clamp(at, bytes.len());
            p.push(&bytes[at..c])?;
            at = c;
        }
        p.finish()
    }

    /// Every way of cutting these files into pushes gives what one read gives.
    #[test]
    fn any_split_equals_one_read() {
        let mut big = String::from("\u{feff}\n\n a , \"b,\nc\" ,label\r\n");
        for i in 0..300 {
            big.push_str(&format!("{}.5,\"{}\",{}\r\n", i, i * 2, i % 3));
            if i % 50 == 0 {
                big.push('\n');
            }
        }
        let files: Vec<String> = vec![
            big,
            "a,b,label\n1,2,0\n3,4,1".into(),
            "a,b,label\n1,2,0\n3,4,1\n".into(),
            "a,b,label\n".into(),
            "".into(),
            "\n\n\n".into(),
            "a;b;label\n1;2;0\n".into(),
            "a,b,label\n1,2,0\n3,x,1\n".into(),
            "a,b,label\n1,2,0\n3,4\n".into(),
            "a,b,label\n1,2,0\n3,nan,1\n".into(),
            "a,b,label\n1,2,-1\n".into(),
            "a,a,label\n1,2,0\n".into(),
            "x,\"unterminated\n1,2\n3,4\n".into(),
        ];
        let opts = CsvOptions::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for f in &files {
            let bytes = f.as_bytes();
            let want = outcome(read_csv(bytes, &opts));
            // every single cut point, small portions
            for c in 0..=bytes.len().min(400) {
                assert_eq!(
                    outcome(pushed(bytes, &opts, &[c], 1)),
                    want,
                    "file {f:?} cut at {c}"
                );
            }
            // random cuts, random portion sizes
            for _ in 0..200 {
                let mut cuts: Vec<usize> = (0..rng.gen_range(1..20))
                    .map(|_| rng.gen_range(0..=bytes.len()))
                    .collect();
                cuts.sort_unstable();
                let portion = rng.gen_range(1..64);
                assert_eq!(
                    outcome(pushed(bytes, &opts, &cuts, portion)),
                    want,
                    "file {f:?} cuts {cuts:?} portion {portion}"
                );
            }
        }
    }

    #[test]
    fn limits_are_checked_as_bytes_and_rows_arrive() {
        let mut text = String::from("a,label\n");
        for i in 0..1000 {
            text.push_str(&format!("{i},0\n"));
        }
        let bytes = text.as_bytes();
        let opts = CsvOptions {
            max_bytes: 100,
            ..CsvOptions::default()
        };
        let mut p = CsvPushParser::new(&opts, 0);
        p.push(&bytes[..100]).expect("at the limit");
        let e = p.push(&bytes[100..101]).expect_err("over the byte limit");
        assert_eq!(e.code(), read_csv(bytes, &opts).unwrap_err().code());
        let opts = CsvOptions {
            max_rows: 10,
            ..CsvOptions::default()
        };
        let e = pushed(bytes, &opts, &[50, 60], 8).expect_err("over the row limit");
        assert_eq!(e.code(), read_csv(bytes, &opts).unwrap_err().code());
    }

    /// The rows' memory is reserved once from the first part (rows of even
    /// width here, so the estimate is close): no doubling.
    #[test]
    fn reserves_the_rows_once() {
        let mut text = String::from("a,b,label\n");
        for i in 0..20_000 {
            text.push_str(&format!("{i:05}.25,{},1\n", i % 7));
        }
        let bytes = text.as_bytes();
        let mut p =
            CsvPushParser::new(&CsvOptions::default(), bytes.len() as u64).with_portion(4096);
        for c in bytes.chunks(1000) {
            p.push(c).expect("push");
        }
        let cap = p.features.capacity();
        let ds = p.finish().expect("finish");
        assert_eq!(ds.len(), 20_000);
        assert!(
            (40_000..=40_000 * 11 / 10 + 64).contains(&cap),
            "capacity {cap} for 40,000 values"
        );
        assert_eq!(
            outcome(Ok(ds)),
            outcome(read_csv(bytes, &CsvOptions::default()))
        );
    }
}
