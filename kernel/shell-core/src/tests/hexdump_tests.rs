use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use proptest::prelude::*;

use crate::hexdump::Canonical;

fn dump(start: u64, wide: bool, data: &[u8]) -> String {
    let mut out = String::new();
    let mut dumper = Canonical::new(start, wide);
    dumper.push(data, &mut out);
    dumper.finish(&mut out);
    out
}

// Goldens below are the output of util-linux 2.38.1 `hexdump -C`.

#[test]
fn a_short_line() {
    assert_eq!(
        dump(0, false, b"Hello\n"),
        "00000000  48 65 6c 6c 6f 0a                                 |Hello.|\n00000006\n"
    );
    assert_eq!(
        dump(0, false, b"ABCDEFG"),
        "00000000  41 42 43 44 45 46 47                              |ABCDEFG|\n00000007\n"
    );
    assert_eq!(
        dump(0, false, b"ABCDEFGH"),
        "00000000  41 42 43 44 45 46 47 48                           |ABCDEFGH|\n00000008\n"
    );
    assert_eq!(
        dump(0, false, b"ABCDEFGHI"),
        "00000000  41 42 43 44 45 46 47 48  49                       |ABCDEFGHI|\n00000009\n"
    );
}

#[test]
fn every_byte_value() {
    let data: Vec<u8> = (0..=255).collect();
    let out = dump(0, false, &data);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 17);
    assert_eq!(lines[0], "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|");
    assert_eq!(lines[2], "00000020  20 21 22 23 24 25 26 27  28 29 2a 2b 2c 2d 2e 2f  | !\"#$%&'()*+,-./|");
    assert_eq!(lines[5], "00000050  50 51 52 53 54 55 56 57  58 59 5a 5b 5c 5d 5e 5f  |PQRSTUVWXYZ[\\]^_|");
    assert_eq!(lines[7], "00000070  70 71 72 73 74 75 76 77  78 79 7a 7b 7c 7d 7e 7f  |pqrstuvwxyz{|}~.|");
    assert_eq!(lines[8], "00000080  80 81 82 83 84 85 86 87  88 89 8a 8b 8c 8d 8e 8f  |................|");
    assert_eq!(lines[15], "000000f0  f0 f1 f2 f3 f4 f5 f6 f7  f8 f9 fa fb fc fd fe ff  |................|");
    assert_eq!(lines[16], "00000100");
}

#[test]
fn repeated_lines_fold() {
    let zeros = "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n";
    let letters = "41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  |ABCDEFGHIJKLMNOP|\n";
    assert_eq!(dump(0, false, &[0; 16]), format!("{zeros}00000010\n"));
    assert_eq!(dump(0, false, &[0; 32]), format!("{zeros}*\n00000020\n"));
    assert_eq!(dump(0, false, &[0; 64]), format!("{zeros}*\n00000040\n"));
    assert_eq!(
        dump(0, false, &[0; 40]),
        format!(
            "{zeros}*\n00000020  00 00 00 00 00 00 00 00                           |........|\n00000028\n"
        )
    );
    let mut data = Vec::new();
    data.extend_from_slice(&[0; 48]);
    data.extend_from_slice(b"ABCDEFGHIJKLMNOP");
    data.extend_from_slice(&[0; 16]);
    for _ in 0..3 {
        data.extend_from_slice(b"ABCDEFGHIJKLMNOP");
    }
    data.extend_from_slice(b"xyz");
    let expected = format!(
        "{zeros}*\n00000030  {letters}00000040  {}00000050  {letters}*\n\
         00000080  78 79 7a                                          |xyz|\n00000083\n",
        &zeros[10..]
    );
    assert_eq!(dump(0, false, &data), expected);
}

#[test]
fn start_offsets() {
    assert_eq!(dump(0, false, b""), "00000000\n");
    assert_eq!(dump(0x100, false, b""), "00000100\n");
    let mut data = Vec::new();
    data.extend_from_slice(&[0; 43]);
    data.extend_from_slice(b"ABCDE");
    // util-linux `hexdump -C -s 5` of 48 zero bytes then "ABCDEFGHIJKLMNOP".
    assert_eq!(
        dump(5, false, &data),
        "00000005  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n\
         00000025  00 00 00 00 00 00 00 00  00 00 00 41 42 43 44 45  |...........ABCDE|\n00000035\n"
    );
    assert_eq!(
        dump(0x10, false, b"AB"),
        "00000010  41 42                                             |AB|\n00000012\n"
    );
    assert_eq!(dump(0xffff_fff0, false, &[0x20; 17]).lines().last(), Some("100000001"));
}

#[test]
fn wide_offsets() {
    assert_eq!(
        dump(0x1_0000_0000, true, b"0123456789abcdefg"),
        "0000000100000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n\
         0000000100000010  67                                                |g|\n0000000100000011\n"
    );
    assert_eq!(dump(0, true, b""), "0000000000000000\n");
}

#[test]
fn pieces_of_any_size_give_the_same_dump() {
    let data: Vec<u8> = (0..100u8).map(|b| b / 40).collect();
    let whole = dump(3, false, &data);
    let mut out = String::new();
    let mut dumper = Canonical::new(3, false);
    for byte in &data {
        dumper.push(core::slice::from_ref(byte), &mut out);
    }
    dumper.push(&[], &mut out);
    dumper.finish(&mut out);
    assert_eq!(out, whole);
    assert!(whole.contains("*\n"));
}

/// `hexdump -C` over the whole input at once, written independently of `Canonical`.
fn oracle(start: u64, data: &[u8]) -> String {
    let mut out = String::new();
    let mut previous: Option<&[u8]> = None;
    let mut starred = false;
    for (index, line) in data.chunks(16).enumerate() {
        if line.len() == 16 && previous == Some(line) {
            if !starred {
                out.push_str("*\n");
            }
            starred = true;
            continue;
        }
        starred = false;
        previous = Some(line);
        let _ = write!(out, "{:08x}  ", start + 16 * index as u64);
        let mut hex = String::new();
        for (i, byte) in line.iter().enumerate() {
            let _ = write!(hex, "{byte:02x} {}", if i == 7 { " " } else { "" });
        }
        let ascii: String =
            line.iter().map(|&b| if b == b' ' || b.is_ascii_graphic() { b as char } else { '.' }).collect();
        let _ = writeln!(out, "{hex:<49} |{ascii}|");
    }
    let _ = writeln!(out, "{:08x}", start + data.len() as u64);
    out
}

proptest! {
    #[test]
    fn matches_the_oracle(start in 0u64..1 << 32, data in proptest::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..100)) {
        prop_assert_eq!(dump(start, false, &data), oracle(start, &data));
    }

    #[test]
    fn repetitive_input_matches_the_oracle(lines in proptest::collection::vec(0usize..3, 0..12), tail in 0usize..16) {
        let patterns = [[0u8; 16], [0x41; 16], *b"0123456789abcdef"];
        let mut data: Vec<u8> = lines.iter().flat_map(|&i| patterns[i]).collect();
        data.extend_from_slice(&patterns[0][..tail]);
        prop_assert_eq!(dump(16, false, &data), oracle(16, &data));
    }

    #[test]
    fn chunking_does_not_matter(data in proptest::collection::vec(0u8..3, 0..200), cuts in proptest::collection::vec(0usize..40, 0..12), wide: bool) {
        let mut out = String::new();
        let mut dumper = Canonical::new(7, wide);
        let mut rest = &data[..];
        for cut in cuts {
            let (piece, after) = rest.split_at(cut.min(rest.len()));
            dumper.push(piece, &mut out);
            rest = after;
        }
        dumper.push(rest, &mut out);
        dumper.finish(&mut out);
        prop_assert_eq!(out, dump(7, wide, &data));
    }
}
