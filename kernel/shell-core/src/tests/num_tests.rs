use alloc::format;
use core::num::IntErrorKind;
use proptest::prelude::*;

use crate::num::{NumError, parse_i64, parse_octal_mode, parse_u64};

#[test]
fn u64_bases() {
    for (text, value) in [
        ("0", 0),
        ("00", 0),
        ("0x0", 0),
        ("10", 10),
        ("0x1F", 31),
        ("0X1f", 31),
        ("010", 8),
        ("+5", 5),
        ("+0x10", 16),
        ("+010", 8),
        ("0xfee00000", 0xfee0_0000),
        ("18446744073709551615", u64::MAX),
        ("0xFFFFFFFFFFFFFFFF", u64::MAX),
        ("01777777777777777777777", u64::MAX),
    ] {
        assert_eq!(parse_u64(text), Ok(value), "{text}");
    }
}

#[test]
fn u64_refusals() {
    for (text, error) in [
        ("", NumError::Empty),
        ("-1", NumError::Invalid),
        ("-0", NumError::Invalid),
        (" 1", NumError::Invalid),
        ("1 ", NumError::Invalid),
        ("0x", NumError::Invalid),
        ("0x ", NumError::Invalid),
        ("08", NumError::Invalid),
        ("0x1g", NumError::Invalid),
        ("+", NumError::Invalid),
        ("++1", NumError::Invalid),
        ("+-1", NumError::Invalid),
        ("0x+1", NumError::Invalid),
        ("1k", NumError::Invalid),
        ("\u{663}", NumError::Invalid),
        ("99999999999999999999x", NumError::Invalid),
        ("18446744073709551616", NumError::Overflow),
        ("0x10000000000000000", NumError::Overflow),
        ("02000000000000000000000", NumError::Overflow),
        ("+99999999999999999999999999", NumError::Overflow),
    ] {
        assert_eq!(parse_u64(text), Err(error), "{text}");
    }
}

#[test]
fn i64_signs() {
    assert_eq!(parse_i64("-1"), Ok(-1));
    assert_eq!(parse_i64("-0x10"), Ok(-16));
    assert_eq!(parse_i64("-010"), Ok(-8));
    assert_eq!(parse_i64("+7"), Ok(7));
    assert_eq!(parse_i64("-0"), Ok(0));
    assert_eq!(parse_i64("-9223372036854775808"), Ok(i64::MIN));
    assert_eq!(parse_i64("9223372036854775807"), Ok(i64::MAX));
    assert_eq!(parse_i64("-0x8000000000000000"), Ok(i64::MIN));
    assert_eq!(parse_i64("-9223372036854775809"), Err(NumError::Overflow));
    assert_eq!(parse_i64("9223372036854775808"), Err(NumError::Overflow));
    assert_eq!(parse_i64("18446744073709551616"), Err(NumError::Overflow));
    assert_eq!(parse_i64(""), Err(NumError::Empty));
    for text in ["-", "--1", "-+1", "+-1", " -1", "-1 ", "-x1", "- 1"] {
        assert_eq!(parse_i64(text), Err(NumError::Invalid), "{text}");
    }
}

#[test]
fn octal_modes() {
    assert_eq!(parse_octal_mode("0"), Ok(0));
    assert_eq!(parse_octal_mode("644"), Ok(0o644));
    assert_eq!(parse_octal_mode("0660"), Ok(0o660));
    assert_eq!(parse_octal_mode("7777"), Ok(0o7777));
    assert_eq!(parse_octal_mode("4755"), Ok(0o4755));
    assert_eq!(parse_octal_mode(""), Err(NumError::Empty));
    for text in ["00644", "8", "648", "u+x", "-1", "+644", " 644", "0x1"] {
        assert_eq!(parse_octal_mode(text), Err(NumError::Invalid), "{text}");
    }
}

/// strtoull(s, &end, 0) with `*end == 0`, written with u128 and the standard library's radix parser.
fn oracle(text: &str) -> Result<u64, NumError> {
    if text.is_empty() {
        return Err(NumError::Empty);
    }
    let body = text.strip_prefix('+').unwrap_or(text);
    let (radix, digits) = if body.len() > 2 && (body.starts_with("0x") || body.starts_with("0X")) {
        (16, &body[2..])
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumError::Invalid);
    }
    match u128::from_str_radix(digits, radix) {
        Ok(value) => u64::try_from(value).map_err(|_| NumError::Overflow),
        Err(error) if *error.kind() == IntErrorKind::PosOverflow => Err(NumError::Overflow),
        Err(_) => Err(NumError::Invalid),
    }
}

proptest! {
    #[test]
    fn never_panics(text in ".{0,40}") {
        let _ = (parse_u64(&text), parse_i64(&text), parse_octal_mode(&text));
    }

    #[test]
    fn matches_the_oracle(text in "[-+0-9a-fxX ]{0,30}") {
        prop_assert_eq!(parse_u64(&text), oracle(&text));
    }

    #[test]
    fn every_spelling_round_trips(value: u64, plus: bool) {
        let sign = if plus { "+" } else { "" };
        prop_assert_eq!(parse_u64(&format!("{sign}{value}")), Ok(value));
        prop_assert_eq!(parse_u64(&format!("{sign}0x{value:x}")), Ok(value));
        prop_assert_eq!(parse_u64(&format!("{sign}0X{value:X}")), Ok(value));
        prop_assert_eq!(parse_u64(&format!("{sign}0{value:o}")), Ok(value));
    }

    #[test]
    fn i64_round_trips(value: i64) {
        prop_assert_eq!(parse_i64(&format!("{value}")), Ok(value));
        let sign = if value < 0 { "-" } else { "" };
        prop_assert_eq!(parse_i64(&format!("{sign}0x{:x}", value.unsigned_abs())), Ok(value));
        prop_assert_eq!(parse_i64(&format!("{sign}0{:o}", value.unsigned_abs())), Ok(value));
    }

    #[test]
    fn i64_agrees_with_u64(text in "[0-9a-fx]{1,25}") {
        let expected = parse_u64(&text).and_then(|v| i64::try_from(v).map_err(|_| NumError::Overflow));
        prop_assert_eq!(parse_i64(&text), expected);
        let negative = match parse_u64(&text) {
            Ok(v) if v <= 1 << 63 => Ok(0i64.wrapping_sub_unsigned(v)),
            Ok(_) => Err(NumError::Overflow),
            Err(error) => Err(error),
        };
        prop_assert_eq!(parse_i64(&format!("-{text}")), negative);
    }

    #[test]
    fn octal_modes_round_trip(mode in 0u32..=0o7777) {
        prop_assert_eq!(parse_octal_mode(&format!("{mode:o}")), Ok(mode));
        prop_assert_eq!(parse_octal_mode(&format!("{mode:04o}")), Ok(mode));
    }
}
