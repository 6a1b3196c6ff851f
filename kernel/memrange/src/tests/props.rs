//! Property tests: SET sequences against the oracle, register round trips, all-or-nothing
//! failures, and no panic on any input.

use std::string::String;
use std::vec::Vec;

use proptest::prelude::*;

use super::oracle::{Globals, oracle_type};
use super::*;
use crate::precedence::mtrr_type_at;
use crate::procfs::*;
use crate::regs::*;
use mm_core::memtype::{ALL_MEMORY_TYPES, MemoryType};

const ATTRS: [i32; 5] =
    [MDF_UNCACHEABLE, MDF_WRITECOMBINE, MDF_WRITETHROUGH, MDF_WRITEPROTECT, MDF_WRITEBACK];
/// Type bytes a firmware might leave: the five valid ones, weighted, and three invalid ones.
const BYTES: [u8; 12] = [0, 1, 4, 5, 6, 6, 6, 0, 0, 2, 3, 7];

fn arb_regs() -> impl Strategy<Value = MtrrRegisters> {
    (any::<u64>(), any::<u64>(), any::<[u64; 11]>(), prop::array::uniform16((any::<u64>(), any::<u64>())))
        .prop_map(|(cap, def_type, fixed, variable)| MtrrRegisters { cap, def_type, fixed, variable })
}

/// Enabled MTRRs with valid (never BOGUS) variable ranges; type bytes may be invalid.
fn firmware_regs() -> impl Strategy<Value = (MtrrRegisters, u32)> {
    let var = (12u32..48, any::<u64>(), any::<u8>(), prop::bool::weighted(0.6));
    (36u32..=48, 1u64..=16, any::<bool>(), any::<u8>(), any::<[u64; 11]>(), prop::collection::vec(var, 0..4))
        .prop_map(|(bits, vcnt, fe, default, fixed_raw, vars)| {
            let mut regs = MtrrRegisters {
                cap: 0x500 | vcnt,
                def_type: DEF_E | if fe { DEF_FE } else { 0 } | u64::from(BYTES[default as usize % 5]),
                ..MtrrRegisters::default()
            };
            for (msr, raw) in regs.fixed.iter_mut().zip(fixed_raw) {
                *msr =
                    (0..8).map(|i| u64::from(BYTES[(raw >> (8 * i)) as u8 as usize % 12]) << (8 * i)).sum();
            }
            for (slot, (len_log, k, t, active)) in regs.variable.iter_mut().zip(vars) {
                let len_log = 12 + len_log % (bits - 11);
                let base = (k % (1 << (bits - len_log))) << len_log;
                let (physbase, physmask) = encode_variable(base, 1 << len_log, BYTES[t as usize % 12], bits);
                *slot = (physbase, if active { physmask } else { physmask & !PHYSMASK_V });
            }
            (regs, bits)
        })
}

#[derive(Clone, Debug)]
struct OpSpec {
    kind: u8,
    len_log: u32,
    k: u64,
    attr: u8,
    force: bool,
    owner: u8,
    raw: (u64, u64, i32, i32),
}

fn op_spec() -> impl Strategy<Value = OpSpec> {
    (
        0u8..12,
        0u32..64,
        any::<u64>(),
        any::<u8>(),
        prop::bool::weighted(0.2),
        any::<u8>(),
        any::<(u64, u64, i32, i32)>(),
    )
        .prop_map(|(kind, len_log, k, attr, force, owner, raw)| OpSpec {
            kind,
            len_log,
            k,
            attr,
            force,
            owner,
            raw,
        })
}

/// The descriptor and op a spec means in the current state.
fn interpret(spec: &OpSpec, m: &MemRanges, bits: u32) -> (MemRangeDesc, i32) {
    let mut flags =
        if spec.attr >= 240 { i32::from(spec.attr) & 0x3f } else { ATTRS[spec.attr as usize % 5] };
    if spec.force {
        flags |= MDF_FORCE;
    }
    let owner = ["", "user", "x", "mtrr"][spec.owner as usize % 4];
    let (base, len, op) = match spec.kind {
        0..=3 => {
            // Clustered ranges, sometimes longer than 2^MAXPHYADDR or above it.
            let len = 1u64 << (12 + spec.len_log % (bits - 9));
            ((spec.k % 64) * len, len, MEMRANGE_SET_UPDATE)
        }
        4 | 5 => {
            let len = 1u64 << (12 + spec.len_log % 9);
            ((spec.k % (0x10_0000 / len)) * len, len, MEMRANGE_SET_UPDATE)
        }
        6 => (spec.raw.0, spec.raw.1, MEMRANGE_SET_UPDATE),
        7 | 8 => {
            let d = m.descriptors()[spec.k as usize % m.len()];
            (d.mr_base, d.mr_len, MEMRANGE_SET_REMOVE)
        }
        9 => (spec.raw.0 & !0xfff, 1 << (12 + spec.len_log % 30), MEMRANGE_SET_REMOVE),
        10 => (spec.raw.0, spec.raw.1, spec.raw.3),
        _ => {
            // Exactly an existing range, to reach takeovers, EACCES and FORCE.
            let d = m.descriptors()[spec.k as usize % m.len()];
            (d.mr_base, d.mr_len, MEMRANGE_SET_UPDATE)
        }
    };
    let flags = if spec.kind == 6 { spec.raw.2 } else { flags };
    (desc(base, len, flags, owner), op)
}

fn bytes_of(m: &MemRanges) -> Vec<[u8; 32]> {
    m.descriptors().iter().map(MemRangeDesc::to_bytes).collect()
}

fn sample_addresses(m: &MemRanges, bits: u32, samples: &[u64]) -> Vec<u64> {
    let limit = 1u64 << bits;
    let mut addrs: Vec<u64> = samples
        .iter()
        .map(|&a| match a % 3 {
            0 => a % limit,
            1 => (a >> 2) % (1 << 33),
            _ => (a >> 2) % 0x20_0000,
        })
        .collect();
    for d in m.descriptors().iter().filter(|d| d.mr_flags & MDF_ACTIVE != 0) {
        let end = d.mr_base.wrapping_add(d.mr_len);
        addrs.extend(
            [d.mr_base, d.mr_base.wrapping_sub(1), end.wrapping_sub(1), end]
                .into_iter()
                .filter(|&a| a < limit),
        );
    }
    addrs
}

/// What a successful SET must have done, judged from the descriptors before and after.
fn check_request_took_effect(
    before: &MemRanges,
    after: &MemRanges,
    d: &MemRangeDesc,
    op: i32,
    bits: u32,
) -> Result<(), TestCaseError> {
    let attr = d.mr_flags & MDF_ATTRMASK;
    let owner = if d.mr_owner[0] == 0 { "BIOS" } else { d.owner() };
    if op == MEMRANGE_SET_REMOVE {
        let index = before.descriptors().iter().position(|x| (x.mr_base, x.mr_len) == (d.mr_base, d.mr_len));
        let index = index.expect("REMOVE succeeded, so something matched");
        prop_assert!(index >= before.fixed_count());
        prop_assert_eq!(after.descriptors()[index].mr_flags & MDF_ACTIVE, 0);
    } else if before.fixed_count() != 0 && d.mr_base.wrapping_add(d.mr_len) <= 0x10_0000 {
        for x in &after.descriptors()[..88] {
            if x.mr_base < d.mr_base + d.mr_len && d.mr_base < x.mr_base + x.mr_len {
                prop_assert_eq!((x.mr_flags & MDF_ATTRMASK, x.owner()), (attr, owner));
                prop_assert_eq!(x.mr_flags & MDF_FIRMWARE, 0);
            }
        }
    } else {
        let (base, len) = (d.mr_base & phys_mask(bits), d.mr_len.min(1 << bits));
        let found = after.descriptors()[after.fixed_count()..]
            .iter()
            .any(|x| (x.mr_base, x.mr_len, x.mr_flags, x.owner()) == (base, len, MDF_ACTIVE | attr, owner));
        prop_assert!(found, "no slot holds {:?}", d);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn set_sequences_match_the_oracle_page_by_page(
        (mut regs, bits) in firmware_regs(),
        ops in prop::collection::vec(op_spec(), 1..24),
        samples in prop::collection::vec(any::<u64>(), 32),
    ) {
        let mut m = MemRanges::from_registers(&regs, bits).unwrap();
        let globals = Globals {
            enabled: regs.enabled(),
            fixed_in_use: m.fixed_count() == 88,
            default_type: regs.default_type(),
        };
        for spec in &ops {
            let (d, op) = interpret(spec, &m, bits);
            let (before, before_bytes) = (m.clone(), bytes_of(&m));
            match m.apply(&d, op, &regs) {
                Ok(new) => {
                    prop_assert_eq!((new.cap, new.def_type), (regs.cap, regs.def_type));
                    regs = new;
                    check_request_took_effect(&before, &m, &d, op, bits)?;
                }
                Err(_) => {
                    prop_assert_eq!(&bytes_of(&m), &before_bytes, "failed {:?} op {} changed bytes", d, op);
                    prop_assert_eq!(&m, &before);
                }
            }
            for d in m.descriptors() {
                prop_assert_eq!(d.mr_flags & MDF_BOGUS, 0, "valid requests never read back BOGUS");
            }
            for addr in sample_addresses(&m, bits, &samples) {
                let expected = oracle_type(m.descriptors(), &globals, addr);
                prop_assert_eq!(mtrr_type_at(&regs, bits, addr), expected, "addr {:#x}", addr);
            }
        }
    }

    #[test]
    fn failed_sets_leave_the_model_unchanged(
        (regs, bits) in firmware_regs(),
        raw in any::<(u64, u64, i32, [u8; 8])>(),
        op in prop_oneof![Just(0i32), Just(1), any::<i32>()],
    ) {
        let mut m = MemRanges::from_registers(&regs, bits).unwrap();
        let d = MemRangeDesc { mr_base: raw.0 & !0xfff, mr_len: raw.1, mr_flags: raw.2, mr_owner: raw.3 };
        for d in [d, MemRangeDesc { mr_base: raw.0, ..d }, MemRangeDesc { mr_len: 1 << (raw.1 % 64), ..d }] {
            let (before, before_bytes) = (m.clone(), bytes_of(&m));
            match m.set(&d, op) {
                Err(_) => {
                    prop_assert_eq!(bytes_of(&m), before_bytes);
                    prop_assert_eq!(&m, &before);
                }
                Ok(()) => {
                    prop_assert_eq!(m.len(), before.len());
                    let fixed = m.fixed_count();
                    for (a, b) in m.descriptors()[..fixed].iter().zip(before.descriptors()) {
                        prop_assert_eq!((a.mr_base, a.mr_len), (b.mr_base, b.mr_len));
                        prop_assert_ne!(a.mr_flags & MDF_ACTIVE, 0);
                    }
                }
            }
        }
    }

    #[test]
    fn physbase_physmask_round_trip(bits in 36u32..=52, len_log in 12u32..=52, k in any::<u64>(), t in 0usize..5) {
        let len_log = len_log.min(bits);
        let len = 1u64 << len_log;
        let base = (k % (1u64 << (bits - len_log))) << len_log;
        let type_byte = ALL_MEMORY_TYPES.iter().filter_map(|t| MemoryType::from_mtrr_encoding(t.encoding())).nth(t).unwrap().encoding();
        let (physbase, physmask) = encode_variable(base, len, type_byte, bits);
        prop_assert_eq!(physmask & !(phys_mask(bits) | PHYSMASK_V), 0);
        prop_assert_eq!(decode_variable(physbase, physmask, bits), VariableRange { base, len, type_byte, valid: true });
        prop_assert!(range_valid(base, len));
        prop_assert_eq!(linux_variable_range(physbase, physmask, bits), Some((base >> 12, len >> 12, type_byte)));
    }

    #[test]
    fn raw_registers_normalise_through_the_model(regs in arb_regs(), bits in 36u32..=52) {
        let regs = MtrrRegisters { def_type: regs.def_type | DEF_E, ..regs };
        let Ok(m) = MemRanges::from_registers(&regs, bits) else {
            prop_assert!(regs.variable_count() == 0 && !(regs.fixed_supported() && regs.fixed_enabled()));
            return Ok(());
        };
        let back = m.to_registers(&regs);
        let pm = phys_mask(bits);
        prop_assert_eq!(back.fixed, regs.fixed);
        for (i, (&(b, k), &pair)) in regs.variable.iter().zip(&back.variable).enumerate() {
            let expected = if i >= regs.variable_count() {
                (b, k)
            } else if k & PHYSMASK_V != 0 {
                (b & (pm | 0xff), (k & pm) | PHYSMASK_V)
            } else {
                (0, 0)
            };
            prop_assert_eq!(pair, expected, "slot {}", i);
        }
        // Inactive slots read back as base 0, len 2^MAXPHYADDR; active ones are unchanged,
        // and from then on store and refetch are a fixed point.
        let mut once = m.clone();
        once.refetch(&back);
        for (a, b) in once.descriptors().iter().zip(m.descriptors()) {
            if b.mr_flags & MDF_ACTIVE != 0 {
                prop_assert_eq!(a, b);
            } else {
                prop_assert_eq!((a.mr_base, a.mr_len), (0, 1u64 << bits));
            }
        }
        prop_assert_eq!(once.to_registers(&regs), back);
        let mut twice = once.clone();
        twice.refetch(&back);
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn nothing_panics_on_raw_input(regs in arb_regs(), bits in any::<u32>(), addr in any::<u64>(), n in any::<i32>()) {
        let _ = mtrr_type_at(&regs, bits, addr);
        let mut out = String::new();
        prop_assert!(write_proc_mtrr(&regs, bits, &mut out).is_ok());
        prop_assert!(out.lines().count() <= regs.variable_count());
        if let Ok(mut m) = MemRanges::from_registers(&regs, bits) {
            prop_assert!(!m.is_empty() && regs.enabled());
            let (copied, count) = m.get(n);
            prop_assert!(copied.len() <= m.len() && count as usize <= m.len());
            let d = desc(addr, regs.cap, n, "p");
            let _ = m.set(&d, MEMRANGE_SET_UPDATE);
            let _ = m.set(&d, MEMRANGE_SET_REMOVE);
            let _ = proc_mtrr_add(&mut m, addr, regs.def_type, MemoryType::WriteBack);
            let _ = proc_mtrr_disable(&mut m, n as usize);
            let stored = m.to_registers(&regs);
            m.refetch(&stored);
        } else {
            prop_assert!(!regs.enabled() || regs.variable_count() == 0);
        }
    }

    #[test]
    fn parsing_never_panics(text in "\\PC{0,40}", structured in "(base|size|type|disable)=[0-9a-fxA-FXKMGE ]{0,12}( (size|type)=[a-z0-9-]{0,16}){0,2}") {
        let _ = parse_proc_mtrr_write(&text);
        if let Ok(MtrrCommand::Add { base, size, .. }) = parse_proc_mtrr_write(&structured) {
            prop_assert_eq!((base | size) & 0xfff, 0);
        }
    }

    #[test]
    fn parsed_adds_print_back(page in 0u64..(1 << 28), size_log in 12u32..40, t in 0usize..5) {
        let base = page << 12;
        let memtype = PROC_MTRR_TYPES[t];
        let line = std::format!("base={:#x} size={:#x} type={}\n", base, 1u64 << size_log, memtype.linux_name());
        prop_assert_eq!(parse_proc_mtrr_write(&line), Ok(MtrrCommand::Add { base, size: 1 << size_log, memtype }));
    }
}
