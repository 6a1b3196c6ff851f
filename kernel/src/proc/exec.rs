//! Loading a static ELF64 program into a new address space, and its initial stack
//! (System V AMD64 ABI, 3.4.1): argc, argv[], NULL, envp[], NULL, the auxiliary vector
//! ending with AT_NULL, then the strings, with RSP 16-byte aligned at argc.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use errno::{Errno, KResult};
use mm_core::elf::{self, ElfError};

use crate::mm::PAGE_SIZE;
use crate::mm::uspace::{AddressSpace, Protection, user_address};

/// Where a position-independent program (ET_DYN) is loaded (Linux's ELF_ET_DYN_BASE
/// region for static PIE).
pub const PIE_BASE: u64 = 0x0000_5555_5555_4000;
/// The top of the stack, and its size (mapped at start); the page below is a guard.
pub const STACK_TOP: u64 = 0x0000_7fff_ffff_0000;
pub const STACK_SIZE: u64 = 512 * 1024;
/// Where anonymous mmap hands out addresses, downwards.
pub const MMAP_TOP: u64 = 0x0000_7f00_0000_0000;

/// Auxiliary-vector keys (Linux `include/uapi/linux/auxvec.h`).
const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_EXECFN: u64 = 31;

/// A loaded program: where it starts and where its heap begins.
pub struct Loaded {
    pub entry: u64,
    pub stack_pointer: u64,
    pub brk_start: u64,
}

/// Why a file cannot be run, in words for the console.
pub fn explain(error: ElfError) -> &'static str {
    match error {
        ElfError::Dynamic => {
            "dynamically linked programs need a dynamic loader, which this kernel does not have; build it static"
        }
        ElfError::TooShort | ElfError::BadMagic => "not an ELF executable",
        ElfError::NotElf64 | ElfError::NotLittleEndian | ElfError::WrongMachine => "not an x86-64 executable",
        ElfError::NotExecutable => "an ELF file, but not an executable",
        ElfError::BadProgramHeaders => "malformed program headers",
    }
}

fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

fn page_up(a: u64) -> KResult<u64> {
    a.checked_add(PAGE_SIZE - 1).map(page_down).ok_or(Errno::ENOEXEC)
}

/// Maps the program's segments into `space` with their permissions.
pub fn load_segments(
    space: &mut AddressSpace,
    file: &[u8],
) -> Result<(elf::ProgramInfo, u64, u64), ElfError> {
    let info = elf::program_info(file)?;
    let base = if info.position_independent { PIE_BASE } else { 0 };
    let bad = ElfError::BadProgramHeaders;
    // Permissions per page: segments may share a page at their edges (the union wins).
    let mut pages: BTreeMap<u64, Protection> = BTreeMap::new();
    let mut end = 0u64;
    for segment in elf::load_segments(file)? {
        if segment.memsz == 0 {
            continue;
        }
        let start = base.checked_add(segment.vaddr).ok_or(bad)?;
        let stop = start.checked_add(segment.memsz).ok_or(bad)?;
        if stop > MMAP_TOP || start < PAGE_SIZE {
            return Err(bad);
        }
        let mut page = page_down(start);
        while page < stop {
            let p = pages.entry(page).or_default();
            p.read |= segment.flags.read;
            p.write |= segment.flags.write;
            p.execute |= segment.flags.execute;
            page += PAGE_SIZE;
        }
        end = end.max(stop);
    }
    if pages.len() as u64 > (256 << 20) / PAGE_SIZE {
        return Err(bad);
    }
    for &page in pages.keys() {
        if user_address(page)
            .and_then(|page| space.map_anonymous(page, PAGE_SIZE, Protection::READ_WRITE))
            .is_err()
        {
            return Err(bad);
        }
    }
    for segment in elf::load_segments(file)? {
        let offset = segment.offset as usize;
        let bytes = &file[offset..offset + segment.filesz as usize];
        user_address(base + segment.vaddr).and_then(|at| space.write_bytes(at, bytes)).map_err(|_| bad)?;
    }
    for (&page, &protection) in &pages {
        space.protect(user_address(page).map_err(|_| bad)?, PAGE_SIZE, protection);
    }
    let brk_start = page_up(end).map_err(|_| bad)?;
    Ok((info, base, brk_start))
}

/// What the initial stack says about the process.
pub struct StackInfo<'a> {
    pub argv: &'a [String],
    pub envp: &'a [String],
    pub execfn: &'a str,
    pub uid: u32,
    pub gid: u32,
}

/// Loads `file` into `space` and builds the initial stack.
pub fn load(
    space: &mut AddressSpace,
    file: &[u8],
    stack: &StackInfo<'_>,
) -> KResult<Result<Loaded, ElfError>> {
    let (info, base, brk_start) = match load_segments(space, file) {
        Ok(loaded) => loaded,
        Err(error) => return Ok(Err(error)),
    };
    space.map_anonymous(user_address(STACK_TOP - STACK_SIZE)?, STACK_SIZE, Protection::READ_WRITE)?;
    // Strings first, at the top: execfn, platform, random bytes, envp, argv.
    let mut top = STACK_TOP;
    let mut push_bytes = |space: &mut AddressSpace, bytes: &[u8]| -> KResult<u64> {
        top -= bytes.len() as u64;
        space.write_bytes(user_address(top)?, bytes)?;
        Ok(top)
    };
    let with_nul = |s: &str| {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        v
    };
    let strings_size: usize =
        stack.argv.iter().chain(stack.envp).map(|s| s.len() + 1).sum::<usize>() + stack.execfn.len() + 64;
    if strings_size as u64 > STACK_SIZE / 4 {
        return Err(Errno::E2BIG);
    }
    let execfn = push_bytes(space, &with_nul(stack.execfn))?;
    let platform = push_bytes(space, b"x86_64\0")?;
    let random = push_bytes(space, &crate::arch::cpuid::random_bytes())?;
    let mut envp = Vec::new();
    for s in stack.envp {
        envp.push(push_bytes(space, &with_nul(s))?);
    }
    let mut argv = Vec::new();
    for s in stack.argv {
        argv.push(push_bytes(space, &with_nul(s))?);
    }
    let auxv: [(u64, u64); 18] = [
        (AT_PHDR, base + info.phdr_vaddr),
        (AT_PHENT, u64::from(info.phentsize)),
        (AT_PHNUM, u64::from(info.phnum)),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, base + info.entry),
        (AT_UID, u64::from(stack.uid)),
        (AT_EUID, u64::from(stack.uid)),
        (AT_GID, u64::from(stack.gid)),
        (AT_EGID, u64::from(stack.gid)),
        (AT_HWCAP, u64::from(crate::arch::cpuid::leaf1_edx())),
        (AT_CLKTCK, 100),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_PLATFORM, platform),
        (AT_EXECFN, execfn),
        (AT_NULL, 0),
    ];
    let words = 1 + argv.len() + 1 + envp.len() + 1 + 2 * auxv.len();
    let mut rsp = (top - 8 * words as u64) & !15;
    let start = rsp;
    let mut table: Vec<u8> = Vec::with_capacity(8 * words);
    let mut push = |value: u64| table.extend_from_slice(&value.to_le_bytes());
    push(argv.len() as u64);
    argv.iter().for_each(|&a| push(a));
    push(0);
    envp.iter().for_each(|&e| push(e));
    push(0);
    for (key, value) in auxv {
        push(key);
        push(value);
    }
    space.write_bytes(user_address(start)?, &table)?;
    rsp = start;
    Ok(Ok(Loaded { entry: base + info.entry, stack_pointer: rsp, brk_start }))
}
