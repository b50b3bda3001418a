//! Deterministic hashing and pseudo-random numbers.
//!
//! Every synthetic value is a pure function of (seed, account, region, index),
//! so nothing random is kept in memory and the same configuration always
//! serves the same jobs. SplitMix64 is used because it is tiny, fast and its
//! finalizer is a bijection on `u64`, which the identifiers rely on.

/// The SplitMix64 finalizer: a bijective scramble of 64 bits.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Combines two values into one well-mixed hash (order matters).
pub(crate) const fn hash2(a: u64, b: u64) -> u64 {
    mix64(a ^ mix64(b ^ 0x6A09_E667_F3BC_C909))
}

/// Hashes a string under a key (FNV-1a, then mixed).
pub(crate) fn hash_str(key: u64, s: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325 ^ key;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// A SplitMix64 generator seeded from a hash.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` > 0), without modulo bias worth mentioning.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// A value in `lo..hi` (`hi` > `lo`).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.saturating_sub(lo).max(1) as u64) as i64
    }

    /// A float in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen by weight.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len() - 1
    }

    /// `n` lowercase hex digits.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n);
        while out.len() < n {
            let mut v = self.next_u64();
            for _ in 0..16 {
                if out.len() == n {
                    break;
                }
                out.push(char::from(HEX_LOWER[(v & 0xF) as usize]));
                v >>= 4;
            }
        }
        out
    }

    /// A random (version 4) UUID.
    pub(crate) fn uuid(&mut self, upper: bool) -> String {
        let (a, b) = as_v4(self.next_u64(), self.next_u64());
        format_uuid(a, b, upper)
    }
}

/// The variant bits of an RFC 4122 UUID, at the top of the low word.
pub(crate) const UUID_VARIANT_MASK: u64 = 0xC000_0000_0000_0000;
const UUID_VARIANT: u64 = 0x8000_0000_0000_0000;

/// Forces the version (4) and variant bits, so the value reads as a random UUID.
pub(crate) const fn as_v4(hi: u64, lo: u64) -> (u64, u64) {
    (
        (hi & !0xF000) | 0x4000,
        (lo & !UUID_VARIANT_MASK) | UUID_VARIANT,
    )
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Writes 128 bits as a UUID-shaped string, high bits first.
pub(crate) fn format_uuid(hi: u64, lo: u64, upper: bool) -> String {
    let digits = if upper { HEX_UPPER } else { HEX_LOWER };
    let mut out = String::with_capacity(36);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        let word = if i < 16 { hi } else { lo };
        let shift = 60 - 4 * (i % 16);
        out.push(char::from(digits[((word >> shift) & 0xF) as usize]));
    }
    out
}

/// Reads a UUID-shaped string (either case) back into its 128 bits.
pub(crate) fn parse_uuid(s: &str) -> Option<(u64, u64)> {
    let bytes = s.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let (mut hi, mut lo, mut n) = (0u64, 0u64, 0);
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if b != b'-' {
                return None;
            }
            continue;
        }
        let v = u64::from(char::from(b).to_digit(16)?);
        if n < 16 {
            hi = hi << 4 | v;
        } else {
            lo = lo << 4 | v;
        }
        n += 1;
    }
    Some((hi, lo))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        let emit = chunk.len() + 1;
        for i in 0..emit {
            out.push(char::from(B64[(n >> (18 - 6 * i) & 0x3F) as usize]));
        }
    }
    out
}

/// Decodes [`base64url`] output; `None` on any other character or length.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// Standard base64 with padding (the form AWS uses for backup plan versions).
pub(crate) fn base64_std(bytes: &[u8]) -> String {
    let mut out: String = base64url(bytes)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trips_in_both_cases() {
        let s = format_uuid(0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210, true);
        assert_eq!(s, "01234567-89AB-CDEF-FEDC-BA9876543210");
        assert_eq!(
            parse_uuid(&s),
            Some((0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210))
        );
        assert_eq!(
            parse_uuid(&s.to_lowercase()),
            Some((0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210))
        );
        assert_eq!(parse_uuid("01234567-89AB-CDEF-FEDC-BA987654321"), None);
        assert_eq!(parse_uuid("01234567+89AB-CDEF-FEDC-BA9876543210"), None);
        assert_eq!(parse_uuid("0123456G-89AB-CDEF-FEDC-BA9876543210"), None);
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64url_decode(&base64url(&data)), Some(data));
        }
        assert_eq!(base64_std(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw==");
        assert_eq!(base64url_decode("a"), None);
        assert_eq!(base64url_decode("ab=c"), None);
    }

    #[test]
    fn generator_is_deterministic_and_spread() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut r = Rng::new(1);
        let n = 10_000;
        let hits = (0..n).filter(|_| r.chance(0.25)).count();
        assert!((2300..2700).contains(&hits), "{hits}");
        let counts = (0..n).fold([0usize; 3], |mut c, _| {
            c[r.weighted(&[1, 2, 7])] += 1;
            c
        });
        assert!(counts[2] > counts[1] && counts[1] > counts[0], "{counts:?}");
        assert!((0..1000).all(|_| r.below(5) < 5));
        assert_eq!(r.hex(21).len(), 21);
        let id = r.uuid(true);
        assert_eq!(&id[14..15], "4");
        assert!("89AB".contains(&id[19..20]), "{id}");
        assert_ne!(mix64(1), mix64(2));
        assert_ne!(hash2(1, 2), hash2(2, 1));
        assert_ne!(hash_str(0, "us-east-1"), hash_str(0, "us-east-2"));
    }
}
