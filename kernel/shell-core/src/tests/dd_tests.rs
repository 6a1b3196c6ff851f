use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use proptest::prelude::*;

use super::strings;
use crate::dd::{DdArgs, DdCounts, MAX_BS, dd_report, parse_dd, parse_size};
use crate::num::NumError;

fn dd(ops: &[&str]) -> Result<DdArgs, String> {
    parse_dd(&strings(ops))
}

#[test]
fn defaults_and_all_operands() {
    let none = DdArgs { input: None, output: None, bs: 512, count: None, skip: 0, seek: 0 };
    assert_eq!(dd(&[]), Ok(none.clone()));
    assert_eq!(
        dd(&["if=/dev/mem", "of=/dev/null", "bs=4096", "count=1", "skip=256", "seek=2"]),
        Ok(DdArgs {
            input: Some("/dev/mem".to_string()),
            output: Some("/dev/null".to_string()),
            bs: 4096,
            count: Some(1),
            skip: 256,
            seek: 2,
        })
    );
    assert_eq!(dd(&["if=", "--"]), Ok(DdArgs { input: Some(String::new()), ..none.clone() }));
    assert_eq!(dd(&["of=a=b"]), Ok(DdArgs { output: Some("a=b".to_string()), ..none }));
}

#[test]
fn the_last_repeat_wins() {
    let args = dd(&["bs=1", "if=a", "bs=2", "if=b", "count=5", "count=0"]).expect("valid");
    assert_eq!((args.bs, args.input.as_deref(), args.count), (2, Some("b"), Some(0)));
}

#[test]
fn suffixes() {
    for (text, value) in [
        ("3c", 3),
        ("1w", 2),
        ("2b", 1024),
        ("1kB", 1000),
        ("1kD", 1000),
        ("1k", 1024),
        ("1KB", 1000),
        ("1KD", 1000),
        ("4K", 4096),
        ("1MB", 1_000_000),
        ("1MD", 1_000_000),
        ("1M", 1 << 20),
        ("2GB", 2_000_000_000),
        ("1GD", 1_000_000_000),
        ("1G", 1 << 30),
        ("0x10", 16),
        ("0x10k", 16384),
        ("0x1b", 27),
        ("010", 8),
        ("010b", 4096),
        ("0b", 0),
        ("+2k", 2048),
    ] {
        assert_eq!(parse_size(text), Ok(value), "{text}");
    }
    assert_eq!(parse_size(""), Err(NumError::Empty));
    assert_eq!(parse_size("k"), Err(NumError::Invalid));
    assert_eq!(parse_size("1kb"), Err(NumError::Invalid));
    assert_eq!(parse_size("08"), Err(NumError::Invalid));
    assert_eq!(parse_size("1 k"), Err(NumError::Invalid));
    assert_eq!(parse_size("-1"), Err(NumError::Invalid));
    assert_eq!(parse_size("17179869184G"), Err(NumError::Overflow));
    assert_eq!(parse_size("99999999999999999999"), Err(NumError::Overflow));
    assert_eq!(
        dd(&["bs=1M", "count=1G", "skip=1kB", "seek=2w"]).map(|a| (a.bs, a.count, a.skip, a.seek)),
        Ok((1 << 20, Some(1 << 30), 1000, 4))
    );
}

#[test]
fn refusals_and_their_messages() {
    assert_eq!(dd(&["foo=1"]), Err("unknown operand foo=1".to_string()));
    assert_eq!(dd(&["count"]), Err("unknown operand count".to_string()));
    assert_eq!(dd(&["IF=x"]), Err("unknown operand IF=x".to_string()));
    assert_eq!(dd(&["bs=abc"]), Err("invalid number 'abc'".to_string()));
    assert_eq!(dd(&["count="]), Err("invalid number ''".to_string()));
    assert_eq!(dd(&["skip=-1"]), Err("invalid number '-1'".to_string()));
    assert_eq!(dd(&["seek=1x"]), Err("invalid number '1x'".to_string()));
    assert_eq!(dd(&["count=99999999999999999999"]), Err("invalid number '99999999999999999999'".to_string()));
    assert_eq!(dd(&["bs=0"]), Err("number 0 is not in 1..16777216 range".to_string()));
    assert_eq!(dd(&["bs=16777217"]), Err("number 16777217 is not in 1..16777216 range".to_string()));
    assert_eq!(dd(&["bs=16M"]).map(|a| a.bs), Ok(MAX_BS));
    assert_eq!(dd(&["bs=17M"]), Err("number 17M is not in 1..16777216 range".to_string()));
}

#[test]
fn report_goldens() {
    let one = DdCounts { in_full: 1, in_partial: 0, out_full: 1, out_partial: 0, bytes: 512 };
    assert_eq!(
        dd_report(&one, 1_000_000),
        "1+0 records in\n1+0 records out\n512 bytes (512B) copied, 0.001000 seconds, 500.0KB/s\n"
    );
    assert_eq!(
        dd_report(&DdCounts::default(), 0),
        "0+0 records in\n0+0 records out\n0 bytes (0B) copied, 0.000000 seconds, 0B/s\n"
    );
    let mixed = DdCounts { in_full: 2, in_partial: 1, out_full: 3, out_partial: 4, bytes: 1_048_576 };
    assert_eq!(
        dd_report(&mixed, 2_500_000_000),
        "2+1 records in\n3+4 records out\n1048576 bytes (1.0MB) copied, 2.500000 seconds, 409.6KB/s\n"
    );
    let page = DdCounts { in_full: 1, in_partial: 0, out_full: 1, out_partial: 0, bytes: 4096 };
    assert!(dd_report(&page, 0).ends_with("4096 bytes (4.0KB) copied, 0.000000 seconds, 3.7TB/s\n"));
    let big = DdCounts { in_full: 1, in_partial: 0, out_full: 1, out_partial: 0, bytes: 65536 };
    assert!(
        dd_report(&big, 123_456_789).ends_with("65536 bytes (64.0KB) copied, 0.123457 seconds, 518.4KB/s\n")
    );
    assert!(dd_report(&big, 1_234_567_890).contains(", 1.234568 seconds, "));
    assert!(dd_report(&big, 1500).contains(", 0.000002 seconds, "));
}

proptest! {
    #[test]
    fn parse_dd_never_panics(ops in proptest::collection::vec(".{0,12}", 0..6)) {
        let _ = parse_dd(&ops);
    }

    #[test]
    fn parse_size_never_panics(text in ".{0,24}") {
        let _ = parse_size(&text);
    }

    #[test]
    fn sizes_multiply(n in 0u64..1 << 32, index in 0usize..15) {
        let table = [("c", 1), ("w", 2), ("b", 512), ("kB", 1000), ("kD", 1000), ("k", 1024), ("KB", 1000),
            ("KD", 1000), ("K", 1024), ("MB", 1_000_000), ("MD", 1_000_000), ("M", 1 << 20),
            ("GB", 1_000_000_000), ("GD", 1_000_000_000), ("G", 1u64 << 30)];
        let (suffix, mult) = table[index];
        prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n * mult));
        // A hex number swallows a suffix that is a hex digit, as strtoull does.
        let expected = match suffix {
            "b" => n * 16 + 11,
            "c" => n * 16 + 12,
            _ => n * mult,
        };
        prop_assert_eq!(parse_size(&format!("0x{n:x}{suffix}")), Ok(expected));
    }

    #[test]
    fn report_counts_and_bytes(in_full: u64, in_partial: u64, out_full: u64, out_partial: u64, bytes: u64, nanos: u64) {
        let report = dd_report(&DdCounts { in_full, in_partial, out_full, out_partial, bytes }, nanos);
        let lines: Vec<&str> = report.lines().collect();
        prop_assert_eq!(lines.len(), 3);
        prop_assert_eq!(lines[0], format!("{in_full}+{in_partial} records in"));
        prop_assert_eq!(lines[1], format!("{out_full}+{out_partial} records out"));
        let expected_bytes = format!("{bytes} bytes ({}B) copied, ", crate::human::human(bytes));
        prop_assert!(lines[2].starts_with(&expected_bytes));
        prop_assert!(lines[2].ends_with("B/s"));
    }
}
