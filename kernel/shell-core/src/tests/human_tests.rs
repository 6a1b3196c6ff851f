use alloc::format;
use alloc::string::{String, ToString};
use proptest::prelude::*;

use crate::human::human;

/// busybox `make_human_readable_str(val, 1, 0)` step by step, as its source reads.
fn described(value: u64) -> String {
    if value == 0 {
        return "0".to_string();
    }
    if value < 1024 {
        return value.to_string();
    }
    let (mut val, mut frac, mut unit) = (value, 0, 0);
    while val >= 1024 {
        frac = ((val % 1024) * 10 + 512) / 1024;
        val /= 1024;
        unit += 1;
    }
    if frac >= 10 {
        val += 1;
        frac = 0;
    }
    format!("{val}.{frac}{}", &"KMGTPEZY"[unit - 1..unit])
}

/// The same number computed another way: tenths of the unit, rounded half up from the value
/// truncated to the unit below (which is what busybox's loop amounts to).
fn tenths(value: u64) -> String {
    if value < 1024 {
        return value.to_string();
    }
    let unit = (63 - value.leading_zeros() as usize) / 10;
    let below = u128::from(value >> (10 * (unit - 1)));
    let tenths = (below * 10 + 512) >> 10;
    format!("{}.{}{}", tenths / 10, tenths % 10, &"KMGTPEZY"[unit - 1..unit])
}

#[test]
fn goldens() {
    for (value, text) in [
        (0, "0"),
        (1, "1"),
        (1023, "1023"),
        (1024, "1.0K"),
        (1025, "1.0K"),
        (1075, "1.0K"),
        (1076, "1.1K"),
        (1536, "1.5K"),
        (2047, "2.0K"),
        (65536, "64.0K"),
        (512_000, "500.0K"),
        (1_000_000, "976.6K"),
        (1_048_575, "1024.0K"),
        (1_048_576, "1.0M"),
        (67_108_864, "64.0M"),
        (123_456_789, "117.7M"),
        (1_000_000_000, "953.7M"),
        (1 << 30, "1.0G"),
        ((1 << 40) - 1, "1024.0G"),
        (1 << 40, "1.0T"),
        (4_095_999_999_999, "3.7T"),
        (1 << 50, "1.0P"),
        (1 << 60, "1.0E"),
        (u64::MAX, "16.0E"),
    ] {
        assert_eq!(human(value), text, "{value}");
        assert_eq!(described(value), text, "oracle for {value}");
    }
}

proptest! {
    #[test]
    fn matches_the_description(value: u64) {
        prop_assert_eq!(human(value), described(value));
    }

    #[test]
    fn matches_rounded_tenths(value in 1u64..) {
        prop_assert_eq!(human(value), tenths(value));
    }

    #[test]
    fn near_powers_of_1024(shift in 1u32..7, delta in -600i64..600) {
        let value = (1u64 << (10 * shift)).saturating_add_signed(delta);
        prop_assert_eq!(human(value), described(value));
    }
}
