//! The input generator: seeded, so a seed and a case number name one input.
//!
//! Each case gets its own generator, seeded from the run's seed, the
//! target's name and the case number: a failure is replayed alone with
//! `FUZZ_SEED`, `FUZZ_TARGETS` and `FUZZ_CASE`, whatever ran before it.

/// A generator for one case.
pub struct Gen {
    rng: fastrand::Rng,
}

/// FNV-1a: a stable hash of a target's name (std's hasher may change).
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Gen {
    pub fn for_case(seed: u64, target: &str, case: u64) -> Self {
        let mixed = seed ^ name_hash(target) ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        Self {
            rng: fastrand::Rng::with_seed(mixed),
        }
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.usize(..n.max(1))
    }

    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        self.rng.u64(low..=high)
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u8) -> bool {
        self.rng.u8(..100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn byte(&mut self) -> u8 {
        self.rng.u8(..)
    }

    pub fn u64(&mut self) -> u64 {
        self.rng.u64(..)
    }

    /// Bytes from a mix of the whole range and `alphabet` (the bytes that
    /// shape the format), so that random input reaches past the first check.
    pub fn bytes(&mut self, max_len: usize, alphabet: &[u8]) -> Vec<u8> {
        let len = self.below(max_len + 1);
        let biased = self.chance(70);
        (0..len)
            .map(|_| {
                if biased && !alphabet.is_empty() && self.chance(60) {
                    *self.pick(alphabet)
                } else {
                    self.byte()
                }
            })
            .collect()
    }

    /// `input` after 1 to 8 byte-level mutations: bit flips, random bytes,
    /// dictionary tokens inserted or overwritten, ranges deleted, repeated
    /// or spliced in from `other`, truncation.
    pub fn mutate(&mut self, input: &[u8], dictionary: &[&[u8]], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        for _ in 0..=self.below(8) {
            let at = self.below(out.len() + 1);
            match self.below(10) {
                0 if !out.is_empty() => {
                    let i = at.min(out.len() - 1);
                    out[i] ^= 1 << self.below(8);
                }
                1 if !out.is_empty() => {
                    let i = at.min(out.len() - 1);
                    out[i] = self.byte();
                }
                2 => {
                    let b = self.byte();
                    out.insert(at, b);
                }
                3 | 4 if !dictionary.is_empty() => {
                    let token = *self.pick(dictionary);
                    out.splice(at..at, token.iter().copied());
                }
                5 if !dictionary.is_empty() && at < out.len() => {
                    // Overwrite rather than insert: keeps the length.
                    let token = *self.pick(dictionary);
                    let end = (at + token.len()).min(out.len());
                    out.splice(at..end, token.iter().copied());
                }
                6 if at < out.len() => {
                    let end = at + self.below(out.len() - at + 1);
                    out.drain(at..end);
                }
                7 if at < out.len() => {
                    // Repeat a range a few times: long fields, many rows.
                    let end = at + self.below((out.len() - at).min(64) + 1);
                    let piece = out[at..end].to_vec();
                    for _ in 0..=self.below(16) {
                        out.splice(end..end, piece.iter().copied());
                    }
                }
                8 if !other.is_empty() => {
                    let from = self.below(other.len());
                    let to = from + self.below(other.len() - from + 1);
                    out.splice(at..at, other[from..to].iter().copied());
                }
                _ => out.truncate(at),
            }
        }
        out
    }

    /// Cuts `len` bytes into chunks: sometimes one byte at a time, sometimes
    /// small, sometimes large, always covering every byte once.
    pub fn chunk_sizes(&mut self, len: usize) -> Vec<usize> {
        let style = self.below(4);
        let mut sizes = Vec::new();
        let mut left = len;
        while left > 0 {
            let size = match style {
                0 => 1,
                1 => 1 + self.below(8),
                2 => 1 + self.below(64),
                _ => 1 + self.below(4096),
            }
            .min(left);
            sizes.push(size);
            left -= size;
        }
        sizes
    }
}

/// Bytes shown in a report: printable ASCII as is, the rest escaped, cut.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 600;
    let mut out: String = bytes
        .iter()
        .take(MAX)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > MAX {
        out.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    out
}
