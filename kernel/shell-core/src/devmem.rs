//! devmem's operands and its output (busybox `miscutils/devmem.c`).

use alloc::format;
use alloc::string::String;

use crate::num::parse_u64;

/// One devmem request (busybox `miscutils/devmem.c` `target`, `width`, `writeval`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DevmemArgs {
    /// The physical address.
    pub address: u64,
    /// The access width in bits: 8, 16, 32 or 64.
    pub width_bits: u32,
    /// The value to write, if any (busybox does not check that it fits the width; it truncates).
    pub value: Option<u64>,
}

/// Why devmem's operands were refused (busybox `miscutils/devmem.c`: `bb_show_usage` or "bad width").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DevmemError {
    /// No operand, or more than three.
    Usage,
    /// ADDRESS is not a number.
    BadAddress,
    /// WIDTH is not 8/16/32/64 or b/h/w/l.
    BadWidth,
    /// VALUE is not a number.
    BadValue,
}

impl DevmemError {
    /// The message after `devmem: `, naming the operand that was refused
    /// (`invalid address 'zzz'`); `None` for [`DevmemError::Usage`], which prints the usage.
    pub fn message(self, operands: &[String]) -> Option<String> {
        let (what, index) = match self {
            DevmemError::Usage => return None,
            DevmemError::BadAddress => ("address", 0),
            DevmemError::BadWidth => ("width", 1),
            DevmemError::BadValue => ("value", 2),
        };
        let text = operands.get(index).map_or("", String::as_str);
        Some(match self {
            DevmemError::BadWidth => format!("invalid width '{text}' (8, 16, 32 or 64)"),
            _ => format!("invalid {what} '{text}'"),
        })
    }
}

/// busybox devmem's usage text, without the leading "Usage: " (busybox `miscutils/devmem.c` `//usage:`).
pub const USAGE: &str = "devmem ADDRESS [WIDTH [VALUE]]\n\n\
Read/write from physical address\n\n\
\tADDRESS\tAddress to act upon\n\
\tWIDTH\tWidth (8/16/...)\n\
\tVALUE\tData to be written\n";

/// The width in bits named by `text`: decimal 8/16/32/64, or b/h/w/l in either case (busybox `miscutils/devmem.c`).
fn parse_width(text: &str) -> Result<u32, DevmemError> {
    let width = match text.as_bytes() {
        [letter] if !letter.is_ascii_digit() => match letter | 0x20 {
            b'b' => 8,
            b'h' => 16,
            b'w' => 32,
            b'l' => 64,
            _ => return Err(DevmemError::BadWidth),
        },
        bytes if !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit) => match text {
            "8" => 8,
            "16" => 16,
            "32" => 32,
            "64" => 64,
            _ => return Err(DevmemError::BadWidth),
        },
        _ => return Err(DevmemError::BadWidth),
    };
    Ok(width)
}

/// `ADDRESS [WIDTH [VALUE]]`, numbers as `strtoull(s, 0)` (busybox `miscutils/devmem.c` `devmem_main`).
pub fn parse_devmem(operands: &[String]) -> Result<DevmemArgs, DevmemError> {
    if operands.is_empty() || operands.len() > 3 {
        return Err(DevmemError::Usage);
    }
    let address = parse_u64(&operands[0]).map_err(|_| DevmemError::BadAddress)?;
    let width_bits = match operands.get(1) {
        Some(width) => parse_width(width)?,
        None => 32,
    };
    let value = match operands.get(2) {
        Some(value) => Some(parse_u64(value).map_err(|_| DevmemError::BadValue)?),
        None => None,
    };
    Ok(DevmemArgs { address, width_bits, value })
}

/// `0x` and `width_bits / 4` upper-case hex digits, no newline (busybox `miscutils/devmem.c` `printf("0x%0*llX\n")`).
pub fn format_value(value: u64, width_bits: u32) -> String {
    let digits = (width_bits / 4) as usize;
    format!("0x{value:0digits$X}")
}
