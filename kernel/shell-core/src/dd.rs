//! dd's operands and its closing summary (busybox `coreutils/dd.c`, suffixes from busybox
//! `libbb/xatonum.c` `cwbkMG_suffixes`).

use alloc::format;
use alloc::string::String;

use crate::human::human;
use crate::num::{NumError, parse_u64};

/// The largest block size accepted: 16 MiB, since the kernel shell allocates one buffer of it (busybox `coreutils/dd.c` caps `bs` at `SSIZE_MAX`).
pub const MAX_BS: usize = 16 << 20;

/// The parsed operands of one dd run (busybox `coreutils/dd.c` `Z`, with `ibs == obs == bs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdArgs {
    /// `if=`: the input file; standard input when absent.
    pub input: Option<String>,
    /// `of=`: the output file; standard output when absent.
    pub output: Option<String>,
    /// `bs=`: bytes per block, 512 unless given.
    pub bs: usize,
    /// `count=`: how many input blocks to copy; all when absent.
    pub count: Option<u64>,
    /// `skip=`: input blocks to skip first.
    pub skip: u64,
    /// `seek=`: output blocks to skip first.
    pub seek: u64,
}

/// The size suffixes and their multipliers (busybox `libbb/xatonum.c` `cwbkMG_suffixes`).
const SUFFIXES: [(&str, u64); 15] = [
    ("c", 1),
    ("w", 2),
    ("b", 512),
    ("kB", 1000),
    ("kD", 1000),
    ("k", 1024),
    ("KB", 1000),
    ("KD", 1000),
    ("K", 1024),
    ("MB", 1_000_000),
    ("MD", 1_000_000),
    ("M", 1 << 20),
    ("GB", 1_000_000_000),
    ("GD", 1_000_000_000),
    ("G", 1 << 30),
];

/// How many bytes of `text` `strtoull(text, &end, 0)` consumes (glibc `strtol.c`), at least 1 if any.
fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let sign = usize::from(bytes.first() == Some(&b'+'));
    let rest = &bytes[sign..];
    let (radix, prefix) =
        if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' && rest[2].is_ascii_hexdigit() {
            (16, 2)
        } else if rest.first() == Some(&b'0') {
            (8, 1)
        } else {
            (10, 0)
        };
    let digits = rest[prefix..].iter().take_while(|&&b| char::from(b).is_digit(radix)).count();
    sign + prefix + digits
}

/// A number with an optional busybox size suffix: `strtoull` base 0, then `c w b kB k K MB M GB G ...` (busybox `libbb/xatonum_template.c` `xstrtou_range_sfx`).
pub fn parse_size(text: &str) -> Result<u64, NumError> {
    let split = number_len(text);
    let (number, suffix) = text.split_at(split);
    if number.is_empty() && !suffix.is_empty() {
        return Err(NumError::Invalid);
    }
    let value = parse_u64(number)?;
    if suffix.is_empty() {
        return Ok(value);
    }
    let (_, mult) = SUFFIXES.iter().find(|(name, _)| *name == suffix).ok_or(NumError::Invalid)?;
    value.checked_mul(*mult).ok_or(NumError::Overflow)
}

/// dd's `KEY=VALUE` operands, the last of a repeated key winning (busybox `coreutils/dd.c` `dd_main` loop).
///
/// Errors: `unknown operand OP` (OP as typed), `invalid number 'VALUE'`, and for `bs` outside
/// 1..=16 MiB busybox's `number VALUE is not in 1..16777216 range`.
pub fn parse_dd(operands: &[String]) -> Result<DdArgs, String> {
    let mut args = DdArgs { input: None, output: None, bs: 512, count: None, skip: 0, seek: 0 };
    for op in operands {
        if op == "--" {
            continue;
        }
        let Some((key, value)) = op.split_once('=') else {
            return Err(format!("unknown operand {op}"));
        };
        let number = || parse_size(value).map_err(|_| format!("invalid number '{value}'"));
        match key {
            "if" => args.input = Some(String::from(value)),
            "of" => args.output = Some(String::from(value)),
            "bs" => {
                let bs = number()?;
                args.bs = match usize::try_from(bs) {
                    Ok(bs) if (1..=MAX_BS).contains(&bs) => bs,
                    _ => return Err(format!("number {value} is not in 1..{MAX_BS} range")),
                };
            }
            "count" => args.count = Some(number()?),
            "skip" => args.skip = number()?,
            "seek" => args.seek = number()?,
            _ => return Err(format!("unknown operand {op}")),
        }
    }
    Ok(args)
}

/// Records and bytes moved by one dd run (busybox `coreutils/dd.c` `G.in_full` ... `G.total_bytes`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DdCounts {
    /// Reads that returned a whole block.
    pub in_full: u64,
    /// Reads that returned less than a block (but not 0).
    pub in_partial: u64,
    /// Writes of a whole block.
    pub out_full: u64,
    /// Writes of less than a block.
    pub out_partial: u64,
    /// Bytes written in total.
    pub bytes: u64,
}

/// busybox dd's three summary lines for a run that took `nanos` nanoseconds (busybox `coreutils/dd.c` `dd_output_status`).
///
/// A time of 0 counts as 1 ns so the rate stays finite.
pub fn dd_report(counts: &DdCounts, nanos: u64) -> String {
    let seconds = nanos.max(1) as f64 / 1e9;
    let rate = (counts.bytes as f64 / seconds) as u64;
    format!(
        "{}+{} records in\n{}+{} records out\n{} bytes ({}B) copied, {:.6} seconds, {}B/s\n",
        counts.in_full,
        counts.in_partial,
        counts.out_full,
        counts.out_partial,
        counts.bytes,
        human(counts.bytes),
        seconds,
        human(rate),
    )
}
