//! Sizes for people, as busybox prints them in dd's summary (busybox `libbb/human_readable.c`
//! `make_human_readable_str`).

use alloc::format;
use alloc::string::{String, ToString};

/// The unit letters after none: kibi, mebi, ... (busybox `libbb/human_readable.c` `unit_chars`).
const UNITS: &[u8; 8] = b"KMGTPEZY";

/// `make_human_readable_str(value, 1, 0)`: "0", a plain number below 1024, else one decimal and a unit (busybox `libbb/human_readable.c`).
///
/// As busybox: while the value is at least 1024, the fractional digit is
/// `((value % 1024) * 10 + 512) / 1024` and the value is divided by 1024; only the last step's
/// digit is kept, and when it is 10 the value goes up by one and the digit becomes 0 (so
/// 1048575 prints "1024.0K").
pub fn human(value: u64) -> String {
    if value < 1024 {
        return value.to_string();
    }
    let mut value = value;
    let mut frac = 0;
    let mut unit = 0usize;
    while value >= 1024 {
        frac = ((value % 1024) * 10 + 512) / 1024;
        value /= 1024;
        unit += 1;
    }
    if frac >= 10 {
        value += 1;
        frac = 0;
    }
    format!("{value}.{frac}{}", char::from(UNITS[unit - 1]))
}
