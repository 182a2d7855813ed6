//! Integration tests of the public data API: CSV files as exported by common
//! tools, reshaping to image-shaped inputs, streaming equal to whole reads,
//! and messages that name rows and columns.

use privacy_inspector::data::{read_csv, read_csv_from, CsvOptions, CsvStream, DataError};
use privacy_inspector::engine::{Dim, Input};

fn input(dims: &[Option<usize>]) -> Input {
    Input {
        name: "x".into(),
        value: 0,
        shape: dims
            .iter()
            .map(|d| match d {
                Some(n) => Dim::Fixed(*n),
                None => Dim::Symbolic("N".into()),
            })
            .collect(),
    }
}

/// An 8x8-digits-like CSV: 64 pixel columns p0..p63 and a label.
fn digits_csv(rows: usize) -> String {
    let mut s = String::new();
    let header: Vec<String> = (0..64).map(|i| format!("p{i}")).collect();
    s.push_str(&header.join(","));
    s.push_str(",label\n");
    for r in 0..rows {
        let row: Vec<String> = (0..64).map(|i| ((r * 64 + i) % 17).to_string()).collect();
        s.push_str(&row.join(","));
        s.push_str(&format!(",{}\n", r % 10));
    }
    s
}

#[test]
fn digits_rows_feed_an_image_input() {
    let ds = read_csv(digits_csv(300).as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(ds.len(), 300);
    assert_eq!(ds.feature_names.len(), 64);
    assert_eq!(ds.label_column.as_deref(), Some("label"));
    let labels = ds.labels.clone().unwrap();
    assert_eq!(&labels[..12], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    let x = ds
        .to_batch(&input(&[None, Some(1), Some(8), Some(8)]))
        .unwrap();
    assert_eq!(x.shape(), &[300, 1, 8, 8]);
    // record 123, pixel (row 5, col 6) = column p46
    assert_eq!(x[[123, 0, 5, 6]], ((123 * 64 + 46) % 17) as f32);
    // the same data flat
    let x = ds.to_batch(&input(&[None, Some(64)])).unwrap();
    assert_eq!(x.shape(), &[300, 64]);
    assert_eq!(x[[123, 46]], ((123 * 64 + 46) % 17) as f32);
    // NHWC layout
    let x = ds
        .to_batch(&input(&[None, Some(8), Some(8), Some(1)]))
        .unwrap();
    assert_eq!(x[[123, 5, 6, 0]], ((123 * 64 + 46) % 17) as f32);
}

#[test]
fn wrong_width_for_an_image_input_is_explained() {
    let ds = read_csv(b"a,b,c\n1,2,3\n", &CsvOptions::default()).unwrap();
    let e = ds
        .to_batch(&input(&[None, Some(1), Some(8), Some(8)]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the CSV has 3 feature columns, the model expects 64"
    );
    assert_eq!(e.code(), "csv_feature_count");
}

#[test]
fn streaming_matches_a_whole_read_for_any_chunk_size() {
    let text = digits_csv(101);
    let whole = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap();
    for chunk in [1, 7, 100, 101, 5000] {
        let mut s = CsvStream::new(text.as_bytes(), &CsvOptions::default()).unwrap();
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        while let Some(c) = s.next_chunk(chunk).unwrap() {
            assert!(c.len() <= chunk);
            rows.extend(c.features.iter().copied());
            labels.extend(c.labels.unwrap());
        }
        assert_eq!(s.rows_read(), 101, "chunk {chunk}");
        assert_eq!(rows, whole.features.iter().copied().collect::<Vec<_>>());
        assert_eq!(Some(labels), whole.labels.clone());
    }
}

#[test]
fn exports_of_common_tools_parse() {
    // Excel "CSV UTF-8": BOM and CRLF
    let ds = read_csv(
        b"\xEF\xBB\xBFf1,f2,label\r\n0.5,1,1\r\n2,3,0\r\n",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.feature_names, vec!["f1", "f2"]);
    assert_eq!(ds.labels, Some(vec![1, 0]));
    // numpy.savetxt with a header: scientific notation, spaces after commas
    let ds = read_csv(
        b"x0, x1\n1.000000000000000000e+00, -2.500000000000000000e-01\n",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.features.row(0).to_vec(), vec![1.0, -0.25]);
    // pandas to_csv with labels as floats and quoted header names
    let ds = read_csv(
        b"\"sepal length\",\"sepal width\",\"label\"\n5.1,3.5,0.0\n4.9,3.0,2.0\n",
        &CsvOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.feature_names, vec!["sepal length", "sepal width"]);
    assert_eq!(ds.labels, Some(vec![0, 2]));
    // semicolons (European Excel) are named, not misread
    let e = read_csv(b"a;b\n1,5;2\n", &CsvOptions::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the CSV header is one column containing ';': values must be separated by commas"
    );
}

#[test]
fn messages_name_rows_and_columns() {
    let cases: &[(&str, &str)] = &[
        ("", "the CSV file is empty"),
        ("a,b\n", "the CSV has a header but no data rows"),
        (
            "a,b\n1,2\n\n3,4,5\n",
            "CSV row 2 has 3 values, the header has 2",
        ),
        (
            "a,b\n1,2\n3,four\n",
            "CSV row 2, column 'b': 'four' is not a number",
        ),
        (
            "a,b\n1,NaN\n",
            "CSV row 1, column 'b': 'NaN' is NaN or infinite (or outside the f32 range)",
        ),
        ("a,b\n1,\n", "CSV row 1, column 'b': the value is empty"),
        (
            "a,label\n1,2.5\n",
            "CSV row 1: label '2.5' is not a non-negative integer class index",
        ),
        (
            "a,a\n1,2\n",
            "the CSV header names column 'a' more than once",
        ),
    ];
    for (text, want) in cases {
        let e = read_csv(text.as_bytes(), &CsvOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), *want, "for {text:?}");
    }
    let e = read_csv(
        b"a,b\n1,2\n",
        &CsvOptions {
            require_label: true,
            ..CsvOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(e, DataError::NoLabelColumn("label".into()));
    assert_eq!(
        e.to_string(),
        "label column 'label' is not in the CSV header"
    );
}

#[test]
fn size_limit_applies_to_readers() {
    let text = digits_csv(50); // 65 columns
    let opts = CsvOptions {
        max_cells: 65 * 20,
        ..CsvOptions::default()
    };
    let e = read_csv_from(text.as_bytes(), &opts).unwrap_err();
    assert_eq!(
        e,
        DataError::TooLarge {
            rows: 21,
            cols: 65,
            limit: 1300
        }
    );
    assert_eq!(
        e.to_string(),
        "the CSV has at least 21 rows x 65 columns, over the limit of 1300 cells"
    );
}

/// A header at the column limit (262,144 names) with its one duplicate at
/// the very end: found, named, and in linear time (the pairwise check took
/// two minutes here; see BENCHMARKS.md for the figure). A header at the
/// limit without duplicates reads with every column.
#[test]
fn header_at_the_column_limit_is_checked_in_linear_time() {
    let cols = CsvOptions::default().max_columns;
    assert_eq!(cols, 262_144);
    let mut names: Vec<String> = (0..cols - 1).map(|i| format!("c{i}")).collect();
    names.push("c17".into());
    let csv = format!("{}\n{}\n", names.join(","), vec!["0"; cols].join(","));
    let e = read_csv(csv.as_bytes(), &CsvOptions::default()).unwrap_err();
    assert_eq!(e, DataError::DuplicateColumn("c17".into()));

    // an unnamed column is "column K": a real column of that name collides
    let e = read_csv(b"a,,column 2\n1,2,3\n", &CsvOptions::default()).unwrap_err();
    assert_eq!(e, DataError::DuplicateColumn("column 2".into()));

    *names.last_mut().unwrap() = "label".into();
    let mut row = vec!["0.5"; cols];
    row[cols - 1] = "1";
    let csv = format!(
        "{}\n{}\n{}\n",
        names.join(","),
        row.join(","),
        row.join(",")
    );
    let ds = read_csv(csv.as_bytes(), &CsvOptions::default()).unwrap();
    assert_eq!(ds.num_features(), cols - 1);
    assert_eq!(ds.feature_names[cols - 2], format!("c{}", cols - 2));
    assert_eq!(ds.labels, Some(vec![1, 1]));
    assert!(ds.features.iter().all(|&v| v == 0.5));
}

/// A stream of blank lines before (or instead of) the header is dropped as
/// it is parsed, not kept and parsed again with every new part (which was
/// quadratic in the file size); the rows after it read as in a whole read.
#[test]
fn push_parser_drops_leading_blank_lines() {
    use privacy_inspector::data::CsvPushParser;
    let blank = vec![b'\n'; 1 << 16];
    let mut p = CsvPushParser::new(&CsvOptions::default(), 0).with_portion(1024);
    for _ in 0..64 {
        p.push(&blank).unwrap();
    }
    p.push(b"a,b,label\n1,2,0\n\n3,4,1\n").unwrap();
    let ds = p.finish().unwrap();
    let whole = [blank.repeat(64), b"a,b,label\n1,2,0\n\n3,4,1\n".to_vec()].concat();
    let want = read_csv(&whole, &CsvOptions::default()).unwrap();
    assert_eq!(ds.features, want.features);
    assert_eq!(ds.feature_names, want.feature_names);
    assert_eq!(ds.labels, want.labels);
    assert_eq!(ds.labels, Some(vec![0, 1]));

    let mut p = CsvPushParser::new(&CsvOptions::default(), 0).with_portion(1024);
    for _ in 0..8 {
        p.push(&blank).unwrap();
    }
    assert_eq!(p.finish().unwrap_err(), DataError::Empty);
}
