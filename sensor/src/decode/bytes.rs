//! Checked big/little-endian reads from untrusted packet bytes.
//!
//! Every read returns `None` instead of panicking when the slice is too short, so the header
//! walkers read fields with `?`-style early returns and never index packet bytes directly.

/// `N` bytes at `off`, if present.
#[inline]
pub(crate) fn array<const N: usize>(d: &[u8], off: usize) -> Option<[u8; N]> {
    d.get(off..off.checked_add(N)?)?.try_into().ok()
}

#[inline]
pub(crate) fn u8_at(d: &[u8], off: usize) -> Option<u8> {
    d.get(off).copied()
}

#[inline]
pub(crate) fn be16(d: &[u8], off: usize) -> Option<u16> {
    array::<2>(d, off).map(u16::from_be_bytes)
}

#[inline]
pub(crate) fn le16(d: &[u8], off: usize) -> Option<u16> {
    array::<2>(d, off).map(u16::from_le_bytes)
}

#[inline]
pub(crate) fn be32(d: &[u8], off: usize) -> Option<u32> {
    array::<4>(d, off).map(u32::from_be_bytes)
}

/// The bytes from `off` on (possibly empty), if `off` is within the slice.
#[inline]
pub(crate) fn rest(d: &[u8], off: usize) -> Option<&[u8]> {
    d.get(off..)
}

/// Returns the value or ends the calling walker with `Step::Skip(Truncated)`.
macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => {
                return $crate::decode::decoder::Step::Skip(
                    $crate::decode::types::SkipReason::Truncated,
                )
            }
        }
    };
}
pub(crate) use need;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_range() {
        let d = [1u8, 2, 3, 4, 5];
        assert_eq!(u8_at(&d, 4), Some(5));
        assert_eq!(be16(&d, 0), Some(0x0102));
        assert_eq!(le16(&d, 0), Some(0x0201));
        assert_eq!(be32(&d, 1), Some(0x0203_0405));
        assert_eq!(rest(&d, 5), Some(&[][..]));
        assert_eq!(array::<5>(&d, 0), Some(d));
    }

    #[test]
    fn reads_out_of_range_are_none() {
        let d = [1u8, 2, 3];
        assert_eq!(u8_at(&d, 3), None);
        assert_eq!(be16(&d, 2), None);
        assert_eq!(be32(&d, 0), None);
        assert_eq!(rest(&d, 4), None);
        assert_eq!(be16(&d, usize::MAX), None);
        assert_eq!(array::<2>(&d, usize::MAX - 1), None);
    }
}
