//! The parts of HTTP the screens use, as plain data: a request's path, query and form
//! fields, and a reply with its status, type and body. `server` moves them to and from
//! the socket and adds the security headers to every reply.

use maud::Markup;

/// What a page or an action gets to see of a request.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The decoded path, e.g. `/jobs/backup`.
    pub path: String,
    /// The query's fields, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The form's fields of a POST, decoded, in order.
    pub form: Vec<(String, String)>,
}

impl Request {
    /// The first query field `name` that is not blank.
    pub fn query(&self, name: &str) -> Option<&str> {
        field(&self.query, name)
    }

    /// The first form field `name`, blank or not (a cleared input clears a value).
    pub fn form(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path's segments after the leading slash: `/runs/7/stop` → `["runs", "7", "stop"]`.
    pub fn segments(&self) -> Vec<&str> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect()
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// An answer, before the server adds its headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Where a 303 or 401 points, or the challenge of a 401.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn page(status: u16, markup: Markup) -> Reply {
        Reply {
            status,
            content_type: "text/html; charset=utf-8",
            body: markup.into_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    pub fn text(status: u16, text: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.into().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// After an action, the browser loads the page that shows its effect (a reload then
    /// reloads that page, not the action).
    pub fn see_other(location: impl Into<String>) -> Reply {
        let mut reply = Reply::text(303, "");
        reply.headers.push(("Location", location.into()));
        reply
    }

    pub fn asset(content_type: &'static str, body: &'static str) -> Reply {
        Reply {
            status: 200,
            content_type,
            body: body.as_bytes().to_vec(),
            headers: Vec::new(),
        }
    }
}

/// Decodes `a=1&b=x%20y+z` into its fields. Malformed escapes are kept as written, and
/// invalid UTF-8 is replaced: fields are checked where they are used.
pub fn parse_fields(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding, with `+` as a space (forms).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-encodes a query value: everything but unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_decode_as_browsers_encode_them() {
        assert_eq!(
            parse_fields("a=1&b=x%20y+z&c=&d&e=%E2%9C%93&f=%zz&g=%4"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("d".into(), "".into()),
                ("e".into(), "✓".into()),
                ("f".into(), "%zz".into()),
                ("g".into(), "%4".into()),
            ]
        );
    }

    #[test]
    fn encoding_round_trips() {
        for text in ["*/5 * * * *", "a&b=c", "ü ß", "100%"] {
            assert_eq!(decode(&encode(text)), text);
        }
    }
}
