//! The loadable segments of the kernel's own ELF64 image (System V gABI, "ELF Header"
//! and "Program Header"), read from the file bytes with every offset checked.

use crate::physmap::KernelSection;

/// Size of the ELF64 file header.
const EHDR_SIZE: usize = 64;
/// Size of the ELF64 program header fields this parser reads.
const PHDR_SIZE: usize = 56;
/// e_phnum value meaning "the count is in section header 0" (PN_XNUM).
const PN_XNUM: u16 = 0xffff;
/// p_type of a loadable segment.
const PT_LOAD: u32 = 1;
/// p_flags bits.
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// One PT_LOAD program header: `filesz` bytes at file `offset` loaded at `vaddr`, zero-filled to `memsz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Virtual address of the first byte (p_vaddr).
    pub vaddr: u64,
    /// Size in memory (p_memsz), at least `filesz`.
    pub memsz: u64,
    /// Size in the file (p_filesz); the rest up to `memsz` is zero (.bss).
    pub filesz: u64,
    /// Offset of the segment's bytes in the file (p_offset).
    pub offset: u64,
    /// Access permissions (p_flags).
    pub flags: SegmentFlags,
}

/// A segment's access permissions (p_flags PF_R, PF_W, PF_X).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentFlags {
    /// PF_R (4).
    pub read: bool,
    /// PF_W (2).
    pub write: bool,
    /// PF_X (1).
    pub execute: bool,
}

impl SegmentFlags {
    /// Decodes a p_flags word (PF_X = 1, PF_W = 2, PF_R = 4; other bits ignored).
    pub const fn from_p_flags(p_flags: u32) -> Self {
        Self { read: p_flags & PF_R != 0, write: p_flags & PF_W != 0, execute: p_flags & PF_X != 0 }
    }

    /// The section a segment holds: Code if X, else Data if W, else Rodata (.bss is the part past filesz).
    pub fn section(&self) -> KernelSection {
        if self.execute {
            KernelSection::Code
        } else if self.write {
            KernelSection::Data
        } else {
            KernelSection::Rodata
        }
    }
}

/// Why the bytes are not a usable little-endian ELF64 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than the 64-byte ELF64 header.
    TooShort,
    /// The first four bytes are not 0x7f 'E' 'L' 'F'.
    BadMagic,
    /// EI_CLASS is not ELFCLASS64 (2).
    NotElf64,
    /// EI_DATA is not ELFDATA2LSB (1).
    NotLittleEndian,
    /// The program header table or a PT_LOAD's file range is outside the file, or otherwise malformed.
    BadProgramHeaders,
    /// e_type is neither ET_EXEC (2) nor ET_DYN (3).
    NotExecutable,
    /// e_machine is not EM_X86_64 (62).
    WrongMachine,
    /// It has a PT_INTERP header: it needs a dynamic loader, which this kernel lacks.
    Dynamic,
}

/// p_type of the program interpreter's path (dynamic linking).
const PT_INTERP: u32 = 3;
/// p_type of the program header table itself.
const PT_PHDR: u32 = 6;

/// What loading a program needs beyond its segments (System V gABI ELF header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramInfo {
    /// ET_DYN (a static PIE, loaded at a base of the kernel's choice) rather than ET_EXEC.
    pub position_independent: bool,
    /// e_entry (relative to the load base for ET_DYN).
    pub entry: u64,
    /// Where the program headers are in memory (AT_PHDR, before adding the base): from
    /// PT_PHDR, else the PT_LOAD that holds them in the file; 0 if none does.
    pub phdr_vaddr: u64,
    pub phentsize: u16,
    pub phnum: u16,
}

/// Checks that `file` is a static x86-64 executable and reads its header. PT_INTERP is
/// `Dynamic`; the segments are checked as [`load_segments`] does.
pub fn program_info(file: &[u8]) -> Result<ProgramInfo, ElfError> {
    let segments = load_segments(file)?;
    let bad = ElfError::BadProgramHeaders;
    let e_type = u16_at(file, 16).ok_or(bad)?;
    if e_type != 2 && e_type != 3 {
        return Err(ElfError::NotExecutable);
    }
    if u16_at(file, 18) != Some(62) {
        return Err(ElfError::WrongMachine);
    }
    let phoff = u64_at(file, 32).ok_or(bad)?;
    let phentsize = u16_at(file, 54).ok_or(bad)?;
    let phnum = u16_at(file, 56).ok_or(bad)?;
    let headers = (0..usize::from(phnum))
        .filter_map(|i| program_header(file, phoff as usize + i * usize::from(phentsize)));
    let mut phdr_vaddr = None;
    for (p_type, segment) in headers {
        match p_type {
            PT_INTERP => return Err(ElfError::Dynamic),
            PT_PHDR => phdr_vaddr = Some(segment.vaddr),
            _ => {}
        }
    }
    let mut segments = segments;
    let phdr_vaddr = phdr_vaddr.unwrap_or_else(|| {
        segments
            .find(|s| s.offset <= phoff && phoff < s.offset + s.filesz)
            .map_or(0, |s| s.vaddr + (phoff - s.offset))
    });
    Ok(ProgramInfo {
        position_independent: e_type == 3,
        entry: u64_at(file, 24).ok_or(bad)?,
        phdr_vaddr,
        phentsize,
        phnum,
    })
}

fn bytes<const L: usize>(file: &[u8], at: usize) -> Option<[u8; L]> {
    file.get(at..at.checked_add(L)?)?.try_into().ok()
}

fn u16_at(file: &[u8], at: usize) -> Option<u16> {
    bytes(file, at).map(u16::from_le_bytes)
}

fn u32_at(file: &[u8], at: usize) -> Option<u32> {
    bytes(file, at).map(u32::from_le_bytes)
}

fn u64_at(file: &[u8], at: usize) -> Option<u64> {
    bytes(file, at).map(u64::from_le_bytes)
}

/// Reads the program header at `at` (known to lie in the file): its p_type and segment.
fn program_header(file: &[u8], at: usize) -> Option<(u32, Segment)> {
    Some((
        u32_at(file, at)?,
        Segment {
            flags: SegmentFlags::from_p_flags(u32_at(file, at + 4)?),
            offset: u64_at(file, at + 8)?,
            vaddr: u64_at(file, at + 16)?,
            filesz: u64_at(file, at + 32)?,
            memsz: u64_at(file, at + 40)?,
        },
    ))
}

/// True if the segment's bytes lie in a `len`-byte file, filesz <= memsz and its addresses do not wrap.
fn segment_fits(s: &Segment, len: usize) -> bool {
    s.offset.checked_add(s.filesz).is_some_and(|end| end <= len as u64)
        && s.filesz <= s.memsz
        && s.vaddr.checked_add(s.memsz).is_some()
}

/// Iterates over PT_LOAD program headers of a little-endian ELF64 file, each checked to lie in the file.
pub fn load_segments(file: &[u8]) -> Result<impl Iterator<Item = Segment> + '_, ElfError> {
    if file.len() < EHDR_SIZE {
        return Err(ElfError::TooShort);
    }
    if file[..4] != *b"\x7fELF" {
        return Err(ElfError::BadMagic);
    }
    if file[4] != 2 {
        return Err(ElfError::NotElf64);
    }
    if file[5] != 1 {
        return Err(ElfError::NotLittleEndian);
    }
    let bad = ElfError::BadProgramHeaders;
    let phoff = u64_at(file, 32).and_then(|o| usize::try_from(o).ok()).ok_or(bad)?;
    let phentsize = usize::from(u16_at(file, 54).ok_or(bad)?);
    let phnum = u16_at(file, 56).ok_or(bad)?;
    if phentsize < PHDR_SIZE || phnum == PN_XNUM {
        return Err(bad);
    }
    let table_end = phentsize.checked_mul(usize::from(phnum)).and_then(|size| phoff.checked_add(size));
    if table_end.is_none_or(|end| end > file.len()) {
        return Err(bad);
    }
    let headers = (0..usize::from(phnum)).filter_map(move |i| program_header(file, phoff + i * phentsize));
    let loads = headers.filter(|&(p_type, _)| p_type == PT_LOAD).map(|(_, segment)| segment);
    if !loads.clone().all(|s| segment_fits(&s, file.len())) {
        return Err(bad);
    }
    Ok(loads)
}

#[cfg(test)]
mod program_tests {
    use super::*;

    fn header(e_type: u16, machine: u16, phdrs: &[(u32, u64, u64, u64)]) -> [u8; 512] {
        let mut f = [0u8; 512];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        f[24..32].copy_from_slice(&0x401000u64.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (i, &(p_type, offset, vaddr, size)) in phdrs.iter().enumerate() {
            let at = 64 + 56 * i;
            f[at..at + 4].copy_from_slice(&p_type.to_le_bytes());
            f[at + 4..at + 8].copy_from_slice(&5u32.to_le_bytes());
            f[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
            f[at + 16..at + 24].copy_from_slice(&vaddr.to_le_bytes());
            f[at + 32..at + 40].copy_from_slice(&size.to_le_bytes());
            f[at + 40..at + 48].copy_from_slice(&size.to_le_bytes());
        }
        f
    }

    #[test]
    fn a_static_executable_is_read_with_its_program_headers_address() {
        let file = header(2, 62, &[(PT_LOAD, 0, 0x400000, 512)]);
        let info = program_info(&file).unwrap();
        assert!(!info.position_independent);
        assert_eq!(info.entry, 0x401000);
        assert_eq!(info.phdr_vaddr, 0x400040);
        assert_eq!((info.phentsize, info.phnum), (56, 1));
    }

    #[test]
    fn pt_phdr_wins_and_pie_is_recognised() {
        let file = header(3, 62, &[(PT_PHDR, 64, 0x1040, 56 * 2), (PT_LOAD, 0, 0x1000, 512)]);
        let info = program_info(&file).unwrap();
        assert!(info.position_independent);
        assert_eq!(info.phdr_vaddr, 0x1040);
    }

    #[test]
    fn dynamic_foreign_and_non_executables_are_refused() {
        assert_eq!(program_info(&header(2, 62, &[(PT_INTERP, 0, 0, 16)])), Err(ElfError::Dynamic));
        assert_eq!(program_info(&header(2, 3, &[])), Err(ElfError::WrongMachine));
        assert_eq!(program_info(&header(1, 62, &[])), Err(ElfError::NotExecutable));
        assert_eq!(program_info(b"#!/bin/sh\n"), Err(ElfError::TooShort));
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// One program header to write: (p_type, p_flags, offset, vaddr, filesz, memsz).
    type Ph = (u32, u32, u64, u64, u64, u64);

    /// Builds a minimal ELF64 file: header, `phentsize`-byte program headers at 64, zeros up to `len`.
    fn build(phdrs: &[Ph], phentsize: u16, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; EHDR_SIZE];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // ELFDATA2LSB
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&phentsize.to_le_bytes());
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for &(p_type, flags, offset, vaddr, filesz, memsz) in phdrs {
            let mut ph = vec![0u8; usize::from(phentsize)];
            ph[0..4].copy_from_slice(&p_type.to_le_bytes());
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&offset.to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[24..32].copy_from_slice(&(!vaddr).to_le_bytes()); // p_paddr, unused: must not be read
            ph[32..40].copy_from_slice(&filesz.to_le_bytes());
            ph[40..48].copy_from_slice(&memsz.to_le_bytes());
            ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
            f.extend_from_slice(&ph);
        }
        f.resize(len.max(f.len()), 0);
        f
    }

    const KERNEL: [Ph; 5] = [
        (6, 4, 64, 0, 280, 280),                                // PT_PHDR
        (1, 4 | 1, 0, 0xffff_8000_0000_0000, 0x300, 0x300),     // R X
        (4, 4, 0x200, 0, 0x20, 0x20),                           // PT_NOTE
        (1, 4, 0x300, 0xffff_8000_0000_1000, 0x80, 0x80),       // R
        (1, 4 | 2, 0x380, 0xffff_8000_0000_2000, 0x40, 0x9000), // RW with .bss
    ];

    /// Length of the test files: the last KERNEL segment ends at 0x3c0.
    const LEN: usize = 0x400;

    fn segments(file: &[u8]) -> Result<Vec<Segment>, ElfError> {
        load_segments(file).map(Iterator::collect)
    }

    #[test]
    fn keeps_only_pt_load_in_order() {
        let file = build(&KERNEL, 56, LEN);
        let segs = segments(&file).unwrap();
        let summary: Vec<_> =
            segs.iter().map(|s| (s.vaddr, s.offset, s.filesz, s.memsz, s.flags.section())).collect();
        assert_eq!(
            summary,
            [
                (0xffff_8000_0000_0000, 0, 0x300, 0x300, KernelSection::Code),
                (0xffff_8000_0000_1000, 0x300, 0x80, 0x80, KernelSection::Rodata),
                (0xffff_8000_0000_2000, 0x380, 0x40, 0x9000, KernelSection::Data),
            ]
        );
        assert_eq!(segs[2].flags, SegmentFlags { read: true, write: true, execute: false });
        // A larger phentsize (a newer ABI's padding) is stepped over correctly.
        assert_eq!(segments(&build(&KERNEL, 64, LEN)).unwrap(), segs);
        assert_eq!(segments(&build(&[], 56, 0)).unwrap(), []);
    }

    #[test]
    fn flags_decode() {
        let f = SegmentFlags::from_p_flags;
        assert_eq!(f(0), SegmentFlags { read: false, write: false, execute: false });
        assert_eq!(f(PF_R | PF_X | 0xf000_0000), SegmentFlags { read: true, write: false, execute: true });
        assert_eq!(f(PF_W), SegmentFlags { read: false, write: true, execute: false });
        assert_eq!(f(PF_R | PF_X).section(), KernelSection::Code);
        assert_eq!(f(PF_R | PF_W | PF_X).section(), KernelSection::Code);
        assert_eq!(f(PF_R | PF_W).section(), KernelSection::Data);
        assert_eq!(f(PF_R).section(), KernelSection::Rodata);
        assert_eq!(f(0).section(), KernelSection::Rodata);
    }

    #[test]
    fn header_errors() {
        let good = build(&KERNEL, 56, LEN);
        let with = |at: usize, value: &[u8]| {
            let mut f = good.clone();
            f[at..at + value.len()].copy_from_slice(value);
            segments(&f).err()
        };
        assert_eq!(segments(&good[..63]).err(), Some(ElfError::TooShort));
        assert_eq!(segments(&[]).err(), Some(ElfError::TooShort));
        assert_eq!(with(1, b"e"), Some(ElfError::BadMagic));
        assert_eq!(with(4, &[1]), Some(ElfError::NotElf64));
        assert_eq!(with(5, &[2]), Some(ElfError::NotLittleEndian));
        assert_eq!(with(54, &55u16.to_le_bytes()), Some(ElfError::BadProgramHeaders));
        assert_eq!(with(56, &18u16.to_le_bytes()), Some(ElfError::BadProgramHeaders));
        assert_eq!(with(56, &0xffffu16.to_le_bytes()), Some(ElfError::BadProgramHeaders));
        assert_eq!(with(32, &u64::MAX.to_le_bytes()), Some(ElfError::BadProgramHeaders));
        assert_eq!(with(32, &(good.len() as u64 - 279).to_le_bytes()), Some(ElfError::BadProgramHeaders));
        // The table may sit anywhere inside the file, even over the padding.
        assert_eq!(with(56, &4u16.to_le_bytes()), None);
    }

    #[test]
    fn segment_ranges_checked() {
        let len = 0x200;
        let one = |ph: Ph| segments(&build(&[ph], 56, len)).map(|s| s.len());
        assert_eq!(one((1, 4, 0, 0, len as u64, len as u64)), Ok(1));
        assert_eq!(one((1, 4, 1, 0, len as u64, len as u64)), Err(ElfError::BadProgramHeaders));
        assert_eq!(one((1, 4, u64::MAX, 0, 2, 2)), Err(ElfError::BadProgramHeaders));
        assert_eq!(one((1, 4, 0, 0, 0x10, 0x8)), Err(ElfError::BadProgramHeaders));
        assert_eq!(one((1, 4, 0, u64::MAX - 7, 0x10, 0x10)), Err(ElfError::BadProgramHeaders));
        assert_eq!(one((1, 4, 0, u64::MAX - 0x10, 0x10, 0x10)), Ok(1));
        // Only PT_LOAD ranges matter: a wild PT_NOTE is skipped.
        assert_eq!(one((4, 4, u64::MAX, u64::MAX, u64::MAX, 0)), Ok(0));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let good = build(&KERNEL, 56, LEN);
        let needed = 0x380 + 0x40;
        for len in 0..needed {
            assert!(segments(&good[..len]).is_err(), "length {len}");
        }
        for len in needed..=good.len() {
            assert_eq!(segments(&good[..len]).unwrap().len(), 3, "length {len}");
        }
    }

    fn check_result(file: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(segs) = load_segments(file) {
            for s in segs {
                prop_assert!(segment_fits(&s, file.len()));
            }
        }
        Ok(())
    }

    /// A program header, PT_LOAD half the time, whose bytes fit in 0x200 and whose addresses do not wrap.
    fn fitting_phdr() -> impl Strategy<Value = Ph> {
        let p_type = prop_oneof![Just(PT_LOAD), 0..8u32];
        (p_type, 0..8u32, 0..0x100u64, any::<u64>(), 0..0x100u64, 0..0x1000u64).prop_map(
            |(t, flags, offset, vaddr, filesz, extra)| (t, flags, offset, vaddr >> 1, filesz, filesz + extra),
        )
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(mut file in proptest::collection::vec(any::<u8>(), 0..400), magic: bool) {
            if magic && file.len() >= 6 {
                file[..6].copy_from_slice(b"\x7fELF\x02\x01");
            }
            check_result(&file)?;
        }

        #[test]
        fn mutated_headers_never_panic(
            edits in proptest::collection::vec((0..LEN, any::<u8>()), 1..8),
            cut in 0..=LEN,
        ) {
            let mut file = build(&KERNEL, 56, LEN);
            for (at, value) in edits {
                file[at] = value;
            }
            check_result(&file)?;
            check_result(&file[..cut])?;
        }

        #[test]
        fn built_segments_round_trip(phdrs in proptest::collection::vec(fitting_phdr(), 0..10)) {
            let file = build(&phdrs, 56, 64 + 10 * 56 + 0x200);
            let expected: Vec<Segment> = phdrs
                .iter()
                .filter(|p| p.0 == PT_LOAD)
                .map(|&(_, flags, offset, vaddr, filesz, memsz)| Segment {
                    vaddr,
                    memsz,
                    filesz,
                    offset,
                    flags: SegmentFlags::from_p_flags(flags),
                })
                .collect();
            prop_assert_eq!(segments(&file), Ok(expected));
        }
    }
}
