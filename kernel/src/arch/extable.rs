//! Memory accesses that may fault, and the exception table that makes them safe.
//!
//! The technique of Linux's `copy_from_kernel_nofault` and `_ASM_EXTABLE`: each access
//! that may fault is one known instruction; the page-fault and general-protection
//! handlers look the faulting RIP up in [`EXCEPTION_TABLE`] and, on a match, resume at
//! the entry's fixup code, which returns an error instead of crashing the kernel.

use x86_64::VirtAddr;
use x86_64::structures::idt::InterruptStackFrame;

core::arch::global_asm!(
    r#"
    .pushsection .text.devmem_nofault, "ax"

    // usize devmem_nofault_copy(dst: *mut u8, src: *const u8, len: usize)
    // Memory (never device registers): 8 bytes at a time, then the last 0-7 bytes.
    // Returns the number of bytes NOT copied: 0 on success.
    .global devmem_nofault_copy
devmem_nofault_copy:
    mov rcx, rdx
    shr rcx, 3
    .global devmem_nofault_copy_insn
devmem_nofault_copy_insn:
    rep movsq
    mov rcx, rdx
    and rcx, 7
    .global devmem_nofault_copy_tail_insn
devmem_nofault_copy_tail_insn:
    rep movsb
    xor eax, eax
    ret
    .global devmem_nofault_copy_fixup
devmem_nofault_copy_fixup:
    // A fault stopped `rep movsq` at a word that straddles or starts the bad page, with
    // RCX = words left: go on byte by byte from there (8 * RCX + tail bytes), so the
    // count reported is exact.
    shl rcx, 3
    and rdx, 7
    add rcx, rdx
    jmp devmem_nofault_copy_tail_insn
    .global devmem_nofault_copy_tail_fixup
devmem_nofault_copy_tail_fixup:
    // A fault stopped `rep movsb` with RCX = bytes left.
    mov rax, rcx
    ret

    // usize devmem_nofault_copy_qwords(dst: *mut u64, src: *const u64, qwords: usize)
    // 8-byte loads and stores in order (rep movsq): device memory sees only naturally
    // aligned 8-byte accesses. Returns the number of qwords NOT copied.
    .global devmem_nofault_copy_qwords
devmem_nofault_copy_qwords:
    mov rcx, rdx
    .global devmem_nofault_copy_qwords_insn
devmem_nofault_copy_qwords_insn:
    rep movsq
    xor eax, eax
    ret
    .global devmem_nofault_copy_qwords_fixup
devmem_nofault_copy_qwords_fixup:
    mov rax, rcx
    ret

    // Single accesses of one width, for device registers: u64 fn(address, value/out)
    // returns 0 on success, 1 after a fault.
    .macro nofault_read name, reg, size
    .global devmem_nofault_\name
devmem_nofault_\name:
    .global devmem_nofault_\name\()_insn
devmem_nofault_\name\()_insn:
    mov \reg, \size ptr [rdi]
    mov \size ptr [rsi], \reg
    xor eax, eax
    ret
    .global devmem_nofault_\name\()_fixup
devmem_nofault_\name\()_fixup:
    mov eax, 1
    ret
    .endm

    .macro nofault_write name, reg, size
    .global devmem_nofault_\name
devmem_nofault_\name:
    .global devmem_nofault_\name\()_insn
devmem_nofault_\name\()_insn:
    mov \size ptr [rdi], \reg
    xor eax, eax
    ret
    .global devmem_nofault_\name\()_fixup
devmem_nofault_\name\()_fixup:
    mov eax, 1
    ret
    .endm

    // u64 devmem_rdmsr_safe(index: u32, out: *mut u64): 0, or 1 after a #GP (an MSR
    // this CPU does not have).
    .global devmem_rdmsr_safe
devmem_rdmsr_safe:
    mov ecx, edi
    .global devmem_rdmsr_safe_insn
devmem_rdmsr_safe_insn:
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov qword ptr [rsi], rax
    xor eax, eax
    ret
    .global devmem_rdmsr_safe_fixup
devmem_rdmsr_safe_fixup:
    mov eax, 1
    ret

    // u64 devmem_wrmsr_safe(index: u32, value: u64): 0, or 1 after a #GP (no such MSR,
    // or a value it refuses).
    .global devmem_wrmsr_safe
devmem_wrmsr_safe:
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
    .global devmem_wrmsr_safe_insn
devmem_wrmsr_safe_insn:
    wrmsr
    xor eax, eax
    ret
    .global devmem_wrmsr_safe_fixup
devmem_wrmsr_safe_fixup:
    mov eax, 1
    ret

    nofault_read read8, cl, byte
    nofault_read read16, cx, word
    nofault_read read32, ecx, dword
    nofault_read read64, rcx, qword
    nofault_write write8, sil, byte
    nofault_write write16, si, word
    nofault_write write32, esi, dword
    nofault_write write64, rsi, qword

    .popsection
    "#
);

unsafe extern "C" {
    fn devmem_nofault_copy(dst: *mut u8, src: *const u8, len: usize) -> usize;
    fn devmem_nofault_copy_insn();
    fn devmem_nofault_copy_fixup();
    fn devmem_nofault_copy_tail_insn();
    fn devmem_nofault_copy_tail_fixup();
    fn devmem_nofault_copy_qwords(dst: *mut u64, src: *const u64, qwords: usize) -> usize;
    fn devmem_nofault_copy_qwords_insn();
    fn devmem_nofault_copy_qwords_fixup();
    fn devmem_rdmsr_safe(index: u32, out: *mut u64) -> u64;
    fn devmem_rdmsr_safe_insn();
    fn devmem_rdmsr_safe_fixup();
    fn devmem_wrmsr_safe(index: u32, value: u64) -> u64;
    fn devmem_wrmsr_safe_insn();
    fn devmem_wrmsr_safe_fixup();
}

/// Reads MSR `index` on this CPU; `None` if the CPU raises #GP (no such MSR), which the
/// exception table turns into a return. Reading an MSR changes nothing.
pub fn read_msr(index: u32) -> Option<u64> {
    let mut value = 0u64;
    // SAFETY: RDMSR only reads; a #GP is caught by the exception table (the #GP handler
    // consults it); `value` is a local the routine writes once.
    let failed = unsafe { devmem_rdmsr_safe(index, &raw mut value) };
    (failed == 0).then_some(value)
}

/// Writes `value` to MSR `index` on this CPU; false if the CPU raises #GP.
///
/// # Safety
///
/// An MSR write can change how the CPU runs the kernel (paging, system calls, memory
/// types): the caller must have a reason this write is wanted and allowed (a uid-0
/// request for an MSR the kernel does not keep alike on every CPU).
pub unsafe fn write_msr(index: u32, value: u64) -> bool {
    // SAFETY: the caller vouches for the write; a #GP is caught by the exception table.
    unsafe { devmem_wrmsr_safe(index, value) == 0 }
}

/// Declares the routines of one width and the safe-to-call wrappers around them.
macro_rules! width_accessors {
    ($($ty:ty: $read:ident, $read_insn:ident, $read_fixup:ident, $write:ident, $write_insn:ident, $write_fixup:ident;)*) => {
        unsafe extern "C" {
            $(
                fn $read(address: *const $ty, out: *mut $ty) -> u64;
                fn $read_insn();
                fn $read_fixup();
                fn $write(address: *mut $ty, value: $ty) -> u64;
                fn $write_insn();
                fn $write_fixup();
            )*
        }

        static WIDTH_ENTRIES: [Entry; 8] = [
            $(
                Entry { instruction: $read_insn, fixup: $read_fixup },
                Entry { instruction: $write_insn, fixup: $write_fixup },
            )*
        ];
    };
}

width_accessors! {
    u8: devmem_nofault_read8, devmem_nofault_read8_insn, devmem_nofault_read8_fixup,
        devmem_nofault_write8, devmem_nofault_write8_insn, devmem_nofault_write8_fixup;
    u16: devmem_nofault_read16, devmem_nofault_read16_insn, devmem_nofault_read16_fixup,
        devmem_nofault_write16, devmem_nofault_write16_insn, devmem_nofault_write16_fixup;
    u32: devmem_nofault_read32, devmem_nofault_read32_insn, devmem_nofault_read32_fixup,
        devmem_nofault_write32, devmem_nofault_write32_insn, devmem_nofault_write32_fixup;
    u64: devmem_nofault_read64, devmem_nofault_read64_insn, devmem_nofault_read64_fixup,
        devmem_nofault_write64, devmem_nofault_write64_insn, devmem_nofault_write64_fixup;
}

/// An access of one size, for [`read_nofault`] and [`write_nofault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    U8,
    U16,
    U32,
    U64,
}

impl Width {
    /// The width of an access of `bytes` bytes (1, 2, 4 or 8).
    pub const fn from_bytes(bytes: usize) -> Option<Self> {
        match bytes {
            1 => Some(Self::U8),
            2 => Some(Self::U16),
            4 => Some(Self::U32),
            8 => Some(Self::U64),
            _ => None,
        }
    }

    pub const fn bytes(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::U16 => 2,
            Self::U32 => 4,
            Self::U64 => 8,
        }
    }
}

/// Reads `width` bytes at `address` with one instruction of that width (what a device
/// register needs), little-endian into the low bytes of the result. `None` on a fault.
///
/// # Safety
///
/// `address` must be aligned to `width`. Where it is mapped, reading it must not
/// break Rust's aliasing rules (no `&mut` to it is live); reading device registers can
/// have side effects, which the caller takes on.
pub unsafe fn read_nofault(address: u64, width: Width) -> Option<u64> {
    let mut value = 0u64;
    let out = (&raw mut value).cast::<u8>();
    super::cpu::user_access_begin();
    // SAFETY: the routine reads one aligned value of the given width (the caller vouches
    // for it) and writes it to `value`, whose storage is at least that wide; on
    // little-endian x86 the low bytes come first.
    let failed = unsafe {
        match width {
            Width::U8 => devmem_nofault_read8(address as *const u8, out),
            Width::U16 => devmem_nofault_read16(address as *const u16, out.cast()),
            Width::U32 => devmem_nofault_read32(address as *const u32, out.cast()),
            Width::U64 => devmem_nofault_read64(address as *const u64, out.cast()),
        }
    };
    super::cpu::user_access_end();
    (failed == 0).then_some(value)
}

/// Writes the low `width` bytes of `value` at `address` with one instruction of that
/// width. `false` on a fault.
///
/// # Safety
///
/// `address` must be aligned to `width` and, where mapped, writable memory that no live
/// Rust reference covers (or a device register whose side effects the caller wants).
pub unsafe fn write_nofault(address: u64, width: Width, value: u64) -> bool {
    super::cpu::user_access_begin();
    // SAFETY: one aligned store of the given width, which the caller vouches for.
    let failed = unsafe {
        match width {
            Width::U8 => devmem_nofault_write8(address as *mut u8, value as u8),
            Width::U16 => devmem_nofault_write16(address as *mut u16, value as u16),
            Width::U32 => devmem_nofault_write32(address as *mut u32, value as u32),
            Width::U64 => devmem_nofault_write64(address as *mut u64, value),
        }
    };
    super::cpu::user_access_end();
    failed == 0
}

/// One entry: a faulting instruction's address and where to resume.
struct Entry {
    instruction: unsafe extern "C" fn(),
    fixup: unsafe extern "C" fn(),
}

static EXCEPTION_TABLE: [Entry; 5] = [
    Entry { instruction: devmem_nofault_copy_insn, fixup: devmem_nofault_copy_fixup },
    Entry { instruction: devmem_nofault_copy_tail_insn, fixup: devmem_nofault_copy_tail_fixup },
    Entry { instruction: devmem_nofault_copy_qwords_insn, fixup: devmem_nofault_copy_qwords_fixup },
    Entry { instruction: devmem_rdmsr_safe_insn, fixup: devmem_rdmsr_safe_fixup },
    Entry { instruction: devmem_wrmsr_safe_insn, fixup: devmem_wrmsr_safe_fixup },
];

/// Called by the #PF and #GP handlers: if the fault happened at an instruction of the
/// table, moves the return address to its fixup and returns true.
pub(super) fn fixup(frame: &mut InterruptStackFrame) -> bool {
    let rip = frame.instruction_pointer.as_u64();
    let Some(entry) =
        EXCEPTION_TABLE.iter().chain(WIDTH_ENTRIES.iter()).find(|e| e.instruction as usize as u64 == rip)
    else {
        return false;
    };
    let resume = VirtAddr::new(entry.fixup as usize as u64);
    // SAFETY: the fixup code belongs to the same routine as the faulting instruction and
    // expects exactly the register state at the fault; changing only RIP is what the
    // table is for.
    unsafe { frame.as_mut().update(|value| value.instruction_pointer = resume) };
    true
}

/// Copies `len` bytes from `src` to `dst`, either of which may be unmapped or
/// non-canonical. Returns how many bytes were copied before a fault (`len` if none).
///
/// # Safety
///
/// Where they are mapped, the ranges must be valid to read (`src`) and write (`dst`)
/// without breaking Rust's aliasing rules: no live reference may cover `dst`. A fault
/// is not undefined behaviour here; it is what the routine handles.
pub unsafe fn copy_nofault(dst: *mut u8, src: *const u8, len: usize) -> usize {
    // The only place the kernel touches user memory, with copy_qwords and the single
    // accesses: under SMAP, between STAC and CLAC.
    super::cpu::user_access_begin();
    // SAFETY: the routine touches only [src, src+len) and [dst, dst+len), which the
    // caller vouches for where mapped; faults go through the exception table.
    let left = unsafe { devmem_nofault_copy(dst, src, len) };
    super::cpu::user_access_end();
    len - left
}

/// Copies `qwords` 8-byte words from `src` to `dst`, one aligned 8-byte load and store
/// each, in order: what device memory needs for the middle of a transfer. Returns how
/// many words were copied before a fault.
///
/// # Safety
///
/// Both addresses must be 8-byte aligned; where mapped, the ranges must be valid to read
/// and write as for [`copy_nofault`].
pub unsafe fn copy_qwords_nofault(dst: *mut u64, src: *const u64, qwords: usize) -> usize {
    super::cpu::user_access_begin();
    // SAFETY: as `copy_nofault`, with 8-byte units; the caller guarantees alignment.
    let left = unsafe { devmem_nofault_copy_qwords(dst, src, qwords) };
    super::cpu::user_access_end();
    qwords - left
}
