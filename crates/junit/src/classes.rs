//! Byte classes of a report, 64 bytes at a time, for the fast path: one bit
//! per byte for each class it looks for, computed with SIMD on the reader
//! thread (`wide`: SSE2 on x86-64, NEON on aarch64, scalar elsewhere).

/// One bit per byte of a 64-byte block.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Classes {
    /// `"`.
    pub quote: u64,
    /// `>`.
    pub gt: u64,
    /// `\n`.
    pub nl: u64,
    /// What makes markup less than plain: `<`, `&`, `'`, `\t`, `\r`.
    pub markup: u64,
    /// What the fast path never reads: control characters other than
    /// `\t`, `\n`, `\r` (not XML at all), DEL and non-ASCII bytes (left to
    /// the parser, which checks them).
    pub bad: u64,
}

impl Classes {
    /// Bytes that end a plain element or value: everything but printable ASCII.
    #[inline]
    pub fn odd(&self) -> u64 {
        self.markup | self.bad | self.nl
    }
}

/// Classes of a 64-byte block, sixteen bytes per SIMD step.
pub fn classify(block: &[u8; 64]) -> Classes {
    use wide::u8x16;
    let [quote, gt, nl, lt, amp, apos, tab, cr] = [b'"', b'>', b'\n', b'<', b'&', b'\'', b'\t', b'\r'].map(u8x16::splat);
    let (space, printable) = (u8x16::splat(0x20), u8x16::splat(0x5f));
    let mut c = Classes::default();
    for (k, lane) in block.as_chunks::<16>().0.iter().enumerate() {
        let v = u8x16::new(*lane);
        let shift = 16 * k;
        let bits = |m: u8x16| u64::from(m.to_bitmask() as u16) << shift;
        c.quote |= bits(v.simd_eq(quote));
        c.gt |= bits(v.simd_eq(gt));
        let is_nl = v.simd_eq(nl);
        c.nl |= bits(is_nl);
        let (is_tab, is_cr) = (v.simd_eq(tab), v.simd_eq(cr));
        c.markup |= bits(v.simd_eq(lt) | v.simd_eq(amp) | v.simd_eq(apos) | is_tab | is_cr);
        // Below 0x20 or above 0x7e: `v - 0x20` (wrapping) is 0x5f or more.
        let shifted = v - space;
        let outside = shifted.max(printable).simd_eq(shifted);
        c.bad |= bits(outside & !(is_nl | is_tab | is_cr));
    }
    c
}

/// Classifies `buf` on from where `classes` ends (block by block) to its
/// end. The last block is padded with NULs, which are bad, so nothing past
/// the end reads as complete.
pub fn classify_all(buf: &[u8], classes: &mut Vec<Classes>) {
    let from = classes.len() * 64;
    if from >= buf.len() {
        return;
    }
    let (blocks, rest) = buf[from..].as_chunks::<64>();
    classes.extend(blocks.iter().map(classify));
    if !rest.is_empty() {
        let mut block = [0u8; 64];
        block[..rest.len()].copy_from_slice(rest);
        classes.push(classify(&block));
    }
}

/// First position at or after `from` whose bit `pick` sets.
#[inline]
pub fn next_bit(classes: &[Classes], from: usize, pick: impl Fn(&Classes) -> u64) -> Option<usize> {
    let mut block = from / 64;
    let mut bits = pick(classes.get(block)?) & (!0u64 << (from % 64));
    while bits == 0 {
        block += 1;
        bits = pick(classes.get(block)?);
    }
    Some(block * 64 + bits.trailing_zeros() as usize)
}

/// Whether any byte in `from..to` has a bit `pick` sets.
#[inline]
pub fn any(classes: &[Classes], from: usize, to: usize, pick: impl Fn(&Classes) -> u64) -> bool {
    if from >= to {
        return false;
    }
    let (first, last) = (from / 64, (to - 1) / 64);
    let low = !0u64 << (from % 64);
    let high = !0u64 >> (63 - (to - 1) % 64);
    if first == last {
        return pick(&classes[first]) & low & high != 0;
    }
    pick(&classes[first]) & low != 0 || classes[first + 1..last].iter().any(|c| pick(c) != 0) || pick(&classes[last]) & high != 0
}

/// How many bits `pick` sets in `from..to`.
#[inline]
pub fn count(classes: &[Classes], from: usize, to: usize, pick: impl Fn(&Classes) -> u64) -> u64 {
    if from >= to {
        return 0;
    }
    let (first, last) = (from / 64, (to - 1) / 64);
    let low = !0u64 << (from % 64);
    let high = !0u64 >> (63 - (to - 1) % 64);
    if first == last {
        return u64::from((pick(&classes[first]) & low & high).count_ones());
    }
    let mut n = (pick(&classes[first]) & low).count_ones() + (pick(&classes[last]) & high).count_ones();
    for c in &classes[first + 1..last] {
        n += pick(c).count_ones();
    }
    u64::from(n)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn byte_classes_match_a_byte_by_byte_reading() {
        // Every byte value at every lane position.
        for shift in 0..64 {
            let block: [u8; 64] = std::array::from_fn(|i| ((i * 4 + shift) % 256) as u8);
            let mut want = Classes::default();
            for (i, &b) in block.iter().enumerate() {
                let bit = 1u64 << i;
                let set = |c: bool| if c { bit } else { 0 };
                want.quote |= set(b == b'"');
                want.gt |= set(b == b'>');
                want.nl |= set(b == b'\n');
                want.markup |= set(matches!(b, b'<' | b'&' | b'\'' | b'\t' | b'\r'));
                want.bad |= set(!(0x20..=0x7e).contains(&b) && !matches!(b, b'\n' | b'\t' | b'\r'));
            }
            assert_eq!(classify(&block), want, "shift {shift}");
        }
        // The last block of a buffer is padded with bad NULs.
        let mut classes = Vec::new();
        classify_all(b"<a b=\"c\"/>", &mut classes);
        assert_eq!((classes.len(), classes[0].quote, classes[0].bad >> 10 & 1), (1, 1 << 5 | 1 << 7, 1));
    }

    #[test]
    fn ranges() {
        let mut buf = vec![b' '; 200];
        buf[3] = b'\n';
        buf[70] = b'\n';
        buf[199] = b'\n';
        let mut classes = Vec::new();
        classify_all(&buf, &mut classes);
        let nl = |c: &Classes| c.nl;
        assert_eq!(count(&classes, 0, 200, nl), 3);
        assert_eq!(count(&classes, 4, 199, nl), 1);
        assert!(!any(&classes, 4, 70, nl));
        assert!(any(&classes, 4, 71, nl));
        assert_eq!(next_bit(&classes, 4, nl), Some(70));
        assert_eq!(next_bit(&classes, 71, |c| c.gt), None);
        for from in 0..200 {
            for to in from..=200 {
                let want = buf[from..to].iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(count(&classes, from, to, nl), want, "{from}..{to}");
                assert_eq!(any(&classes, from, to, nl), want > 0, "{from}..{to}");
            }
        }
    }
}
