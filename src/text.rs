//! Untrusted text in messages: [`Shown`] is the one way a value that came
//! from a file or a user (a CSV cell or column name, a tensor, node or
//! output name, an op type, a producer name, metadata, a file name) is
//! written into an error, a summary or a report line.
//!
//! Contract: `Shown(s)` displays `s` with every control or invisible
//! formatting character escaped as Rust writes it (`\u{1b}`, `\r`, `\0`,
//! `\u{202e}`), so no terminal escape sequence, carriage return or
//! bidirectional override in a file can act on the terminal or the page
//! that shows the message; and cut to at most [`MAX_SHOWN`] characters as
//! shown (an escape is never split), the cut marked with `…`. The value
//! itself is kept whole wherever it is stored (errors hold the raw text;
//! only their `Display` goes through `Shown`).

use std::fmt;

/// The most characters a shown value takes, the ellipsis included.
pub const MAX_SHOWN: usize = 80;

/// Untrusted text, displayed escaped and cut (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

/// `Shown(s).to_string()`.
pub fn shown(s: &str) -> String {
    Shown(s).to_string()
}

/// The most characters a shown file path takes: paths are longer than
/// names, and the folders tell the user which file is meant.
pub const MAX_SHOWN_PATH: usize = 240;

/// A file path, escaped as [`Shown`] and cut at [`MAX_SHOWN_PATH`].
pub fn shown_path(s: &str) -> String {
    Cut(s, MAX_SHOWN_PATH).to_string()
}

/// `s` escaped and cut at `max` characters as shown.
struct Cut<'a>(&'a str, usize);

/// Characters that are never written as they are: C0 and C1 controls, DEL,
/// and the invisible formatting characters that reorder or hide text
/// (bidirectional marks, embeddings, overrides and isolates, zero-width
/// characters, line and paragraph separators, the byte-order mark,
/// interlinear annotation).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// How one character is shown: itself, or its escape.
fn piece(c: char, buf: &mut String) -> &str {
    buf.clear();
    if is_unsafe(c) {
        for e in c.escape_debug() {
            buf.push(e);
        }
        // escape_debug leaves some format characters as they are
        if buf.chars().count() == 1 {
            buf.clear();
            buf.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    } else {
        buf.push(c);
    }
    buf
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Cut(self.0, MAX_SHOWN).fmt(f)
    }
}

impl fmt::Display for Cut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = self.1.max(2);
        let mut buf = String::new();
        // the whole value fits: write it
        let total: usize = self
            .0
            .chars()
            .take(max * 16 + 1)
            .map(|c| piece(c, &mut buf).chars().count())
            .sum();
        if total <= max {
            for c in self.0.chars() {
                f.write_str(piece(c, &mut buf))?;
            }
            return Ok(());
        }
        let mut used = 0;
        for c in self.0.chars() {
            let p = piece(c, &mut buf);
            let n = p.chars().count();
            if used + n > max - 1 {
                break;
            }
            f.write_str(p)?;
            used += n;
        }
        f.write_str("…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped() {
        assert_eq!(shown("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("x\ry\0z\n"), "x\\ry\\0z\\n");
        assert_eq!(shown("ab\u{202e}cd"), "ab\\u{202e}cd");
        assert_eq!(shown("\u{200b}\u{feff}\u{9b}"), "\\u{200b}\\u{feff}\\u{9b}");
        // ordinary text, accents and other scripts are kept
        assert_eq!(shown("âge_Ω 名前 'q'"), "âge_Ω 名前 'q'");
        assert_eq!(shown(""), "");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "n".repeat(10_000);
        let s = shown(&long);
        assert_eq!(s.chars().count(), MAX_SHOWN);
        assert!(s.ends_with("nn…"), "{s}");
        // exactly the limit: whole
        let edge = "e".repeat(MAX_SHOWN);
        assert_eq!(shown(&edge), edge);
        // an escape is never split, and counts as shown
        let v = format!("{}\x1b", "a".repeat(MAX_SHOWN - 3));
        let s = shown(&v);
        assert!(s.ends_with("aaa…"), "{s}");
        assert!(s.chars().count() <= MAX_SHOWN);
        assert!(!s.contains('\x1b'));
        // a value of control characters alone
        let s = shown(&"\x1b".repeat(1000));
        assert!(s.chars().count() <= MAX_SHOWN && s.ends_with('…'), "{s}");
        assert!(!s.contains('\x1b'));
        // paths: a longer cut
        let p = format!("/data/{}/m\x1b.onnx", "d".repeat(100));
        assert_eq!(shown_path(&p), p.replace('\x1b', "\\u{1b}"));
        assert_eq!(
            shown_path(&"p".repeat(1000)).chars().count(),
            MAX_SHOWN_PATH
        );
    }
}
