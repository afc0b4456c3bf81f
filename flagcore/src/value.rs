//! The user-side value model of the spec (section 1.1): how a JSON value is seen by operators.
//!
//! Every conversion here is allocation-free for ordinary inputs: string forms of numbers are
//! written into stack buffers, lower-casing uses a stack buffer, and only pathological inputs
//! (very long strings, strings with a capital sigma, JSON arrays as user values) fall back to
//! the heap.

use core::fmt::{self, Write as _};

use serde_json::{Number, Value as Json};

/// A user-side value as an operator sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UVal<'a> {
    /// No value at all.
    Missing,
    /// A present JSON `null`.
    Null,
    Bool(bool),
    /// An integer (from the builder API or a bucket); its number form is the value as f64.
    Int(i64),
    Float(f64),
    /// A JSON number, kept exact for the integer form.
    Num(&'a Number),
    Str(&'a str),
    Array(&'a [Json]),
    Object(&'a serde_json::Map<String, Json>),
    /// The clock of a `current_time` condition: only an integer form.
    Time(i64),
}

impl<'a> UVal<'a> {
    pub(crate) fn from_json(v: &'a Json) -> Self {
        match v {
            Json::Null => UVal::Null,
            Json::Bool(b) => UVal::Bool(*b),
            Json::Number(n) => UVal::Num(n),
            Json::String(s) => UVal::Str(s),
            Json::Array(a) => UVal::Array(a),
            Json::Object(o) => UVal::Object(o),
        }
    }

    /// Missing, or a present null (or the clock, which `eq null` treats alike).
    pub(crate) fn is_null_like(&self) -> bool {
        matches!(self, UVal::Missing | UVal::Null | UVal::Time(_))
    }

    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, UVal::Missing)
    }

    /// The number form (f64), if any.
    pub(crate) fn number(&self) -> Option<f64> {
        match *self {
            UVal::Int(i) => Some(i as f64),
            UVal::Float(f) => Some(f),
            UVal::Num(n) => n.as_f64(),
            UVal::Str(s) => s.parse::<f64>().ok(),
            _ => None,
        }
    }

    /// The integer form (i64), if any.
    pub(crate) fn integer(&self) -> Option<i64> {
        match *self {
            UVal::Int(i) | UVal::Time(i) => Some(i),
            UVal::Float(f) => f64_integer_form(f),
            UVal::Num(n) => n.as_i64().or_else(|| n.as_f64().and_then(f64_integer_form)),
            UVal::Str(s) => s.parse::<i64>().ok(),
            _ => None,
        }
    }

    /// The timestamp form of a user-side value (spec 1.5), strings only.
    pub(crate) fn timestamp(&self) -> Option<i64> {
        match *self {
            UVal::Str(s) => user_timestamp(s),
            _ => None,
        }
    }

    /// Calls `f` with the string form of the value (`None` when it has none).
    #[inline]
    pub(crate) fn with_str<R>(&self, f: impl FnOnce(Option<&str>) -> R) -> R {
        match *self {
            UVal::Str(s) => f(Some(s)),
            UVal::Bool(true) => f(Some("true")),
            UVal::Bool(false) => f(Some("false")),
            // Integers print as the f64 they convert to; below 2^53 that is the integer.
            UVal::Int(i) if i.unsigned_abs() < 1 << 53 => {
                let mut buf = [0u8; 20];
                f(Some(int_text(i, &mut buf)))
            }
            UVal::Int(i) => with_display(&(i as f64), f),
            UVal::Float(x) => with_display(&x, f),
            UVal::Num(n) => match n.as_f64() {
                Some(x) => with_display(&x, f),
                None => f(None),
            },
            UVal::Array(a) => {
                let mut buf = StackStr::<256>::new();
                if write_json_array(&mut buf, a).is_err() {
                    return f(None);
                }
                f(Some(buf.as_str()))
            }
            UVal::Missing | UVal::Null | UVal::Object(_) | UVal::Time(_) => f(None),
        }
    }

    /// Calls `f` with the string form, or `""` when there is none.
    #[inline]
    pub(crate) fn with_str_or_empty<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        self.with_str(|s| f(s.unwrap_or("")))
    }
}

/// The decimal text of `i` in `buf`.
fn int_text(i: i64, buf: &mut [u8; 20]) -> &str {
    // in bounds: |i64::MIN| has 19 digits; with the sign that is 20 = `buf.len()`.
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    core::str::from_utf8(&buf[pos..]).unwrap_or("")
}

fn with_display<R>(x: &f64, f: impl FnOnce(Option<&str>) -> R) -> R {
    let mut buf = StackStr::<64>::new();
    // Writing into a StackStr never fails: it spills to the heap when full.
    let _ = write!(buf, "{x}");
    f(Some(buf.as_str()))
}

fn write_json_array(out: &mut impl fmt::Write, a: &[Json]) -> fmt::Result {
    // serde_json's compact form, written through fmt::Write without an intermediate String.
    struct Adapter<'w, W: fmt::Write>(&'w mut W);
    impl<W: fmt::Write> std::io::Write for Adapter<'_, W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let s = core::str::from_utf8(buf).map_err(|_| std::io::ErrorKind::InvalidData)?;
            self.0.write_str(s).map_err(|_| std::io::ErrorKind::Other)?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    serde_json::to_writer(Adapter(out), a).map_err(|_| fmt::Error)
}

/// Compact JSON text of any value (used at load time for target arrays and objects).
pub(crate) fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The integer form of a float (spec 1.1): `f as i64` when that converts back to `f`.
///
/// The cast saturates and `i64::MAX as f64` rounds up to 2^63, so exactly ±2^63 get
/// `i64::MAX` / `i64::MIN` (as in the official core) while larger magnitudes, fractions, NaN and
/// the infinities get none.
pub(crate) fn f64_integer_form(f: f64) -> Option<i64> {
    let i = f as i64;
    (i as f64 == f).then_some(i)
}

/// Timestamp form of a user-side string (spec 1.5, with the length/delimiter pre-check).
pub(crate) fn user_timestamp(s: &str) -> Option<i64> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(i);
    }
    if s.len() < 8 || s.len() > 20 || !s.contains(['-', 'T', ':']) {
        return None;
    }
    parse_datetime(s)
}

/// Timestamp form of a target string (spec 1.5, without the pre-check).
pub(crate) fn target_timestamp(s: &str) -> Option<i64> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(i);
    }
    parse_datetime(s)
}

fn parse_datetime(s: &str) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Calls `f` with `s` lower-cased exactly as `str::to_lowercase` does.
pub(crate) fn with_lower<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if is_ascii_lowercase_already(s.as_bytes()) {
        // The common case (emails, ids): nothing to do.
        return f(s);
    }
    if s.is_ascii() {
        // Short ASCII (country codes, most names): lower-cased in place on the stack.
        let mut short = [0u8; 64];
        if let Some(lower) = short.get_mut(..s.len()) {
            lower.copy_from_slice(s.as_bytes());
            lower.make_ascii_lowercase();
            // ASCII stays ASCII, so this never fails.
            return f(core::str::from_utf8(lower).unwrap_or(""));
        }
        let mut buf = StackStr::<128>::new();
        for c in s.chars() {
            let _ = buf.write_char(c.to_ascii_lowercase());
        }
        return f(buf.as_str());
    }
    if s.contains('Σ') {
        // The final-sigma rule depends on context; let the standard library decide.
        return f(&s.to_lowercase());
    }
    let mut buf = StackStr::<256>::new();
    for c in s.chars() {
        for l in c.to_lowercase() {
            let _ = buf.write_char(l);
        }
    }
    f(buf.as_str())
}

/// Whether `s` is ASCII without an uppercase letter (so lower-casing leaves it as it is),
/// eight bytes at a time: the hot path of every case-insensitive comparison.
#[inline]
fn is_ascii_lowercase_already(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // For a byte b < 0x80: b + (0x80 - b'A') has its high bit set iff b >= b'A', and
    // b + (0x80 - b'Z' - 1) iff b > b'Z'; neither sum carries into the next byte. A byte
    // >= 0x80 is caught by its own high bit (a carry it causes can only set more bits).
    let flagged = |w: u64| {
        let ge_a = w.wrapping_add(ONES * u64::from(0x80 - b'A'));
        let gt_z = w.wrapping_add(ONES * u64::from(0x80 - b'Z' - 1));
        (w | (ge_a & !gt_z)) & HIGH != 0
    };
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        // in bounds: `chunks_exact(8)` yields 8-byte chunks.
        let w = u64::from_le_bytes(w.try_into().unwrap_or([0x80; 8]));
        if flagged(w) {
            return false;
        }
    }
    let rest = words.remainder();
    let mut tail = [0u8; 8];
    // in bounds: the remainder of `chunks_exact(8)` is shorter than 8 bytes.
    tail[..rest.len()].copy_from_slice(rest);
    !flagged(u64::from_le_bytes(tail))
}

/// A string buffer on the stack that spills to the heap only when it outgrows `N` bytes.
pub(crate) struct StackStr<const N: usize> {
    buf: [u8; N],
    len: usize,
    spill: Option<String>,
}

impl<const N: usize> StackStr<N> {
    pub(crate) fn new() -> Self {
        StackStr {
            buf: [0; N],
            len: 0,
            spill: None,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match &self.spill {
            Some(s) => s,
            // Only whole UTF-8 strings are ever copied in, so this never fails. in bounds:
            // `len` <= N (`write_str` spills to the heap rather than go past N).
            None => core::str::from_utf8(&self.buf[..self.len]).unwrap_or(""),
        }
    }
}

impl<const N: usize> fmt::Write for StackStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(spill) = &mut self.spill {
            spill.push_str(s);
            return Ok(());
        }
        let end = self.len + s.len();
        if end <= N {
            self.buf[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
        } else {
            let mut spill = String::with_capacity(end * 2);
            spill.push_str(self.as_str());
            spill.push_str(s);
            self.spill = Some(spill);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn integers_print_like_their_f64() {
        for i in [
            0i64,
            7,
            -7,
            999,
            1000,
            123_456_789,
            -(1 << 52),
            (1 << 53) - 1,
        ] {
            let via_f64 = UVal::Int(i).with_str(|s| s.map(str::to_owned));
            assert_eq!(
                via_f64.as_deref(),
                Some((i as f64).to_string().as_str()),
                "{i}"
            );
        }
    }
    use super::*;

    fn s(v: UVal<'_>) -> Option<String> {
        v.with_str(|s| s.map(str::to_owned))
    }

    #[test]
    fn number_string_forms_follow_f64_display() {
        assert_eq!(s(UVal::Float(5.0)).as_deref(), Some("5"));
        assert_eq!(s(UVal::Float(5.5)).as_deref(), Some("5.5"));
        assert_eq!(
            s(UVal::Float(1e21)).as_deref(),
            Some("1000000000000000000000")
        );
        assert_eq!(s(UVal::Float(1e-7)).as_deref(), Some("0.0000001"));
        assert_eq!(s(UVal::Float(-0.0)).as_deref(), Some("-0"));
        assert_eq!(
            s(UVal::Int(9_007_199_254_740_993)).as_deref(),
            Some("9007199254740992")
        );
    }

    #[test]
    fn array_string_form_is_compact_json() {
        let v: Json = serde_json::json!([1, "a", {"b": 2.0}]);
        let Json::Array(a) = &v else { unreachable!() };
        assert_eq!(s(UVal::Array(a)).as_deref(), Some(r#"[1,"a",{"b":2.0}]"#));
    }

    #[test]
    fn string_number_parsing_does_not_trim() {
        assert_eq!(UVal::Str("1e3").number(), Some(1000.0));
        assert_eq!(UVal::Str(" 5").number(), None);
        assert_eq!(UVal::Str("inf").number(), Some(f64::INFINITY));
    }

    #[test]
    fn user_timestamps_need_short_iso_strings() {
        assert_eq!(
            user_timestamp("2023-01-01T05:00:00Z"),
            Some(1_672_549_200_000)
        );
        assert_eq!(
            user_timestamp("2023-01-01 05:00:00"),
            Some(1_672_549_200_000)
        );
        assert_eq!(user_timestamp("2023-01-01T05:00:00.000Z"), None);
        assert_eq!(user_timestamp("2023-01-01"), None);
        assert_eq!(
            target_timestamp("2023-01-01T05:00:00.000Z"),
            Some(1_672_549_200_000)
        );
    }

    #[test]
    fn the_lowercase_check_agrees_with_a_byte_loop() {
        let naive = |s: &[u8]| s.iter().all(|b| b.is_ascii() && !b.is_ascii_uppercase());
        // Every byte value, alone and at each position of strings of 1 to 17 bytes.
        for len in 1..=17 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(is_ascii_lowercase_already(&s), naive(&s), "{s:?}");
                }
            }
        }
        // Every pair of byte values side by side, inside a word and across two words (a
        // carry out of one byte must not hide the next).
        for at in [3, 7] {
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; 12];
                    (s[at], s[at + 1]) = (a, b);
                    assert_eq!(is_ascii_lowercase_already(&s), naive(&s), "{s:?}");
                }
            }
        }
        for s in [
            "",
            "jkw@statsig.com",
            "US",
            "us",
            "user-000123",
            "Ünïcode",
            "a@B.com",
        ] {
            assert_eq!(
                is_ascii_lowercase_already(s.as_bytes()),
                naive(s.as_bytes()),
                "{s}"
            );
        }
    }

    #[test]
    fn lowercasing_matches_std() {
        for s in ["ABC", "abc", "İstanbul", "ΣΑΣ", "Straße", "ÀÉÎ"] {
            with_lower(s, |l| assert_eq!(l, s.to_lowercase()));
        }
        for n in [1, 2, 63, 64, 65, 127, 128, 129] {
            let s: String = "aBcDeFgHiJ".chars().cycle().take(n).collect();
            with_lower(&s, |l| assert_eq!(l, s.to_lowercase()));
        }
        let long = "X".repeat(1000);
        with_lower(&long, |l| assert_eq!(l, long.to_lowercase()));
    }

    #[test]
    fn integer_forms_of_floats() {
        assert_eq!(f64_integer_form(1e12), Some(1_000_000_000_000));
        assert_eq!(f64_integer_form(-0.0), Some(0));
        assert_eq!(f64_integer_form(1.5), None);
        assert_eq!(f64_integer_form(9.3e18), None);
        assert_eq!(f64_integer_form(1e19), None);
        assert_eq!(f64_integer_form(f64::NAN), None);
        assert_eq!(f64_integer_form(f64::INFINITY), None);
        assert_eq!(f64_integer_form(f64::NEG_INFINITY), None);
        // ±2^63: the saturating cast gives i64::MAX / i64::MIN, and i64::MAX as f64 is 2^63.
        assert_eq!(f64_integer_form(9.223_372_036_854_776e18), Some(i64::MAX));
        assert_eq!(f64_integer_form(-9.223_372_036_854_776e18), Some(i64::MIN));
        assert_eq!(
            f64_integer_form(9.223_372_036_854_775e18),
            Some(9_223_372_036_854_774_784)
        );
    }

    #[test]
    fn integer_forms_of_json_numbers() {
        let form = |text: &str| {
            let v: Json = serde_json::from_str(text).expect("JSON number");
            UVal::from_json(&v).integer()
        };
        assert_eq!(form("9223372036854775807"), Some(i64::MAX));
        assert_eq!(form("9223372036854775808"), Some(i64::MAX));
        assert_eq!(form("9223372036854775809"), Some(i64::MAX));
        assert_eq!(form("9.223372036854776e18"), Some(i64::MAX));
        assert_eq!(form("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(form("-9223372036854775809"), Some(i64::MIN));
        assert_eq!(form("18446744073709551615"), None);
        assert_eq!(form("1e19"), None);
        assert_eq!(form("5.0"), Some(5));
    }
}
