//! The names of the `#[ktest]` tests a test kernel holds, read from its ELF symbol table,
//! so that `--filter` boots only the kernels that have a matching test.
//!
//! `#[ktest] fn frames_are_unique` in `kernel::mm::tests` emits a static
//! `kernel::mm::tests::__KTEST_FRAMES_ARE_UNIQUE`; its (legacy-mangled) symbol gives the
//! test's name as the kernel reports it: the module path without the crate, then the
//! function name (test functions are snake_case, so lowercasing the static's name gives
//! it back).

use std::path::Path;

use anyhow::{Context, Result, bail};

const REGISTRATION_PREFIX: &str = "__KTEST_";
const SHT_SYMTAB: u32 = 2;

/// The test names in the kernel ELF at `path`. `Ok(None)` when the file has no symbol
/// table or no registration symbol could be read (then the caller boots it anyway).
pub fn tests_in(path: &Path) -> Result<Option<Vec<String>>> {
    let elf = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let Some(strings) = symbol_strings(&elf)? else { return Ok(None) };
    let mut names: Vec<String> = strings
        .split(|&b| b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .filter_map(test_name)
        .collect();
    names.sort();
    names.dedup();
    Ok(if names.is_empty() { None } else { Some(names) })
}

/// The bytes of the string table that the symbol table names.
fn symbol_strings(elf: &[u8]) -> Result<Option<&[u8]>> {
    if elf.get(..4) != Some(b"\x7fELF") || elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        bail!("not a little-endian ELF64 file");
    }
    let shoff = usize::try_from(u64_at(elf, 0x28)?)?;
    let shentsize = usize::from(u16_at(elf, 0x3a)?);
    let shnum = usize::from(u16_at(elf, 0x3c)?);
    let section = |index: usize| -> Result<(u32, usize, usize, usize)> {
        let base =
            index.checked_mul(shentsize).and_then(|o| o.checked_add(shoff)).context("section offset")?;
        Ok((
            u32_at(elf, base + 4)?,
            usize::try_from(u64_at(elf, base + 0x18)?)?,
            usize::try_from(u64_at(elf, base + 0x20)?)?,
            usize::try_from(u32_at(elf, base + 0x28)?)?,
        ))
    };
    for index in 0..shnum {
        let (kind, _, _, link) = section(index)?;
        if kind == SHT_SYMTAB {
            let (_, offset, size, _) = section(link)?;
            let end = offset.checked_add(size).context("string table size")?;
            return Ok(Some(elf.get(offset..end).context("string table past the end of the file")?));
        }
    }
    Ok(None)
}

fn bytes_at<const N: usize>(elf: &[u8], offset: usize) -> Result<[u8; N]> {
    let end = offset.checked_add(N).context("offset overflow")?;
    let slice = elf.get(offset..end).context("ELF header or section table past the end of the file")?;
    Ok(slice.try_into()?)
}

fn u16_at(elf: &[u8], offset: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(bytes_at(elf, offset)?))
}

fn u32_at(elf: &[u8], offset: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(bytes_at(elf, offset)?))
}

fn u64_at(elf: &[u8], offset: usize) -> Result<u64> {
    Ok(u64::from_le_bytes(bytes_at(elf, offset)?))
}

/// The test name of a registration static's symbol, in the v0 mangling
/// (`_RNvNtNtCs1a2b_6kernel2mm5tests27___KTEST_FRAMES_ARE_UNIQUE`) or the legacy one
/// (`_ZN6kernel2mm5tests25__KTEST_FRAMES_ARE_UNIQUE17h0123456789abcdefE`):
/// `mm::tests::frames_are_unique`.
fn test_name(symbol: &str) -> Option<String> {
    let parts =
        if let Some(rest) = symbol.strip_prefix("_R") { v0_path(rest)? } else { legacy_path(symbol)? };
    name_from_path(parts)
}

/// A v0 path of nested modules (`N<namespace>` prefixes, then `C` and the crate, then one
/// identifier per `N`); generic or impl paths are not registrations and give `None`.
fn v0_path(mut rest: &str) -> Option<Vec<&str>> {
    let mut depth = 0;
    while let Some(after) = rest.strip_prefix('N') {
        let namespace = after.chars().next()?;
        if !namespace.is_ascii_alphabetic() {
            return None;
        }
        rest = after.get(1..)?;
        depth += 1;
    }
    rest = rest.strip_prefix('C')?;
    let mut parts = Vec::with_capacity(depth + 1);
    for _ in 0..=depth {
        rest = skip_disambiguator(rest)?;
        let (ident, after) = v0_identifier(rest)?;
        parts.push(ident);
        rest = after;
    }
    Some(parts)
}

/// `s<base-62>_`, if there.
fn skip_disambiguator(rest: &str) -> Option<&str> {
    match rest.strip_prefix('s') {
        Some(after) => Some(after.get(after.find('_')? + 1..)?),
        None => Some(rest),
    }
}

/// `<length>[_]<bytes>`; the `_` separates a length from an identifier that starts with a
/// digit or `_`. Punycode (`u` prefix) is not a registration name.
fn v0_identifier(rest: &str) -> Option<(&str, &str)> {
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    if digits == 0 {
        return None;
    }
    let len: usize = rest.get(..digits)?.parse().ok()?;
    let mut body = rest.get(digits..)?;
    if body.starts_with('_') {
        body = body.get(1..)?;
    }
    Some((body.get(..len)?, body.get(len..)?))
}

fn legacy_path(symbol: &str) -> Option<Vec<&str>> {
    let mut rest = symbol.strip_prefix("_ZN")?;
    let mut parts = Vec::new();
    while !rest.starts_with('E') {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let len: usize = rest.get(..digits)?.parse().ok()?;
        parts.push(rest.get(digits..digits + len)?);
        rest = rest.get(digits + len..)?;
    }
    // The last part is the hash (`h` and 16 hex digits).
    if parts.last().is_some_and(|p| p.len() == 17 && p.starts_with('h')) {
        parts.pop();
    }
    Some(parts)
}

fn name_from_path(mut parts: Vec<&str>) -> Option<String> {
    let registration = parts.pop()?.strip_prefix(REGISTRATION_PREFIX)?;
    if parts.is_empty() || registration.is_empty() {
        return None;
    }
    let mut name = parts.get(1..)?.join("::");
    if !name.is_empty() {
        name.push_str("::");
    }
    name.push_str(&registration.to_lowercase());
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_symbols_give_the_reported_name() {
        assert_eq!(
            test_name("_ZN6kernel2mm5tests25__KTEST_FRAMES_ARE_UNIQUE17h0123456789abcdefE").as_deref(),
            Some("mm::tests::frames_are_unique")
        );
        assert_eq!(
            test_name("_ZN10page_fault17__KTEST_READ_NULL17h0123456789abcdefE").as_deref(),
            Some("read_null")
        );
    }

    #[test]
    fn v0_symbols_give_the_reported_name() {
        assert_eq!(
            test_name("_RNvNtNtNtCs1YvoI6JMZcV_6kernel4arch6fw_cfg5tests45___KTEST_DIRECTORY_ENTRIES_MATCH_BY_EXACT_NAME")
                .as_deref(),
            Some("arch::fw_cfg::tests::directory_entries_match_by_exact_name")
        );
        assert_eq!(
            test_name("_RNvCs1YvoI6JMZcV_10page_fault17___KTEST_READ_NULL").as_deref(),
            Some("read_null")
        );
        assert_eq!(test_name("_RNvNtCs1YvoI6JMZcV_6kernel2mm4free"), None);
        assert_eq!(test_name("_RNvNtCs1YvoI6JMZcV_6kernel2mm99___KTEST_SHORT"), None);
    }

    #[test]
    fn other_symbols_are_not_tests() {
        assert_eq!(test_name("_ZN6kernel2mm5frame4free17h0123456789abcdefE"), None);
        assert_eq!(test_name("__KTEST_LOOSE"), None);
        assert_eq!(test_name("_ZN6kernel3"), None);
        assert_eq!(test_name("memcpy"), None);
    }

    #[test]
    fn a_file_that_is_not_elf_is_an_error() {
        assert!(symbol_strings(b"not an elf at all").is_err());
        assert!(symbol_strings(b"\x7fELF\x02\x01").is_err());
    }
}
