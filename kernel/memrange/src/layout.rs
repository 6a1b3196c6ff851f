//! The user-visible layouts of FreeBSD's `sys/sys/memrange.h`: descriptor flags, `struct
//! mem_range_desc`, `struct mem_range_op` and the two ioctl numbers, with explicit
//! little-endian conversions for copying them through user buffers.

use mm_core::memtype::MemoryType;

/// Uncacheable (UC) attribute (FreeBSD `sys/sys/memrange.h`).
pub const MDF_UNCACHEABLE: i32 = 1 << 0;
/// Write-combining (WC) attribute (FreeBSD `sys/sys/memrange.h`).
pub const MDF_WRITECOMBINE: i32 = 1 << 1;
/// Write-through (WT) attribute (FreeBSD `sys/sys/memrange.h`).
pub const MDF_WRITETHROUGH: i32 = 1 << 2;
/// Write-back (WB) attribute (FreeBSD `sys/sys/memrange.h`).
pub const MDF_WRITEBACK: i32 = 1 << 3;
/// Write-protect (WP) attribute (FreeBSD `sys/sys/memrange.h`).
pub const MDF_WRITEPROTECT: i32 = 1 << 4;
/// Unknown attribute: a type byte the model cannot name (FreeBSD `sys/sys/memrange.h`).
pub const MDF_UNKNOWN: i32 = 1 << 5;
/// The attribute bits of `mr_flags` (FreeBSD `sys/sys/memrange.h`).
pub const MDF_ATTRMASK: i32 = 0x00ff_ffff;
/// The base cannot be changed: a fixed-range slot (FreeBSD `sys/sys/memrange.h`).
pub const MDF_FIXBASE: i32 = 1 << 24;
/// The length cannot be changed: a fixed-range slot (FreeBSD `sys/sys/memrange.h`).
pub const MDF_FIXLEN: i32 = 1 << 25;
/// Set by the firmware before the kernel first read the MTRRs (FreeBSD `sys/sys/memrange.h`).
pub const MDF_FIRMWARE: i32 = 1 << 26;
/// The descriptor is in effect (FreeBSD `sys/sys/memrange.h`).
pub const MDF_ACTIVE: i32 = 1 << 27;
/// The hardware holds a range the descriptor cannot express exactly (FreeBSD `sys/sys/memrange.h`).
pub const MDF_BOGUS: i32 = 1 << 28;
/// Always active, cannot be removed: a fixed-range slot (FreeBSD `sys/sys/memrange.h`).
pub const MDF_FIXACTIVE: i32 = 1 << 29;
/// Claimed by a driver; never set by this model's SET path (FreeBSD `sys/sys/memrange.h`).
pub const MDF_BUSY: i32 = 1 << 30;
/// Override the UNKNOWN-attribute safety check (FreeBSD `sys/sys/memrange.h`); a negative `int`.
pub const MDF_FORCE: i32 = i32::MIN;

/// `mo_arg[0]` of MEMRANGE_SET: add or change a range (FreeBSD `sys/sys/memrange.h`).
pub const MEMRANGE_SET_UPDATE: i32 = 0;
/// `mo_arg[0]` of MEMRANGE_SET: remove a range (FreeBSD `sys/sys/memrange.h`).
pub const MEMRANGE_SET_REMOVE: i32 = 1;

/// BSD `IOC_OUT`: the kernel copies the argument out (FreeBSD `sys/sys/ioccom.h`).
pub const IOC_OUT: u32 = 0x4000_0000;
/// BSD `IOC_IN`: the kernel copies the argument in (FreeBSD `sys/sys/ioccom.h`).
pub const IOC_IN: u32 = 0x8000_0000;
/// BSD `IOC_INOUT` (FreeBSD `sys/sys/ioccom.h`).
pub const IOC_INOUT: u32 = IOC_IN | IOC_OUT;
/// BSD `IOCPARM_MASK`: the 13 bits of the argument length (FreeBSD `sys/sys/ioccom.h`).
pub const IOCPARM_MASK: u32 = 0x1fff;

/// BSD `_IOC(inout, group, num, len)` (FreeBSD `sys/sys/ioccom.h`).
pub const fn bsd_ioc(inout: u32, group: u8, num: u8, len: usize) -> u32 {
    inout | (((len as u32) & IOCPARM_MASK) << 16) | ((group as u32) << 8) | num as u32
}

/// `_IOWR('m', 50, struct mem_range_op)` (FreeBSD `sys/sys/memrange.h`).
pub const MEMRANGE_GET: u32 = 0xC010_6D32;
/// `_IOW('m', 51, struct mem_range_op)` in BSD encoding (FreeBSD `sys/sys/memrange.h`).
pub const MEMRANGE_SET: u32 = 0x8010_6D33;
const _: () = assert!(MEMRANGE_GET == bsd_ioc(IOC_INOUT, b'm', 50, size_of::<MemRangeOp>()));
const _: () = assert!(MEMRANGE_SET == bsd_ioc(IOC_IN, b'm', 51, size_of::<MemRangeOp>()));

/// `struct mem_range_desc`: one range and its attributes (FreeBSD `sys/sys/memrange.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MemRangeDesc {
    /// Physical base address.
    pub mr_base: u64,
    /// Length in bytes.
    pub mr_len: u64,
    /// `MDF_*` attribute and control bits.
    pub mr_flags: i32,
    /// Owner name, NUL-padded (at most 7 characters once SET forces `mr_owner[7] = 0`).
    pub mr_owner: [u8; 8],
}

/// `sizeof(struct mem_range_desc)` on amd64 (FreeBSD `sys/sys/memrange.h`).
pub const MEM_RANGE_DESC_SIZE: usize = 32;
const _: () = assert!(size_of::<MemRangeDesc>() == MEM_RANGE_DESC_SIZE);
const _: () = assert!(core::mem::offset_of!(MemRangeDesc, mr_base) == 0);
const _: () = assert!(core::mem::offset_of!(MemRangeDesc, mr_len) == 8);
const _: () = assert!(core::mem::offset_of!(MemRangeDesc, mr_flags) == 16);
const _: () = assert!(core::mem::offset_of!(MemRangeDesc, mr_owner) == 20);
const _: () = assert!(align_of::<MemRangeDesc>() == 8);

impl MemRangeDesc {
    /// A descriptor with `owner` truncated to 7 bytes (FreeBSD `usr.sbin/memcontrol/memcontrol.c`).
    pub fn new(base: u64, len: u64, flags: i32, owner: &str) -> Self {
        MemRangeDesc { mr_base: base, mr_len: len, mr_flags: flags, mr_owner: owner_bytes(owner) }
    }

    /// The 32 bytes a C program sees, padding zeroed (FreeBSD `sys/sys/memrange.h` layout).
    pub fn to_bytes(&self) -> [u8; MEM_RANGE_DESC_SIZE] {
        let mut out = [0u8; MEM_RANGE_DESC_SIZE];
        out[0..8].copy_from_slice(&self.mr_base.to_le_bytes());
        out[8..16].copy_from_slice(&self.mr_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.mr_flags.to_le_bytes());
        out[20..28].copy_from_slice(&self.mr_owner);
        out
    }

    /// Reads the 32 bytes a C program wrote; the padding is ignored (FreeBSD `sys/sys/memrange.h`).
    pub fn from_bytes(bytes: &[u8; MEM_RANGE_DESC_SIZE]) -> Self {
        let mut owner = [0u8; 8];
        owner.copy_from_slice(&bytes[20..28]);
        MemRangeDesc {
            mr_base: u64::from_le_bytes(le8(bytes, 0)),
            mr_len: u64::from_le_bytes(le8(bytes, 8)),
            mr_flags: i32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]),
            mr_owner: owner,
        }
    }

    /// The owner as text (FreeBSD `usr.sbin/memcontrol/memcontrol.c` prints it with `%.8s`).
    pub fn owner(&self) -> &str {
        owner_str(&self.mr_owner)
    }

    /// The single memory type of `mr_flags`, if it names exactly one (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mtrrtype`).
    pub fn memory_type(&self) -> Option<MemoryType> {
        memtype_of_flags(self.mr_flags)
    }
}

/// `struct mem_range_op`: the MEMRANGE_GET/SET argument (FreeBSD `sys/sys/memrange.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MemRangeOp {
    /// User address of the descriptor array (GET) or of one descriptor (SET).
    pub mo_desc: u64,
    /// GET: in, array capacity; out, count. SET: the operation (`MEMRANGE_SET_*`).
    pub mo_arg: [i32; 2],
}

/// `sizeof(struct mem_range_op)` on amd64 (FreeBSD `sys/sys/memrange.h`).
pub const MEM_RANGE_OP_SIZE: usize = 16;
const _: () = assert!(size_of::<MemRangeOp>() == MEM_RANGE_OP_SIZE);
const _: () = assert!(core::mem::offset_of!(MemRangeOp, mo_desc) == 0);
const _: () = assert!(core::mem::offset_of!(MemRangeOp, mo_arg) == 8);

impl MemRangeOp {
    /// The 16 bytes a C program sees (FreeBSD `sys/sys/memrange.h` layout).
    pub fn to_bytes(&self) -> [u8; MEM_RANGE_OP_SIZE] {
        let mut out = [0u8; MEM_RANGE_OP_SIZE];
        out[0..8].copy_from_slice(&self.mo_desc.to_le_bytes());
        out[8..12].copy_from_slice(&self.mo_arg[0].to_le_bytes());
        out[12..16].copy_from_slice(&self.mo_arg[1].to_le_bytes());
        out
    }

    /// Reads the 16 bytes a C program wrote (FreeBSD `sys/sys/memrange.h` layout).
    pub fn from_bytes(bytes: &[u8; MEM_RANGE_OP_SIZE]) -> Self {
        MemRangeOp {
            mo_desc: u64::from_le_bytes(le8(bytes, 0)),
            mo_arg: [
                i32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]),
                i32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]),
            ],
        }
    }
}

fn le8(bytes: &[u8], at: usize) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&bytes[at..at + 8]);
    out
}

/// The owner up to its first NUL, at most 8 bytes, cut at the first non-UTF-8 byte (FreeBSD `memcontrol.c` `%.8s`).
pub fn owner_str(owner: &[u8; 8]) -> &str {
    let end = owner.iter().position(|&b| b == 0).unwrap_or(owner.len());
    let bytes = &owner[..end];
    match core::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => core::str::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or(""),
    }
}

/// An owner field from text: at most 7 bytes, NUL-padded (FreeBSD `memcontrol.c` `strncpy(owner, 7)`).
pub fn owner_bytes(owner: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (slot, byte) in out.iter_mut().zip(owner.bytes().take(7)) {
        *slot = byte;
    }
    out
}

/// The attribute flag of an MTRR type; UC- has none (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mtrrtomrt`).
pub const fn flag_of_memtype(memtype: MemoryType) -> Option<i32> {
    match memtype {
        MemoryType::Uncacheable => Some(MDF_UNCACHEABLE),
        MemoryType::WriteCombining => Some(MDF_WRITECOMBINE),
        MemoryType::WriteThrough => Some(MDF_WRITETHROUGH),
        MemoryType::WriteProtect => Some(MDF_WRITEPROTECT),
        MemoryType::WriteBack => Some(MDF_WRITEBACK),
        MemoryType::UncachedMinus => None,
    }
}

/// The type whose flag `flags & MDF_ATTRMASK` equals exactly (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mtrrtype`).
pub const fn memtype_of_flags(flags: i32) -> Option<MemoryType> {
    match flags & MDF_ATTRMASK {
        MDF_UNCACHEABLE => Some(MemoryType::Uncacheable),
        MDF_WRITECOMBINE => Some(MemoryType::WriteCombining),
        MDF_WRITETHROUGH => Some(MemoryType::WriteThrough),
        MDF_WRITEPROTECT => Some(MemoryType::WriteProtect),
        MDF_WRITEBACK => Some(MemoryType::WriteBack),
        _ => None,
    }
}

/// The attribute flag of an MTRR type byte, MDF_UNKNOWN for 2, 3 and 7-255 (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mtrr2mrt`).
pub const fn flag_of_mtrr_byte(byte: u8) -> i32 {
    match MemoryType::from_mtrr_encoding(byte) {
        Some(memtype) => match flag_of_memtype(memtype) {
            Some(flag) => flag,
            None => MDF_UNKNOWN,
        },
        None => MDF_UNKNOWN,
    }
}

/// The MTRR type byte of `flags`, or `old` when they name no single type (FreeBSD `sys/x86/x86/x86_mem.c` `x86_mrt2mtrr`).
pub const fn mtrr_byte_of_flags(flags: i32, old: u8) -> u8 {
    match memtype_of_flags(flags) {
        Some(memtype) => memtype.encoding(),
        None => old,
    }
}

/// memcontrol's names of the flag bits, in its listing order (FreeBSD `usr.sbin/memcontrol/memcontrol.c`),
/// plus `busy`, which FreeBSD never sets and so never names: this kernel manages it.
pub const FLAG_NAMES: [(i32, &str); 13] = [
    (MDF_UNCACHEABLE, "uncacheable"),
    (MDF_WRITECOMBINE, "write-combine"),
    (MDF_WRITETHROUGH, "write-through"),
    (MDF_WRITEBACK, "write-back"),
    (MDF_WRITEPROTECT, "write-protect"),
    (MDF_FORCE, "force"),
    (MDF_UNKNOWN, "unknown"),
    (MDF_FIXBASE, "fixed-base"),
    (MDF_FIXLEN, "fixed-length"),
    (MDF_FIRMWARE, "set-by-firmware"),
    (MDF_ACTIVE, "active"),
    (MDF_BOGUS, "bogus"),
    (MDF_BUSY, "busy"),
];
