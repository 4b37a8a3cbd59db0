//! Untrusted text made safe for a terminal. A job's output, a target id, data or a reason
//! can hold escape sequences that retitle the operator's window, move the cursor or hide
//! lines; shown escaped, every control character is visible for what it is. The escapes
//! are for reading, not reversible (a backslash stays as it is): `cronq show --raw` gives
//! the exact bytes.

use std::fmt::Write;

/// What happens to line feeds and tabs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineBreaks {
    /// Kept: a job's output, which has lines of its own.
    Keep,
    /// Escaped like any control: a one-line field or a table cell, which a line break
    /// would split (and let a value pose as another field).
    Escape,
}

/// `bytes` as text with no control character in it but, with `LineBreaks::Keep`, `\n` and
/// `\t`. C0 controls and DEL become `\xNN` (ESC is `\x1b`), C1 controls `\u{NN}` (CSI is
/// `\u{9b}`), and each byte that is not part of valid UTF-8 `\xNN` (`\xff`).
pub fn escape(bytes: &[u8], line_breaks: LineBreaks) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let kept = matches!(c, '\n' | '\t') && line_breaks == LineBreaks::Keep;
            if !c.is_control() || kept {
                text.push(c);
            } else if c <= '\x7f' {
                // Writing to a String cannot fail.
                let _ = write!(text, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(text, "\\u{{{:x}}}", c as u32);
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

/// A one-line field or table cell, escaped.
pub fn escape_field(text: &str) -> String {
    escape(text.as_bytes(), LineBreaks::Escape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn controls_become_visible_escapes() {
        let bytes = b"a\x1b]0;pwned\x07b\r\n\tc\x7f\xc2\x9b\xff\xc3\xa9\x00";
        assert_eq!(
            escape(bytes, LineBreaks::Keep),
            "a\\x1b]0;pwned\\x07b\\x0d\n\tc\\x7f\\u{9b}\\xff\u{e9}\\x00"
        );
        assert_eq!(
            escape(bytes, LineBreaks::Escape),
            "a\\x1b]0;pwned\\x07b\\x0d\\x0a\\x09c\\x7f\\u{9b}\\xff\u{e9}\\x00"
        );
    }

    #[test]
    fn a_truncated_utf8_sequence_is_escaped_byte_by_byte() {
        assert_eq!(escape(b"\xe2\x82", LineBreaks::Keep), "\\xe2\\x82");
    }

    proptest! {
        #[test]
        fn escaped_bytes_hold_no_control_but_kept_line_breaks(
            bytes in proptest::collection::vec(any::<u8>(), 0..200)
        ) {
            let kept = escape(&bytes, LineBreaks::Keep);
            prop_assert!(kept.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
            let escaped = escape(&bytes, LineBreaks::Escape);
            prop_assert!(escaped.chars().all(|c| !c.is_control()));
        }

        #[test]
        fn text_without_controls_is_unchanged(text in "\\PC*") {
            prop_assert_eq!(escape_field(&text), text);
        }
    }
}
