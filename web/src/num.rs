//! Numbers as text without the float formatting machinery: `{}` and `{:.N}` on an `f64`
//! pull in about 10 KB of wasm (shortest and exact float printing), so the page prints
//! its few fractional numbers (SVG coordinates, percentages, KiB) from integers.

/// `v` rounded to `decimals` places (at most 6), like `format!("{v:.decimals$}")` except
/// that a tie rounds away from zero.
pub fn fixed(v: f64, decimals: u32) -> String {
    let decimals = decimals.min(6);
    let scale = 10u64.pow(decimals);
    let scaled = (v * scale as f64).round();
    // Saturating, and NaN becomes 0: never a panic on a strange value.
    let scaled = scaled as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let scaled = scaled.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{scaled}");
    }
    let width = decimals as usize;
    format!("{sign}{}.{:0width$}", scaled / scale, scaled % scale)
}

/// `v` with up to three decimals and no trailing zeros (`28`, `28.5`, `0.125`): SVG
/// coordinates and sizes.
pub fn short(v: f64) -> String {
    let mut text = fixed(v, 3);
    if text.contains('.') {
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
    }
    if text == "-0" {
        text = "0".to_string();
    }
    text
}

/// `n / 2^shift` with one decimal, exactly as `format!("{:.1}", n as f64 / 2^shift)`
/// prints it (the quotient is exact in binary, so a tie rounds to even).
pub fn tenths(n: u64, shift: u32) -> String {
    let unit = 1u128 << shift;
    let ten = u128::from(n) * 10;
    let (mut q, r) = (ten / unit, ten % unit);
    let half = unit / 2;
    if r > half || (r == half && q % 2 == 1) {
        q += 1;
    }
    format!("{}.{}", q / 10, q % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_the_float_formatting() {
        for v in [
            0.0, 1.0, 28.5, 0.125, 99.99, 100.0, 3.26159, 1234.5678, -2.5, -0.0004,
        ] {
            for d in 0..4 {
                let ours = fixed(v, d);
                let theirs = format!("{v:.*}", d as usize);
                // Ties may differ (away from zero versus to even); nothing else.
                let tie = (v * 10f64.powi(d as i32)).fract().abs() == 0.5;
                assert!(
                    ours == theirs || tie || theirs == format!("-{ours}"),
                    "{v} {d}: {ours} vs {theirs}"
                );
            }
        }
        assert_eq!(fixed(f64::NAN, 2), "0.00");
        assert_eq!(short(28.0), "28");
        assert_eq!(short(28.5), "28.5");
        assert_eq!(short(0.125), "0.125");
        assert_eq!(short(-0.0001), "0");
        assert_eq!(short(5.333_333), "5.333");
    }

    #[test]
    fn tenths_match_the_float_formatting_exactly() {
        for n in
            (0..5_000_000u64)
                .step_by(997)
                .chain([10240, 10291, 10342, 64 << 20, u32::MAX as u64])
        {
            for shift in [10, 20] {
                let theirs = format!("{:.1}", n as f64 / (1u64 << shift) as f64);
                assert_eq!(tenths(n, shift), theirs, "{n} >> {shift}");
            }
        }
    }
}
