//! The free-frame bitmap: which physical frames are free, found in O(log64 n).
//!
//! Level 0 holds one bit per frame (1 = free). Each higher level holds one bit per
//! word of the level below, set exactly when that word has a free bit, up to a
//! single top word. Allocation walks down from the top word taking the lowest set
//! bit at each level, so it never scans linearly.

/// Bits in one storage word.
const BITS: u64 = u64::BITS as u64;

/// Most levels a bitmap can have: 64^11 > 2^64 frames.
const MAX_LEVELS: usize = 11;

/// Why a frame operation was refused (the bitmap is left unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The frame number is not below [`FrameBitmap::frames`].
    OutOfRange,
    /// Freeing a frame that is already free (a double free).
    AlreadyFree,
    /// Reserving a frame that is not free.
    NotFree,
}

/// A 64-ary hierarchical bitmap of free frames: O(log64 n) allocation and freeing.
pub struct FrameBitmap<'a> {
    /// All levels, level 0 first, exactly `storage_words(frames)` words.
    words: &'a mut [u64],
    /// Start of each level in `words`; `offsets[levels - 1]` is the single top word.
    offsets: [usize; MAX_LEVELS],
    /// Number of levels (0 only when `frames == 0`).
    levels: usize,
    /// Frame numbers covered: 0..frames.
    frames: u64,
    /// Number of set bits in level 0.
    free: u64,
}

impl core::fmt::Debug for FrameBitmap<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameBitmap")
            .field("frames", &self.frames)
            .field("free", &self.free)
            .field("levels", &self.levels)
            .finish()
    }
}

impl<'a> FrameBitmap<'a> {
    /// Number of u64 words of storage needed to track `frames` frames (all levels together).
    pub const fn storage_words(frames: u64) -> usize {
        let mut words = frames.div_ceil(BITS);
        let mut total = 0;
        while words > 0 {
            total += words as usize;
            if words == 1 {
                break;
            }
            words = words.div_ceil(BITS);
        }
        total
    }

    /// A bitmap over frames 0..frames in `storage` (at least storage_words(frames) words), all used.
    pub fn new(storage: &'a mut [u64], frames: u64) -> Self {
        let needed = Self::storage_words(frames);
        assert!(storage.len() >= needed, "FrameBitmap storage too small: {} < {needed} words", storage.len());
        let words = &mut storage[..needed];
        words.fill(0);
        let mut offsets = [0; MAX_LEVELS];
        let mut levels = 0;
        let mut offset = 0;
        let mut count = frames.div_ceil(BITS);
        while count > 0 {
            offsets[levels] = offset;
            levels += 1;
            offset += count as usize;
            if count == 1 {
                break;
            }
            count = count.div_ceil(BITS);
        }
        Self { words, offsets, levels, frames, free: 0 }
    }

    /// How many frame numbers the bitmap covers (0..frames).
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Marks frame `n` free; Err(OutOfRange) if n >= frames, Err(AlreadyFree) on a double free.
    pub fn free(&mut self, n: u64) -> Result<(), FrameError> {
        if n >= self.frames {
            return Err(FrameError::OutOfRange);
        }
        if self.is_free(n) {
            return Err(FrameError::AlreadyFree);
        }
        let mut index = n;
        for level in 0..self.levels {
            let word = &mut self.words[self.offsets[level] + (index / BITS) as usize];
            let was_empty = *word == 0;
            *word |= 1 << (index % BITS);
            if !was_empty {
                break; // The parents already record this word as non-empty.
            }
            index /= BITS;
        }
        self.free += 1;
        Ok(())
    }

    /// Marks a free frame used (to reserve a specific frame); Err(OutOfRange) or Err(NotFree).
    pub fn reserve(&mut self, n: u64) -> Result<(), FrameError> {
        if n >= self.frames {
            return Err(FrameError::OutOfRange);
        }
        if !self.is_free(n) {
            return Err(FrameError::NotFree);
        }
        self.take(n);
        Ok(())
    }

    /// Takes the lowest-numbered free frame, or None if none is free.
    pub fn allocate(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let mut index = 0u64;
        for level in (0..self.levels).rev() {
            let word = self.words[self.offsets[level] + index as usize];
            debug_assert_ne!(word, 0, "summary bit set over an empty word");
            index = index * BITS + u64::from(word.trailing_zeros());
        }
        self.take(index);
        Some(index)
    }

    /// True if frame `n` is free; false if it is used or out of range.
    pub fn is_free(&self, n: u64) -> bool {
        n < self.frames && self.words[(n / BITS) as usize] & (1 << (n % BITS)) != 0
    }

    /// Number of free frames, in O(1).
    pub fn free_count(&self) -> u64 {
        self.free
    }

    /// Clears the bit of free frame `n` and the summary bits of words that become empty.
    fn take(&mut self, n: u64) {
        let mut index = n;
        for level in 0..self.levels {
            let word = &mut self.words[self.offsets[level] + (index / BITS) as usize];
            *word &= !(1 << (index % BITS));
            if *word != 0 {
                break; // The word still has a free bit: the parents stay set.
            }
            index /= BITS;
        }
        self.free -= 1;
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    /// Checks every structural invariant: summaries exact, no bits past the end, the counter right.
    fn check_invariants(bitmap: &FrameBitmap<'_>) {
        let mut count = bitmap.frames.div_ceil(BITS);
        for level in 0..bitmap.levels {
            let base = bitmap.offsets[level];
            let words = &bitmap.words[base..base + count as usize];
            if level == 0 {
                let ones: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
                assert_eq!(ones, bitmap.free, "free counter disagrees with level 0");
                let tail = bitmap.frames % BITS;
                if tail != 0 {
                    assert_eq!(words[words.len() - 1] >> tail, 0, "bit set past the last frame");
                }
            }
            if level + 1 < bitmap.levels {
                let parent = bitmap.offsets[level + 1];
                for (i, w) in words.iter().enumerate() {
                    let bit = bitmap.words[parent + i / 64] >> (i % 64) & 1;
                    assert_eq!(bit == 1, *w != 0, "summary bit of word {i} at level {level} is wrong");
                }
                let parent_count = count.div_ceil(BITS);
                let tail = count % BITS;
                if tail != 0 {
                    assert_eq!(bitmap.words[parent + parent_count as usize - 1] >> tail, 0);
                }
            } else {
                assert_eq!(count, 1, "the top level is a single word");
            }
            count = count.div_ceil(BITS);
        }
    }

    #[test]
    fn storage_and_levels() {
        // (frames, words, levels)
        let cases = [
            (0, 0, 0),
            (1, 1, 1),
            (63, 1, 1),
            (64, 1, 1),
            (65, 3, 2),
            (4096, 65, 2),
            (4097, 65 + 2 + 1, 3),
            (262_144, 4096 + 64 + 1, 3),
            (300_000, 4688 + 74 + 2 + 1, 4),
        ];
        for (frames, words, levels) in cases {
            assert_eq!(FrameBitmap::storage_words(frames), words, "words for {frames}");
            let mut storage = vec![u64::MAX; words + 3];
            let bitmap = FrameBitmap::new(&mut storage, frames);
            assert_eq!(bitmap.levels, levels, "levels for {frames}");
            assert_eq!(bitmap.frames(), frames);
            assert_eq!(bitmap.free_count(), 0);
            check_invariants(&bitmap);
        }
        const WORDS: usize = FrameBitmap::storage_words(4097);
        assert_eq!(WORDS, 68);
    }

    #[test]
    #[should_panic(expected = "storage too small")]
    fn too_small_storage_panics() {
        let mut storage = [0; 2];
        let _ = FrameBitmap::new(&mut storage, 65);
    }

    #[test]
    fn errors_leave_state_unchanged() {
        let mut storage = [0; 3];
        let mut bitmap = FrameBitmap::new(&mut storage, 65);
        assert_eq!(bitmap.allocate(), None);
        assert_eq!(bitmap.free(65), Err(FrameError::OutOfRange));
        assert_eq!(bitmap.reserve(65), Err(FrameError::OutOfRange));
        assert_eq!(bitmap.reserve(3), Err(FrameError::NotFree));
        assert!(!bitmap.is_free(u64::MAX));
        assert_eq!(bitmap.free(64), Ok(()));
        assert_eq!(bitmap.free(64), Err(FrameError::AlreadyFree));
        assert_eq!(bitmap.free_count(), 1);
        check_invariants(&bitmap);
        assert_eq!(bitmap.reserve(64), Ok(()));
        assert_eq!(bitmap.reserve(64), Err(FrameError::NotFree));
        assert_eq!(bitmap.free_count(), 0);
        check_invariants(&bitmap);
    }

    #[test]
    fn every_frame_handed_out_once_then_returned() {
        for frames in [1u64, 63, 64, 65, 4096, 4097, 300_000] {
            let mut storage = vec![0; FrameBitmap::storage_words(frames)];
            let mut bitmap = FrameBitmap::new(&mut storage, frames);
            // Free in descending order so summaries get set from the top end first.
            for n in (0..frames).rev() {
                bitmap.free(n).unwrap();
            }
            assert_eq!(bitmap.free_count(), frames);
            check_invariants(&bitmap);
            for expected in 0..frames {
                assert_eq!(bitmap.allocate(), Some(expected), "{frames} frames");
            }
            assert_eq!(bitmap.allocate(), None);
            assert_eq!(bitmap.free_count(), 0);
            check_invariants(&bitmap);
            for n in 0..frames {
                bitmap.free(n).unwrap();
            }
            assert_eq!(bitmap.free_count(), frames);
            assert!((0..frames).all(|n| bitmap.is_free(n)));
            check_invariants(&bitmap);
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Allocate,
        Free(u64),
        Reserve(u64),
    }

    /// Operations whose frame numbers land in range most of the time and just past it sometimes.
    fn ops(frames: u64) -> impl Strategy<Value = Vec<Op>> {
        let n = prop_oneof![
            4 => 0..frames,
            1 => frames..frames + 3,
            1 => (0..frames / 64 + 1).prop_map(move |w| (w * 64 + 63).min(frames + 1)),
        ];
        let op = prop_oneof![
            2 => Just(Op::Allocate),
            3 => n.clone().prop_map(Op::Free),
            1 => n.prop_map(Op::Reserve),
        ];
        proptest::collection::vec(op, 0..300)
    }

    fn sized_ops() -> impl Strategy<Value = (u64, Vec<Op>)> {
        prop_oneof![
            Just(1u64),
            Just(63),
            Just(64),
            Just(65),
            Just(4096),
            Just(4097),
            Just(300_000),
            1..10_000u64
        ]
        .prop_flat_map(|frames| (Just(frames), ops(frames)))
    }

    proptest! {
        #[test]
        fn matches_btreeset_oracle((frames, ops) in sized_ops()) {
            let mut storage = vec![0; FrameBitmap::storage_words(frames)];
            let mut bitmap = FrameBitmap::new(&mut storage, frames);
            let mut oracle = BTreeSet::new();
            let mut handed_out = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Allocate => {
                        let got = bitmap.allocate();
                        let want = oracle.pop_first();
                        prop_assert_eq!(got, want);
                        if let Some(n) = got {
                            prop_assert!(handed_out.insert(n), "frame {} handed out twice", n);
                        }
                    }
                    Op::Free(n) => {
                        let want = if n >= frames {
                            Err(FrameError::OutOfRange)
                        } else if oracle.insert(n) {
                            Ok(())
                        } else {
                            Err(FrameError::AlreadyFree)
                        };
                        prop_assert_eq!(bitmap.free(n), want);
                        handed_out.remove(&n);
                    }
                    Op::Reserve(n) => {
                        let want = if n >= frames {
                            Err(FrameError::OutOfRange)
                        } else if oracle.remove(&n) {
                            Ok(())
                        } else {
                            Err(FrameError::NotFree)
                        };
                        prop_assert_eq!(bitmap.reserve(n), want);
                    }
                }
                prop_assert_eq!(bitmap.free_count(), oracle.len() as u64);
            }
            check_invariants(&bitmap);
            for n in oracle.iter().copied().chain([0, frames - 1, frames]) {
                prop_assert_eq!(bitmap.is_free(n), oracle.contains(&n));
            }
            // Draining returns exactly the oracle's frames in ascending order.
            let drained: Vec<u64> = core::iter::from_fn(|| bitmap.allocate()).collect();
            prop_assert_eq!(drained, oracle.into_iter().collect::<Vec<_>>());
            check_invariants(&bitmap);
        }
    }
}
