//! Metadata scan: personal and infrastructure details in a model file's
//! text fields.
//!
//! Fields read (recursively through graph attributes): the model's
//! `producer_name`, `producer_version`, `domain`, `doc_string` and
//! `metadata_props` (keys and values); each graph's `name`, `doc_string`,
//! `metadata_props`, input / output / value_info / initializer names and doc
//! strings; each node's `name`, output names, `doc_string`,
//! `metadata_props` and attribute doc strings; function doc strings.
//!
//! Detectors ([`detect`]), on whitespace/quote/bracket-separated tokens with
//! trailing punctuation removed (no regex engine, so nothing grows the wasm):
//! - `url`: `scheme://...` (scheme of letters, digits, `+.-`) or `www.`;
//! - `email`: `local@domain` with a dotted domain ending in letters;
//! - `windows_path`: `X:\...`, `X:/...` or a UNC `\\server\share`;
//!   `C:\Users\NAME` also gives `user_name` NAME;
//! - `unix_path`: `~/...`, `//server/share`, or an absolute path under a
//!   well-known root (`/home`, `/Users`, `/root`, `/tmp`, `/var`, `/mnt`,
//!   `/data`, `/opt`, `/usr`, `/srv`, `/media`, `/workspace`, `/content`,
//!   `/scratch`, `/net`, `/nfs`, `/etc`, `/private`, `/Volumes`, `/export`)
//!   or ending in a file extension with at least two `/` (so PyTorch node
//!   names such as `/fc1/Gemm` are not paths); `/home/NAME`,
//!   `/Users/NAME`, `/export/home/NAME` give `user_name` NAME;
//! - `host_name`: dotted names whose last label is a common top-level or
//!   internal suffix (com, org, net, io, local, lan, internal, corp, ...;
//!   ONNX operator domains such as `ai.onnx.ml` excluded), and IPv4
//!   addresses (not in `producer_version`);
//! - `user_name` / `host_name` also for any value of a metadata_props key
//!   naming a user (user, author, owner, creator) or a host (host, machine,
//!   computer);
//! - `record_like`: at least 8 numbers that make up >= 80% of the tokens
//!   (split on whitespace, `,;[]()`): a data record pasted into a string.

use crate::onnx::proto::{GraphProto, ModelProto, NodeProto, StringStringEntryProto};
use serde::{Deserialize, Serialize};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataKind {
    UnixPath,
    WindowsPath,
    UserName,
    HostName,
    Email,
    Url,
    RecordLike,
}

impl MetadataKind {
    pub fn name(self) -> &'static str {
        match self {
            MetadataKind::UnixPath => "unix path",
            MetadataKind::WindowsPath => "Windows path",
            MetadataKind::UserName => "user name",
            MetadataKind::HostName => "host name",
            MetadataKind::Email => "e-mail address",
            MetadataKind::Url => "URL",
            MetadataKind::RecordLike => "record-like numbers",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataFinding {
    /// Field path, e.g. `model.metadata_props['source']`, `graph.input[0].name`.
    pub field: String,
    pub kind: MetadataKind,
    /// The matched text.
    pub text: String,
    /// Whether the field is a name (graph, node or value), which stripping
    /// replaces instead of clearing.
    pub is_name: bool,
}

const ROOTS: [&str; 20] = [
    "home",
    "export",
    "Users",
    "root",
    "tmp",
    "var",
    "mnt",
    "data",
    "opt",
    "usr",
    "srv",
    "media",
    "workspace",
    "content",
    "scratch",
    "net",
    "nfs",
    "etc",
    "private",
    "Volumes",
];

const TLDS: [&str; 44] = [
    "com",
    "org",
    "net",
    "edu",
    "gov",
    "mil",
    "int",
    "io",
    "co",
    "us",
    "uk",
    "de",
    "fr",
    "nl",
    "ch",
    "jp",
    "cn",
    "ru",
    "in",
    "br",
    "au",
    "ca",
    "es",
    "it",
    "se",
    "no",
    "fi",
    "dk",
    "pl",
    "be",
    "at",
    "eu",
    "info",
    "biz",
    "dev",
    "app",
    "cloud",
    "local",
    "lan",
    "internal",
    "corp",
    "intranet",
    "localdomain",
    "home",
];

/// ONNX operator domains and other dotted identifiers that are not hosts.
const NOT_HOSTS: [&str; 4] = [
    "ai.onnx",
    "ai.onnx.ml",
    "com.microsoft",
    "ai.onnx.preview.training",
];

fn trim_token(t: &str) -> &str {
    t.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | ')' | '(' | '!' | '?' | '*'))
}

fn is_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

fn is_host(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    if NOT_HOSTS.contains(&lower.as_str()) {
        return false;
    }
    let labels: Vec<&str> = lower.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| is_label(l))
        && labels.last().is_some_and(|tld| TLDS.contains(tld))
}

fn is_ipv4(t: &str) -> bool {
    let parts: Vec<&str> = t.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|v| v <= 255))
}

fn is_email(t: &str) -> bool {
    let Some((local, domain)) = t.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c) || c == '_')
        && domain.contains('.')
        && domain.split('.').all(is_label)
        && domain
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

fn is_url(t: &str) -> bool {
    if t.to_ascii_lowercase().starts_with("www.") && t.len() > 4 {
        return true;
    }
    match t.find("://") {
        Some(i) if i >= 2 => {
            t[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
                && t.len() > i + 3
        }
        _ => false,
    }
}

fn has_extension(t: &str) -> bool {
    let last = t.rsplit(['/', '\\']).next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext)) => {
            !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
                && ext.chars().any(|c| c.is_ascii_alphabetic())
        }
        None => false,
    }
}

/// User name after `prefix` (case-insensitive) in `t`, up to the next separator.
fn user_after(t: &str, prefixes: &[&str], seps: &[char]) -> Option<String> {
    let lower = t.to_ascii_lowercase();
    for p in prefixes {
        if let Some(i) = lower.find(&p.to_ascii_lowercase()) {
            let rest = &t[i + p.len()..];
            let name: String = rest.chars().take_while(|c| !seps.contains(c)).collect();
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    None
}

fn unix_path(t: &str) -> bool {
    if t.starts_with("~/") && t.len() > 2 {
        return true;
    }
    if let Some(rest) = t.strip_prefix("//") {
        // //server/share
        return rest.split('/').filter(|s| !s.is_empty()).count() >= 2;
    }
    let Some(rest) = t.strip_prefix('/') else {
        return false;
    };
    let segs: Vec<&str> = rest.split('/').collect();
    if segs.len() >= 2 && ROOTS.contains(&segs[0]) && !segs[1].is_empty() {
        return true;
    }
    segs.len() >= 2 && has_extension(t)
}

fn windows_path(t: &str) -> bool {
    let b = t.as_bytes();
    (b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        || (t.starts_with("\\\\") && t[2..].split('\\').filter(|s| !s.is_empty()).count() >= 2)
}

fn record_like(s: &str) -> bool {
    let tokens: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || ",;[]()".contains(c))
        .filter(|t| !t.is_empty())
        .collect();
    let numbers = tokens.iter().filter(|t| t.parse::<f64>().is_ok()).count();
    numbers >= 8 && numbers * 10 >= tokens.len() * 8
}

/// Every finding in one string, in order of appearance (duplicates removed).
pub fn detect(s: &str) -> Vec<(MetadataKind, String)> {
    let mut out: Vec<(MetadataKind, String)> = Vec::new();
    let mut push = |k: MetadataKind, t: &str| {
        if !out.iter().any(|(k2, t2)| *k2 == k && t2 == t) {
            out.push((k, t.to_string()));
        }
    };
    for raw in s.split(|c: char| c.is_whitespace() || "\"'<>`|".contains(c)) {
        let t = trim_token(raw);
        if t.is_empty() {
            continue;
        }
        if is_url(t) {
            push(MetadataKind::Url, t);
            continue;
        }
        if is_email(t) {
            push(MetadataKind::Email, t);
            continue;
        }
        if windows_path(t) {
            push(MetadataKind::WindowsPath, t);
            if let Some(u) = user_after(t, &["\\Users\\", "/Users/"], &['\\', '/']) {
                push(MetadataKind::UserName, &u);
            }
            continue;
        }
        if unix_path(t) {
            push(MetadataKind::UnixPath, t);
            if let Some(u) = user_after(t, &["/export/home/", "/home/", "/Users/"], &['/']) {
                push(MetadataKind::UserName, &u);
            }
            if let Some(host) = t.strip_prefix("//").and_then(|r| r.split('/').next()) {
                if is_host(host) {
                    push(MetadataKind::HostName, host);
                }
            }
            continue;
        }
        if is_host(t) || is_ipv4(t) {
            push(MetadataKind::HostName, t);
        }
    }
    if record_like(s) {
        let excerpt: String = s.chars().take(80).collect();
        push(MetadataKind::RecordLike, &excerpt);
    }
    out
}

struct Collector {
    out: Vec<MetadataFinding>,
}

impl Collector {
    fn text(&mut self, field: String, s: &str, is_name: bool) {
        for (kind, text) in detect(s) {
            if field.ends_with("producer_version")
                && kind == MetadataKind::HostName
                && is_ipv4(&text)
            {
                continue;
            }
            self.out.push(MetadataFinding {
                field: field.clone(),
                kind,
                text,
                is_name,
            });
        }
    }

    fn props(&mut self, base: &str, props: &[StringStringEntryProto]) {
        for p in props {
            let field = format!("{base}.metadata_props['{}']", p.key());
            self.text(format!("{field}.key"), p.key(), false);
            let before = self.out.len();
            self.text(field.clone(), p.value(), false);
            let key = p.key().to_ascii_lowercase();
            let kind = if ["user", "author", "owner", "creator"]
                .iter()
                .any(|k| key.contains(k))
            {
                Some(MetadataKind::UserName)
            } else if ["host", "machine", "computer"]
                .iter()
                .any(|k| key.contains(k))
            {
                Some(MetadataKind::HostName)
            } else {
                None
            };
            if let Some(kind) = kind {
                let already = self.out[before..].iter().any(|f| f.kind == kind);
                if !already && !p.value().trim().is_empty() {
                    self.out.push(MetadataFinding {
                        field,
                        kind,
                        text: p.value().trim().to_string(),
                        is_name: false,
                    });
                }
            }
        }
    }

    fn node(&mut self, n: &NodeProto, path: &str, depth: usize) {
        self.text(format!("{path}.name"), n.name(), true);
        for (k, o) in n.output.iter().enumerate() {
            self.text(format!("{path}.output[{k}]"), o, true);
        }
        self.text(format!("{path}.doc_string"), n.doc_string(), false);
        self.props(path, &n.metadata_props);
        for a in &n.attribute {
            let ap = format!("{path}.{}", a.name());
            self.text(format!("{ap}.doc_string"), a.doc_string(), false);
            if let Some(g) = &a.g {
                self.graph(g, &ap, depth + 1);
            }
            for (k, g) in a.graphs.iter().enumerate() {
                self.graph(g, &format!("{ap}[{k}]"), depth + 1);
            }
        }
    }

    fn graph(&mut self, g: &GraphProto, path: &str, depth: usize) {
        if depth > 16 {
            return;
        }
        self.text(format!("{path}.name"), g.name(), true);
        self.text(format!("{path}.doc_string"), g.doc_string(), false);
        self.props(path, &g.metadata_props);
        for (field, list) in [
            ("input", &g.input),
            ("output", &g.output),
            ("value_info", &g.value_info),
        ] {
            for (i, v) in list.iter().enumerate() {
                self.text(format!("{path}.{field}[{i}].name"), v.name(), true);
                self.text(
                    format!("{path}.{field}[{i}].doc_string"),
                    v.doc_string(),
                    false,
                );
                self.props(&format!("{path}.{field}[{i}]"), &v.metadata_props);
            }
        }
        for (i, t) in g.initializer.iter().enumerate() {
            self.text(format!("{path}.initializer[{i}].name"), t.name(), true);
            self.text(
                format!("{path}.initializer[{i}].doc_string"),
                t.doc_string(),
                false,
            );
            self.props(&format!("{path}.initializer[{i}]"), &t.metadata_props);
        }
        for (j, n) in g.node.iter().enumerate() {
            self.node(n, &format!("{path}.node[{j}]({})", n.op_type()), depth);
        }
    }
}

/// Every finding in the model's text fields.
pub fn scan_metadata(m: &ModelProto) -> Vec<MetadataFinding> {
    let mut c = Collector { out: Vec::new() };
    c.text("model.producer_name".into(), m.producer_name(), false);
    c.text("model.producer_version".into(), m.producer_version(), false);
    c.text("model.domain".into(), m.domain(), false);
    c.text("model.doc_string".into(), m.doc_string(), false);
    c.props("model", &m.metadata_props);
    if let Some(g) = &m.graph {
        c.graph(g, "graph", 0);
    }
    for (i, f) in m.functions.iter().enumerate() {
        c.text(
            format!("model.functions[{i}].doc_string"),
            f.doc_string(),
            false,
        );
    }
    c.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(MetadataKind, String)> {
        detect(s)
    }

    #[test]
    fn detectors() {
        use MetadataKind::*;
        let got = kinds("Trained from /home/alice/x/train.csv by alice@example.org, see https://a.example.org/m (C:\\Users\\bob\\w.pkl) on build-01.corp.example.com");
        assert_eq!(
            got,
            vec![
                (UnixPath, "/home/alice/x/train.csv".to_string()),
                (UserName, "alice".to_string()),
                (Email, "alice@example.org".to_string()),
                (Url, "https://a.example.org/m".to_string()),
                (WindowsPath, "C:\\Users\\bob\\w.pkl".to_string()),
                (UserName, "bob".to_string()),
                (HostName, "build-01.corp.example.com".to_string()),
            ]
        );
        assert_eq!(kinds("//fileserver/share/wine.csv")[0].0, UnixPath);
        assert_eq!(kinds("10.0.3.7")[0].0, HostName);
        assert_eq!(kinds("1.2,3.5,7,8,9.25,10,11,12.5")[0].0, RecordLike);
    }

    #[test]
    fn no_false_alarms_on_usual_names() {
        for s in [
            "skl2onnx",
            "1.20.0",
            "ai.onnx.ml",
            "/fc1/Gemm",
            "/fc1/Gemm_output_0",
            "onnx::Gemm_12",
            "probabilities",
            "LinearClassifier",
            "wine.pkl",
            "train.csv",
            "x 1 2 3 and some words here and there",
            "pytorch",
            "2.4.0",
            "sklearn-onnx",
        ] {
            assert!(detect(s).is_empty(), "{s}: {:?}", detect(s));
        }
    }
}
