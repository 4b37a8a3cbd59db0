//! The screens' one script and one style sheet, built into the binary: no build step,
//! nothing fetched from elsewhere (the Content-Security-Policy allows only these).

pub const SCRIPT: &str = include_str!("assets/app.js");
pub const STYLE: &str = include_str!("assets/app.css");
