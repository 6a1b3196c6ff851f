use proptest::prelude::*;

use super::*;
use mm_core::memtype::{ALL_MEMORY_TYPES, MemoryType};

#[test]
fn desc_bytes_sit_where_c_puts_them() {
    let d = MemRangeDesc {
        mr_base: 0x1122_3344_5566_7788,
        mr_len: 0x0102_0304_0506_0708,
        mr_flags: MDF_ACTIVE | MDF_WRITEBACK,
        mr_owner: *b"BIOS\0xyz",
    };
    let bytes = d.to_bytes();
    assert_eq!(bytes.len(), 32);
    assert_eq!(bytes[0..8], [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    assert_eq!(bytes[8..16], [0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01]);
    assert_eq!(bytes[16..20], [0x08, 0, 0, 0x08]);
    assert_eq!(&bytes[20..28], b"BIOS\0xyz");
    assert_eq!(bytes[28..32], [0, 0, 0, 0], "padding is zeroed");
    assert_eq!(MemRangeDesc::from_bytes(&bytes), d);
}

#[test]
fn desc_padding_is_ignored_when_read() {
    let mut bytes = desc(0x1000, 0x1000, MDF_FORCE | MDF_UNCACHEABLE, "x").to_bytes();
    bytes[28..32].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let d = MemRangeDesc::from_bytes(&bytes);
    assert_eq!(d.mr_flags, MDF_FORCE | MDF_UNCACHEABLE);
    assert!(d.mr_flags < 0, "FORCE is the sign bit of a C int");
    assert_eq!(d.to_bytes()[28..32], [0, 0, 0, 0]);
}

#[test]
fn op_bytes_sit_where_c_puts_them() {
    let op = MemRangeOp { mo_desc: 0x7fff_0000_1000, mo_arg: [MEMRANGE_SET_REMOVE, -2] };
    let bytes = op.to_bytes();
    assert_eq!(bytes[0..8], 0x7fff_0000_1000u64.to_le_bytes());
    assert_eq!(bytes[8..12], [1, 0, 0, 0]);
    assert_eq!(bytes[12..16], [0xfe, 0xff, 0xff, 0xff]);
    assert_eq!(MemRangeOp::from_bytes(&bytes), op);
}

#[test]
fn sizes_and_offsets_match_the_c_layout() {
    use core::mem::offset_of;
    assert_eq!(size_of::<MemRangeDesc>(), 32);
    assert_eq!(size_of::<MemRangeOp>(), 16);
    assert_eq!(
        [
            offset_of!(MemRangeDesc, mr_base),
            offset_of!(MemRangeDesc, mr_len),
            offset_of!(MemRangeDesc, mr_flags)
        ],
        [0, 8, 16]
    );
    assert_eq!(offset_of!(MemRangeDesc, mr_owner), 20);
    assert_eq!([offset_of!(MemRangeOp, mo_desc), offset_of!(MemRangeOp, mo_arg)], [0, 8]);
}

#[test]
fn ioctl_numbers_are_the_bsd_encodings() {
    assert_eq!(bsd_ioc(IOC_INOUT, b'm', 50, 16), 0xC010_6D32);
    assert_eq!(bsd_ioc(IOC_IN, b'm', 51, 16), 0x8010_6D33);
    assert_eq!(MEMRANGE_GET, 0xC010_6D32);
    assert_eq!(MEMRANGE_SET, 0x8010_6D33);
    assert_ne!(MEMRANGE_SET, 0x4010_6D33, "Linux's _IOW would set the other direction bit");
    assert_eq!(bsd_ioc(IOC_OUT, b'm', 1, 0x2000), 0x4000_6D01, "the length is masked to 13 bits");
}

#[test]
fn flag_values_are_freebsds() {
    let attrs =
        [MDF_UNCACHEABLE, MDF_WRITECOMBINE, MDF_WRITETHROUGH, MDF_WRITEBACK, MDF_WRITEPROTECT, MDF_UNKNOWN];
    assert_eq!(attrs, [0x1, 0x2, 0x4, 0x8, 0x10, 0x20]);
    let controls = [MDF_FIXBASE, MDF_FIXLEN, MDF_FIRMWARE, MDF_ACTIVE, MDF_BOGUS, MDF_FIXACTIVE, MDF_BUSY];
    assert_eq!(controls, [1 << 24, 1 << 25, 1 << 26, 1 << 27, 1 << 28, 1 << 29, 1 << 30]);
    assert_eq!(MDF_FORCE as u32, 0x8000_0000);
    assert_eq!(MDF_ATTRMASK, 0x00ff_ffff);
    for flag in controls.into_iter().chain([MDF_FORCE]) {
        assert_eq!(flag & MDF_ATTRMASK, 0);
    }
    assert_eq!((MEMRANGE_SET_UPDATE, MEMRANGE_SET_REMOVE), (0, 1));
}

#[test]
fn owner_str_stops_at_nul_and_bad_utf8() {
    assert_eq!(owner_str(b"BIOS\0\0\0\0"), "BIOS");
    assert_eq!(owner_str(b"BIOS\0xyz"), "BIOS");
    assert_eq!(owner_str(b"abcdefgh"), "abcdefgh", "8 bytes without a NUL");
    assert_eq!(owner_str(&[0; 8]), "");
    assert_eq!(owner_str(b"ab\xffcd\0\0\0"), "ab");
    assert_eq!(owner_bytes("memcontrol"), *b"memcont\0", "7 bytes at most");
    assert_eq!(owner_bytes(""), [0; 8]);
}

#[test]
fn flags_and_types_convert_both_ways() {
    for t in ALL_MEMORY_TYPES {
        match flag_of_memtype(t) {
            Some(flag) => {
                assert_eq!(memtype_of_flags(flag | MDF_ACTIVE | MDF_FORCE), Some(t));
                assert_eq!(flag_of_mtrr_byte(t.encoding()), flag);
                assert_eq!(mtrr_byte_of_flags(flag, 0xAA), t.encoding());
            }
            None => assert_eq!(t, MemoryType::UncachedMinus),
        }
    }
    for byte in [2u8, 3, 7, 8, 0xff] {
        assert_eq!(flag_of_mtrr_byte(byte), MDF_UNKNOWN, "byte {byte}");
    }
    for flags in [0, MDF_UNKNOWN, MDF_UNCACHEABLE | MDF_WRITEBACK, 0x40, MDF_WRITEBACK | 0x100] {
        assert_eq!(memtype_of_flags(flags), None, "{flags:#x}");
        assert_eq!(mtrr_byte_of_flags(flags, 0xAA), 0xAA, "the old byte is kept");
    }
}

proptest! {
    #[test]
    fn desc_bytes_round_trip(bytes in any::<[u8; 32]>()) {
        let d = MemRangeDesc::from_bytes(&bytes);
        let again = d.to_bytes();
        prop_assert_eq!(&again[..28], &bytes[..28]);
        prop_assert_eq!(MemRangeDesc::from_bytes(&again), d);
        let _ = d.owner();
    }

    #[test]
    fn op_bytes_round_trip(bytes in any::<[u8; 16]>()) {
        prop_assert_eq!(MemRangeOp::from_bytes(&bytes).to_bytes(), bytes);
    }

    #[test]
    fn owner_str_is_lossless_for_ascii(text in "[ -~]{0,7}") {
        let owner = owner_bytes(&text);
        prop_assert_eq!(owner_str(&owner), text.as_str());
    }

    #[test]
    fn owner_str_is_a_prefix_of_the_field(owner in any::<[u8; 8]>()) {
        let text = owner_str(&owner);
        prop_assert!(text.len() <= 8);
        prop_assert_eq!(text.as_bytes(), &owner[..text.len()]);
        prop_assert!(!text.as_bytes().contains(&0));
    }
}
