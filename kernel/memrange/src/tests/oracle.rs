//! An independent oracle: the MTRR type of an address computed from the descriptor list alone,
//! by interval containment, as simply as possible (spec part D rules).

use std::vec::Vec;

use crate::layout::*;
use mm_core::memtype::MemoryType::{self, *};

/// The state the descriptors do not carry.
pub(crate) struct Globals {
    pub enabled: bool,
    pub fixed_in_use: bool,
    pub default_type: u8,
}

fn covers(d: &MemRangeDesc, addr: u64) -> bool {
    d.mr_base <= addr && addr - d.mr_base < d.mr_len
}

/// The type of `addr` according to `descs`; `None` for undefined.
pub(crate) fn oracle_type(descs: &[MemRangeDesc], globals: &Globals, addr: u64) -> Option<MemoryType> {
    if !globals.enabled {
        return Some(Uncacheable);
    }
    if globals.fixed_in_use && addr < 0x10_0000 {
        let fixed = descs.iter().find(|d| d.mr_flags & MDF_FIXACTIVE != 0 && covers(d, addr));
        return memtype_of_flags(fixed.expect("the fixed slots tile the first MiB").mr_flags);
    }
    let mut types = Vec::new();
    for d in descs {
        if d.mr_flags & MDF_ACTIVE != 0 && d.mr_flags & MDF_FIXACTIVE == 0 && covers(d, addr) {
            types.push(memtype_of_flags(d.mr_flags)?);
        }
    }
    if types.is_empty() {
        return MemoryType::from_mtrr_encoding(globals.default_type);
    }
    if types.contains(&Uncacheable) {
        return Some(Uncacheable);
    }
    if types.iter().all(|&t| t == types[0]) {
        return Some(types[0]);
    }
    if types.iter().all(|&t| t == WriteThrough || t == WriteBack) {
        return Some(WriteThrough);
    }
    None
}
