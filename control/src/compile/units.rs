//! Unit conversions of the compiler: model indices to the data plane's index types,
//! seconds to milliseconds.

/// Position `i` as one of the data plane's index types (`EniIdx`, `SubnetIdx`, …), from
/// a saturated `u32`.
pub(super) fn idx<T: From<u32>>(i: usize) -> T {
    // Validation bounds nothing here, but a file with 4 billion resources is not a file.
    T::from(u32::try_from(i).unwrap_or(u32::MAX))
}

/// `secs` seconds in milliseconds, times `scale`, rounded, at least 1 ms.
pub fn scaled_ms(secs: u64, scale: f64) -> u64 {
    let ms = (secs as f64 * 1000.0 * scale).round();
    if ms.is_nan() || ms < 1.0 {
        1
    } else {
        // Saturating float-to-int conversion.
        ms as u64
    }
}

/// `secs` seconds (a float) in whole milliseconds, rounded, at least 1 ms.
pub fn secs_to_ms(secs: f64) -> u64 {
    scaled_ms(1, secs)
}
