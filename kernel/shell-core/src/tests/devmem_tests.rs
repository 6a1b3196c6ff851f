use proptest::prelude::*;

use super::strings;
use crate::devmem::{DevmemArgs, DevmemError, format_value, parse_devmem};
use crate::num::parse_u64;

fn devmem(ops: &[&str]) -> Result<DevmemArgs, DevmemError> {
    parse_devmem(&strings(ops))
}

#[test]
fn address_width_value() {
    assert_eq!(devmem(&["0xfee00000"]), Ok(DevmemArgs { address: 0xfee0_0000, width_bits: 32, value: None }));
    assert_eq!(
        devmem(&["0x1000", "64", "0xdeadbeef"]),
        Ok(DevmemArgs { address: 0x1000, width_bits: 64, value: Some(0xdead_beef) })
    );
    assert_eq!(devmem(&["010", "8", "256"]), Ok(DevmemArgs { address: 8, width_bits: 8, value: Some(256) }));
    for (width, bits) in
        [("8", 8), ("16", 16), ("32", 32), ("64", 64), ("b", 8), ("B", 8), ("h", 16), ("H", 16)]
    {
        assert_eq!(devmem(&["0", width]).map(|a| a.width_bits), Ok(bits), "{width}");
    }
    for (width, bits) in [("w", 32), ("W", 32), ("l", 64), ("L", 64)] {
        assert_eq!(devmem(&["0", width]).map(|a| a.width_bits), Ok(bits), "{width}");
    }
}

#[test]
fn refusals() {
    assert_eq!(devmem(&[]), Err(DevmemError::Usage));
    assert_eq!(devmem(&["0", "8", "1", "2"]), Err(DevmemError::Usage));
    assert_eq!(devmem(&["x"]), Err(DevmemError::BadAddress));
    assert_eq!(devmem(&["-1"]), Err(DevmemError::BadAddress));
    assert_eq!(devmem(&[""]), Err(DevmemError::BadAddress));
    assert_eq!(devmem(&["x", "12"]), Err(DevmemError::BadAddress));
    for width in ["12", "0", "128", "08", "0x20", "q", "bb", "", " 8", "8 ", "-8", "+8", "é"] {
        assert_eq!(devmem(&["0x1000", width]), Err(DevmemError::BadWidth), "{width:?}");
    }
    assert_eq!(devmem(&["1", "32", "zz"]), Err(DevmemError::BadValue));
}

#[test]
fn errors_name_the_operand() {
    let message = |list: &[&str]| {
        let ops = strings(list);
        parse_devmem(&ops).err().and_then(|e| e.message(&ops))
    };
    assert_eq!(message(&["zzz"]).as_deref(), Some("invalid address 'zzz'"));
    assert_eq!(message(&["0x1000", "12"]).as_deref(), Some("invalid width '12' (8, 16, 32 or 64)"));
    assert_eq!(message(&["0x1000", "8", "0xg"]).as_deref(), Some("invalid value '0xg'"));
    assert_eq!(message(&[]), None);
    assert_eq!(devmem(&["1", "32", "18446744073709551616"]), Err(DevmemError::BadValue));
    assert_eq!(devmem(&["1", "x", "zz"]), Err(DevmemError::BadWidth));
}

#[test]
fn values_print_as_busybox() {
    assert_eq!(format_value(0xab, 8), "0xAB");
    assert_eq!(format_value(0x1, 16), "0x0001");
    assert_eq!(format_value(0xdead_beef, 32), "0xDEADBEEF");
    assert_eq!(format_value(0xf0, 32), "0x000000F0");
    assert_eq!(format_value(0, 64), "0x0000000000000000");
    assert_eq!(format_value(u64::MAX, 64), "0xFFFFFFFFFFFFFFFF");
    // printf's width is a minimum, so a value too wide for the width shows in full.
    assert_eq!(format_value(0x123, 8), "0x123");
}

proptest! {
    #[test]
    fn never_panics(ops in proptest::collection::vec(".{0,10}", 0..5)) {
        let _ = parse_devmem(&ops);
    }

    #[test]
    fn printed_values_read_back(value: u64, shift in 0u32..4) {
        let width = 8u32 << shift;
        let value = if width == 64 { value } else { value & ((1 << width) - 1) };
        let text = format_value(value, width);
        prop_assert_eq!(text.len(), 2 + width as usize / 4);
        prop_assert!(text[2..].chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        prop_assert_eq!(parse_u64(&text), Ok(value));
    }

    #[test]
    fn any_address_parses(address: u64, value: u64) {
        let ops = [alloc::format!("{address:#x}"), alloc::string::String::from("w"), alloc::format!("{value}")];
        prop_assert_eq!(parse_devmem(&ops), Ok(DevmemArgs { address, width_bits: 32, value: Some(value) }));
    }
}
