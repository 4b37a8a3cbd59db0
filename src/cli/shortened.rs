//! Option values quoted back shortened: clap's "invalid value '…'" quotes a refused value
//! whole, which for a mistaken megabyte floods the terminal.

use crate::limits::shorten;
use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue};

/// Wraps a value parser (`value_parser = Shortened(parse_json)`) so that its refusals
/// quote the value as `shorten` does; the parser's own message is kept.
#[derive(Clone)]
pub struct Shortened<P>(pub P);

impl<P: TypedValueParser> TypedValueParser for Shortened<P> {
    type Value = P::Value;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        self.0.parse_ref(cmd, arg, value).map_err(|mut error| {
            if let Some(ContextValue::String(whole)) = error.get(ContextKind::InvalidValue) {
                let short = shorten(whole).into_owned();
                error.insert(ContextKind::InvalidValue, ContextValue::String(short));
            }
            error
        })
    }
}
