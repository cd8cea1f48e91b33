//! [`RankedSet`]: an ordered set with counted (positional) access.

/// Default target block size (elements per block), as in Python's SortedContainers.
/// Keys per block, half the split size. Small enough that the shift on an insert or removal
/// in a block stays cheap (keys are ~56 bytes), large enough that the block directory and its
/// Fenwick tree stay small; measured in `take` (an update moves keys in several views).
const DEFAULT_LOAD: usize = 128;

/// An ordered set of unique keys with positional access and rank queries.
///
/// Built for paginated listings: "50 items at offset 500,000 of 1,000,000, plus the
/// total" must answer in microseconds. A `BTreeSet` can only reach offset `k` by
/// walking `k` elements; `RankedSet` gets there in `O(log n)`.
///
/// # Layout
/// A sorted list of sorted blocks (the SortedContainers design): `blocks` hold
/// roughly `load` keys each (a block splits once it exceeds `2 * load`, merges into a
/// neighbour once it drops below `load / 2`, and empty blocks are dropped); `maxes[i]`
/// is the largest key of `blocks[i]` and is binary-searched to find a key's block; a
/// Fenwick tree over block lengths maps position ⇄ (block, offset).
///
/// # Complexity (`n` elements, `b ≈ n / load` blocks)
/// - [`len`](Self::len), [`first`](Self::first), [`last`](Self::last): `O(1)`.
/// - [`contains`](Self::contains), [`rank`](Self::rank), [`get`](Self::get): `O(log n)`.
/// - [`insert`](Self::insert), [`remove`](Self::remove): `O(log n + load)` (a shift
///   inside one block), plus an `O(b + load)` rebuild on the rare split or merge.
/// - [`iter_from`](Self::iter_from), [`iter_rev_from`](Self::iter_rev_from): `O(log n)`
///   to locate the start, then `O(1)` amortised per element.
/// - [`from_sorted`](Self::from_sorted): `O(n)`.
#[derive(Clone, Debug)]
pub struct RankedSet<K: Ord + Clone> {
    blocks: Vec<Vec<K>>,
    maxes: Vec<K>,
    fenwick: Fenwick,
    len: usize,
    load: usize,
}

impl<K: Ord + Clone> Default for RankedSet<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone> FromIterator<K> for RankedSet<K> {
    /// Collects keys in any order; duplicates are dropped. `O(n log n)`.
    fn from_iter<I: IntoIterator<Item = K>>(iter: I) -> Self {
        let mut keys: Vec<K> = iter.into_iter().collect();
        keys.sort_unstable();
        keys.dedup();
        Self::from_sorted(keys)
    }
}

impl<K: Ord + Clone> RankedSet<K> {
    /// Creates an empty set.
    pub fn new() -> Self {
        Self::build(Vec::new(), DEFAULT_LOAD)
    }

    /// Empty set with a custom block load (tests use tiny loads to force splits).
    #[cfg(test)]
    fn with_load(load: usize) -> Self {
        Self::build(Vec::new(), load)
    }

    /// Bulk-builds a set from strictly ascending `keys` in `O(n)`.
    ///
    /// Ascending order is checked only by `debug_assert!`; unsorted or duplicate input
    /// in release builds yields a set whose queries give unspecified (but safe) answers.
    pub fn from_sorted(keys: Vec<K>) -> Self {
        Self::build(keys, DEFAULT_LOAD)
    }

    fn build(keys: Vec<K>, load: usize) -> Self {
        debug_assert!(load > 0, "load must be positive");
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "keys not strictly ascending");
        let len = keys.len();
        let mut blocks = Vec::with_capacity(len.div_ceil(load));
        let mut rest = keys.into_iter();
        loop {
            let block: Vec<K> = rest.by_ref().take(load).collect();
            if block.is_empty() {
                break;
            }
            blocks.push(block);
        }
        let maxes = blocks.iter().filter_map(|b| b.last().cloned()).collect();
        let fenwick = Fenwick::build(&blocks);
        Self { blocks, maxes, fenwick, len, load }
    }

    /// Number of elements. `O(1)`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if the set holds no elements. `O(1)`.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Index of the first block whose max is `>= key` (`blocks.len()` if none).
    fn block_for(&self, key: &K) -> usize {
        self.maxes.partition_point(|m| m < key)
    }

    /// Inserts `key`; returns `false` (leaving the set unchanged) if already present.
    /// `O(log n + load)`, plus an `O(n / load)` rebuild when a block splits.
    pub fn insert(&mut self, key: K) -> bool {
        if self.blocks.is_empty() {
            self.maxes.push(key.clone());
            self.blocks.push(vec![key]);
            self.len = 1;
            self.fenwick = Fenwick::build(&self.blocks);
            return true;
        }
        let idx = self.block_for(&key).min(self.blocks.len() - 1);
        let block = &mut self.blocks[idx];
        let Err(offset) = block.binary_search(&key) else {
            return false;
        };
        if offset == block.len() {
            self.maxes[idx] = key.clone();
        }
        block.insert(offset, key);
        self.len += 1;
        if block.len() > 2 * self.load {
            self.split(idx);
            self.fenwick = Fenwick::build(&self.blocks);
        } else {
            self.fenwick.add(idx, 1);
        }
        true
    }

    /// Removes `key`; returns `false` if it was absent.
    /// `O(log n + load)`, plus an `O(n / load + load)` rebuild when blocks merge.
    pub fn remove(&mut self, key: &K) -> bool {
        let idx = self.block_for(key);
        let Some(block) = self.blocks.get_mut(idx) else {
            return false;
        };
        let Ok(offset) = block.binary_search(key) else {
            return false;
        };
        block.remove(offset);
        self.len -= 1;
        if offset == block.len() && offset > 0 {
            self.maxes[idx] = block[offset - 1].clone();
        }
        if block.is_empty() {
            self.blocks.remove(idx);
            self.maxes.remove(idx);
        } else if block.len() < self.load / 2 && self.blocks.len() > 1 {
            // Merge blocks `j` and `j + 1` (prefer the right neighbour), re-split if large.
            let j = if idx + 1 < self.blocks.len() { idx } else { idx - 1 };
            let next = self.blocks.remove(j + 1);
            self.maxes[j] = self.maxes.remove(j + 1);
            self.blocks[j].extend(next);
            self.split(j);
        } else {
            self.fenwick.add(idx, -1);
            return true;
        }
        self.fenwick = Fenwick::build(&self.blocks);
        true
    }

    /// Splits `blocks[idx]` at `load` if it holds more than `2 * load` keys.
    /// The caller rebuilds the Fenwick tree.
    fn split(&mut self, idx: usize) {
        if self.blocks[idx].len() > 2 * self.load {
            let tail = self.blocks[idx].split_off(self.load);
            let head_max = self.blocks[idx][self.load - 1].clone();
            self.maxes.insert(idx, head_max);
            self.blocks.insert(idx + 1, tail);
        }
    }

    /// `true` if `key` is in the set. `O(log n)`.
    pub fn contains(&self, key: &K) -> bool {
        let idx = self.block_for(key);
        self.blocks.get(idx).is_some_and(|b| b.binary_search(key).is_ok())
    }

    /// Number of elements strictly less than `key` (which need not be present), i.e.
    /// the position `key` has or would have. `O(log n)`.
    pub fn rank(&self, key: &K) -> usize {
        let idx = self.block_for(key);
        match self.blocks.get(idx) {
            Some(block) => self.fenwick.prefix(idx) + block.partition_point(|k| k < key),
            None => self.len,
        }
    }

    /// Maps an in-range `position` to `(block, offset)`.
    fn locate(&self, position: usize) -> (usize, usize) {
        debug_assert!(position < self.len);
        self.fenwick.find(position)
    }

    /// The element at 0-based ascending `position`, or `None` if out of range. `O(log n)`.
    pub fn get(&self, position: usize) -> Option<&K> {
        if position >= self.len {
            return None;
        }
        let (b, o) = self.locate(position);
        Some(&self.blocks[b][o])
    }

    /// Ascending iterator starting at `position` (empty if out of range).
    /// `O(log n)` to start, then `O(1)` amortised per element.
    pub fn iter_from(&self, position: usize) -> impl Iterator<Item = &K> + '_ {
        let (head, rest): (&[K], &[Vec<K>]) = if position < self.len {
            let (b, o) = self.locate(position);
            (&self.blocks[b][o..], &self.blocks[b + 1..])
        } else {
            (&[], &[])
        };
        head.iter().chain(rest.iter().flatten())
    }

    /// Descending iterator that first skips the `position_from_end` largest elements
    /// (empty if that is `>= len`). `O(log n)` to start, then `O(1)` amortised per element.
    pub fn iter_rev_from(&self, position_from_end: usize) -> impl Iterator<Item = &K> + '_ {
        let (head, rest): (&[K], &[Vec<K>]) = if position_from_end < self.len {
            let (b, o) = self.locate(self.len - 1 - position_from_end);
            (&self.blocks[b][..=o], &self.blocks[..b])
        } else {
            (&[], &[])
        };
        head.iter().rev().chain(rest.iter().rev().flat_map(|b| b.iter().rev()))
    }

    /// Ascending iterator over all elements.
    pub fn iter(&self) -> impl Iterator<Item = &K> + '_ {
        self.blocks.iter().flatten()
    }

    /// Smallest element. `O(1)`.
    pub fn first(&self) -> Option<&K> {
        self.blocks.first().and_then(|b| b.first())
    }

    /// Largest element. `O(1)`.
    pub fn last(&self) -> Option<&K> {
        self.maxes.last()
    }
}

/// Fenwick (binary indexed) tree over block lengths; `tree[i]` is 1-based.
#[derive(Clone, Debug, Default)]
struct Fenwick {
    tree: Vec<usize>,
}

impl Fenwick {
    /// `O(blocks)` construction.
    fn build<K>(blocks: &[Vec<K>]) -> Self {
        let mut tree = Vec::with_capacity(blocks.len() + 1);
        tree.push(0);
        tree.extend(blocks.iter().map(Vec::len));
        for i in 1..tree.len() {
            let parent = i + (i & i.wrapping_neg());
            if parent < tree.len() {
                tree[parent] += tree[i];
            }
        }
        Self { tree }
    }

    /// Adjusts the length of block `idx` by `delta` (±1).
    fn add(&mut self, idx: usize, delta: isize) {
        let mut i = idx + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i].wrapping_add_signed(delta);
            i += i & i.wrapping_neg();
        }
    }

    /// Total length of blocks `0..idx`.
    fn prefix(&self, idx: usize) -> usize {
        let (mut i, mut sum) = (idx, 0);
        while i > 0 {
            sum += self.tree[i];
            i &= i - 1;
        }
        sum
    }

    /// `(block, offset)` of `position`, which must be below the total length.
    fn find(&self, position: usize) -> (usize, usize) {
        let n = self.tree.len() - 1;
        let (mut idx, mut rem) = (0, position);
        let mut step = if n == 0 { 0 } else { 1 << n.ilog2() };
        while step > 0 {
            if idx + step <= n && self.tree[idx + step] <= rem {
                idx += step;
                rem -= self.tree[idx];
            }
            step >>= 1;
        }
        (idx, rem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    impl<K: Ord + Clone + std::fmt::Debug> RankedSet<K> {
        fn check_invariants(&self) {
            assert_eq!(self.blocks.len(), self.maxes.len());
            assert_eq!(self.len, self.blocks.iter().map(Vec::len).sum::<usize>());
            for (i, block) in self.blocks.iter().enumerate() {
                assert!(!block.is_empty() && block.len() <= 2 * self.load);
                assert_eq!(block.last(), Some(&self.maxes[i]));
                assert_eq!(self.fenwick.prefix(i + 1), self.fenwick.prefix(i) + block.len());
            }
            assert!(self.iter().zip(self.iter().skip(1)).all(|(a, b)| a < b));
        }
    }

    fn check_against(set: &RankedSet<u16>, model: &BTreeSet<u16>, probe: u16, pos: usize) {
        set.check_invariants();
        assert_eq!(set.len(), model.len());
        assert_eq!(set.is_empty(), model.is_empty());
        assert_eq!(set.first(), model.first());
        assert_eq!(set.last(), model.last());
        assert_eq!(set.contains(&probe), model.contains(&probe));
        assert_eq!(set.rank(&probe), model.range(..probe).count());
        assert_eq!(set.get(pos), model.iter().nth(pos));
        assert!(set.iter_from(pos).eq(model.iter().skip(pos)));
        assert!(set.iter_rev_from(pos).eq(model.iter().rev().skip(pos)));
    }

    proptest! {
        #[test]
        fn matches_btreeset(
            load in 1usize..6,
            insert_bias in 1u8..4,
            ops in prop::collection::vec((0u8..4, 0u16..160, 0u16..170, 0usize..180), 1..500),
        ) {
            let mut set = RankedSet::with_load(load);
            let mut model = BTreeSet::new();
            for (kind, key, probe, pos) in ops {
                if kind < insert_bias {
                    prop_assert_eq!(set.insert(key), model.insert(key));
                } else {
                    prop_assert_eq!(set.remove(&key), model.remove(&key));
                }
                check_against(&set, &model, probe, pos);
            }
            prop_assert!(set.iter().eq(model.iter()));
        }

        #[test]
        fn from_sorted_equals_inserts(
            keys in prop::collection::btree_set(any::<u32>(), 0..1500),
            load in 1usize..700,
        ) {
            let sorted: Vec<u32> = keys.iter().copied().collect();
            let mut bulk = RankedSet::build(sorted.clone(), load);
            let mut one_by_one = RankedSet::with_load(load);
            for &k in keys.iter().rev() {
                one_by_one.insert(k);
            }
            bulk.check_invariants();
            prop_assert!(bulk.iter().eq(one_by_one.iter()));
            prop_assert!(RankedSet::from_sorted(sorted.clone()).iter().eq(keys.iter()));
            // Descending, so removals never shift the positions still to be checked.
            for (i, k) in sorted.iter().enumerate().step_by(37).rev() {
                prop_assert_eq!(bulk.get(i), Some(k));
                prop_assert_eq!(bulk.rank(k), one_by_one.rank(k));
                prop_assert!(bulk.remove(k));
                prop_assert!(one_by_one.remove(k));
            }
            bulk.check_invariants();
            prop_assert!(bulk.iter().eq(one_by_one.iter()));
        }
    }

    #[test]
    fn large_set_positions_and_ranks() {
        const N: u64 = 200_000;
        let bulk = RankedSet::from_sorted((0..N).map(|i| i * 3).collect());
        let mut inserted = RankedSet::new();
        for i in 0..N {
            assert!(inserted.insert((i * 7919) % N * 3)); // 7919 is coprime to N
        }
        inserted.check_invariants();
        for set in [&bulk, &inserted] {
            assert_eq!(set.len(), N as usize);
            assert_eq!(set.get(0), Some(&0));
            assert_eq!(set.get(123_456), Some(&(123_456 * 3)));
            assert_eq!(set.get(N as usize - 1), Some(&((N - 1) * 3)));
            assert_eq!(set.get(N as usize), None);
            assert_eq!(set.rank(&(150_000 * 3)), 150_000);
            assert_eq!(set.rank(&(150_000 * 3 + 1)), 150_001);
            assert_eq!(set.rank(&u64::MAX), N as usize);
            let page: Vec<u64> = set.iter_from(100_000).take(3).copied().collect();
            assert_eq!(page, [300_000, 300_003, 300_006]);
            let tail: Vec<u64> = set.iter_rev_from(1).take(2).copied().collect();
            assert_eq!(tail, [(N - 2) * 3, (N - 3) * 3]);
            assert_eq!(set.iter_from(usize::MAX).count(), 0);
            assert_eq!(set.iter_rev_from(usize::MAX).count(), 0);
        }
        let mut set = inserted;
        for i in (0..N).step_by(2) {
            assert!(set.remove(&(i * 3)));
        }
        set.check_invariants();
        assert_eq!(set.len(), N as usize / 2);
        assert_eq!(set.get(50_000), Some(&((2 * 50_000 + 1) * 3)));
        assert_eq!(set.rank(&(100_001 * 3)), 50_000);
    }
}
