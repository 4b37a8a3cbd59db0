//! How much input cronq accepts, and how it quotes input back in an error. Pure.
//!
//! Limits keep a mistaken input (a device, an endless pipe, a huge file) from holding
//! cronq or the machine's memory, and refuse at once what a job could never receive,
//! instead of letting every attempt fail later. See docs/commands.md.

use std::borrow::Cow;

/// The largest crontab `import` reads: 4 MiB. A crontab of 10,000 jobs takes about
/// 350 KB, so real ones are far below it; anything larger is very likely the wrong file.
pub const MAX_CRONTAB_BYTES: usize = 4 * 1024 * 1024;

/// The longest line `enqueue --stdin` reads: 4 MiB, room for the largest run a job can
/// receive even when its JSON is spread out with spaces or escapes.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Linux's limit on one argument or environment string, its terminating NUL included
/// (MAX_ARG_STRLEN: 32 pages of 4 KiB). A job gets its target and data as environment
/// variables and its command as an argument of `/bin/sh -c`, so a longer one would make
/// every attempt fail with "Argument list too long". The 4 KiB page size is Linux's
/// smallest, so the limit holds on every Linux machine.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// How many characters of a long input an error message quotes.
const QUOTED_CHARS: usize = 60;

/// Refuses `NAME=value` when it does not fit in one environment string.
pub fn check_environment(name: &str, value: &str) -> Result<(), String> {
    let size = name.len() + 1 + value.len() + 1;
    if size <= MAX_ARG_STRLEN {
        return Ok(());
    }
    let room = MAX_ARG_STRLEN - name.len() - 2;
    Err(format!(
        "{name} would hold {} bytes, but a job receives it in its environment, where Linux allows \
         one variable at most {MAX_ARG_STRLEN} bytes ({name}=, the value and a NUL): at most \
         {room} bytes; pass a reference to the data instead (a file path, a record id)",
        value.len()
    ))
}

/// Refuses a command too long to be the one argument of `/bin/sh -c`.
pub fn check_command(command: &str) -> Result<(), String> {
    if command.len() < MAX_ARG_STRLEN {
        return Ok(());
    }
    Err(format!(
        "the command is {} bytes, and /bin/sh -c takes it as one argument, which Linux allows \
         at most {MAX_ARG_STRLEN} bytes (with a NUL); put it in a script and run the script",
        command.len()
    ))
}

/// `text` as an error message quotes it: whole when short, else its first 60 characters
/// and its size (`abc… (1048576 bytes)`), so that a mistaken megabyte does not flood the
/// terminal.
pub fn shorten(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len())),
    }
}

/// Decodes input as UTF-8, or names the line (counted from 1) of the first invalid byte.
pub fn decode_utf8(bytes: Vec<u8>) -> Result<String, usize> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        1 + valid.iter().filter(|&&b| b == b'\n').count()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_short_text_is_quoted_whole() {
        assert_eq!(shorten("Europe/Berlin"), "Europe/Berlin");
        assert_eq!(shorten(&"x".repeat(60)), "x".repeat(60));
    }

    #[test]
    fn a_long_text_is_quoted_by_its_start_and_size() {
        let long = "x".repeat(1_000_000);
        assert_eq!(
            shorten(&long),
            format!("{}… (1000000 bytes)", "x".repeat(60))
        );
        // Characters, not bytes: a multi-byte character is never cut.
        let wide = "ä".repeat(61);
        assert_eq!(shorten(&wide), format!("{}… (122 bytes)", "ä".repeat(60)));
    }

    #[test]
    fn the_environment_limit_counts_the_name_the_equals_sign_and_the_nul() {
        let fits = "d".repeat(MAX_ARG_STRLEN - "CRONQ_DATA=".len() - 1);
        assert_eq!(check_environment("CRONQ_DATA", &fits), Ok(()));
        let over = format!("{fits}d");
        let e = check_environment("CRONQ_DATA", &over).unwrap_err();
        assert!(e.contains("131061 bytes"), "{e}");
        assert!(e.contains("at most 131060 bytes"), "{e}");
    }

    #[test]
    fn a_command_fits_when_it_and_its_nul_do() {
        assert_eq!(check_command(&"c".repeat(MAX_ARG_STRLEN - 1)), Ok(()));
        assert!(check_command(&"c".repeat(MAX_ARG_STRLEN)).is_err());
    }

    #[test]
    fn invalid_utf8_is_named_by_its_line() {
        assert_eq!(decode_utf8(b"ok\n".to_vec()), Ok("ok\n".to_string()));
        assert_eq!(decode_utf8(b"\xff".to_vec()), Err(1));
        assert_eq!(decode_utf8(b"a\nb\n\xe4\n".to_vec()), Err(3));
    }

    proptest! {
        #[test]
        fn a_shortened_text_is_a_bounded_prefix(text in ".{0,200}") {
            let short = shorten(&text);
            // At most 200 characters of up to 4 bytes: a size of at most 3 digits.
            prop_assert!(short.chars().count() <= QUOTED_CHARS + "… (800 bytes)".chars().count());
            let start: String = text.chars().take(QUOTED_CHARS).collect();
            prop_assert!(short.starts_with(&start));
            prop_assert_eq!(short == text, text.chars().count() <= QUOTED_CHARS);
        }
    }
}
