//! Numbers on the command line as C's `strtoull(s, &end, 0)` reads them when the caller insists
//! that the whole string is a number (busybox `libbb/xatonum.c`, glibc `strtol.c`), and octal
//! modes as coreutils' chmod reads them.

/// Why a number was refused (busybox `libbb/bb_strtonum.c`: EINVAL or ERANGE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    /// Nothing to parse (`strtoull` sets `end == s`).
    Empty,
    /// A character that is not part of the number (C: `*end != 0`), a sign where none may be, or a blank.
    Invalid,
    /// Valid digits whose value does not fit (C: `ERANGE`).
    Overflow,
}

/// The radix and the digits of an unsigned number without its sign (glibc `strtol.c`, base 0).
fn split_radix(text: &str) -> (u32, &str) {
    let bytes = text.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' && (bytes[1] | 0x20) == b'x' {
        (16, &text[2..])
    } else if bytes.len() > 1 && bytes[0] == b'0' {
        (8, &text[1..])
    } else {
        (10, text)
    }
}

/// The digits of `text` in base `radix`, refusing any other character (glibc `strtol.c` loop).
fn digits(text: &str, radix: u32) -> Result<u64, NumError> {
    if text.is_empty() {
        return Err(NumError::Invalid);
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for c in text.chars() {
        let digit = c.to_digit(radix).ok_or(NumError::Invalid)?;
        match value.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(digit))) {
            Some(next) => value = next,
            None => overflow = true,
        }
    }
    if overflow { Err(NumError::Overflow) } else { Ok(value) }
}

/// The magnitude after an optional sign has been taken off (C `strtoull(s, &end, 0)` body).
fn magnitude(text: &str) -> Result<u64, NumError> {
    if text.is_empty() {
        return Err(NumError::Invalid);
    }
    let (radix, rest) = split_radix(text);
    digits(rest, radix)
}

/// `strtoull(s, &end, 0)` with `*end == 0` required: `+`, `0x` hex, `0` octal, decimal (busybox `bb_strtoull`).
pub fn parse_u64(text: &str) -> Result<u64, NumError> {
    if text.is_empty() {
        return Err(NumError::Empty);
    }
    magnitude(text.strip_prefix('+').unwrap_or(text))
}

/// `strtoll(s, &end, 0)` with `*end == 0` required: an optional `-` or `+`, then as [`parse_u64`] (busybox `bb_strtoll`).
pub fn parse_i64(text: &str) -> Result<i64, NumError> {
    if text.is_empty() {
        return Err(NumError::Empty);
    }
    if let Some(rest) = text.strip_prefix('-') {
        let value = magnitude(rest)?;
        if value > i64::MIN.unsigned_abs() {
            return Err(NumError::Overflow);
        }
        // value <= 2^63, so the negation fits.
        Ok(0i64.wrapping_sub_unsigned(value))
    } else {
        let value = magnitude(text.strip_prefix('+').unwrap_or(text))?;
        i64::try_from(value).map_err(|_| NumError::Overflow)
    }
}

/// An octal mode of 1-4 digits, at most `0o7777` (coreutils `chmod`/`mknod -m` numeric modes).
pub fn parse_octal_mode(text: &str) -> Result<u32, NumError> {
    if text.is_empty() {
        return Err(NumError::Empty);
    }
    if text.len() > 4 {
        return Err(NumError::Invalid);
    }
    let mut value = 0u32;
    for c in text.chars() {
        value = value * 8 + c.to_digit(8).ok_or(NumError::Invalid)?;
    }
    Ok(value)
}
