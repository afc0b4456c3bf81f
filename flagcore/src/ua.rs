//! The first-party user-agent parser of Statsig's server core, re-implemented without heap
//! allocation (spec section 9).
//!
//! `ua_based` conditions read four fields of a parsed user agent: the OS name and version and
//! the browser name and version. Statsig's core parses with a hand-written tokenizer and a
//! table of rules rather than the regex-based `uap-core` data; this module follows it rule for
//! rule, including its quirks (for example `Windows NT 6.2` gives version `0.0.0`), and agrees
//! with it on every user agent of the project's conformance corpus.
//!
//! How it stays allocation-free:
//!
//! - The words (the user agent split at every `;` and space) are produced lazily and seen
//!   through a ring buffer of four.
//! - The official parser collects a list of tokens and scans it afterwards. The scans only
//!   ever need a handful of them (the first two, the first of a few kinds, the last `Android`,
//!   `Version` and `Chrome`), so those are recorded as tokens arrive and no list is kept: the
//!   memory used does not depend on the input, and there is no capacity to overflow.
//! - Names and version parts borrow from the input or are static strings.
//!
//! ```
//! let ua = flagcore::ua::parse(
//!     "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_1 like Mac OS X) AppleWebKit/603.1.30 \
//!      (KHTML, like Gecko) Version/10.0 Mobile/14E304 Safari/602.1",
//! );
//! assert_eq!(ua.os_name, "iOS");
//! assert_eq!(ua.os_version.to_string(), "10.3.1");
//! assert_eq!(ua.browser_name, "Mobile Safari");
//! assert_eq!(ua.browser_version.to_string(), "10.0");
//! ```

use core::fmt;

use crate::value::StackStr;

/// A parsed user agent. Names and version parts borrow from the input or are static.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAgent<'a> {
    /// The operating system, e.g. `iOS`, `Windows`, `Mac OS X`, `Other`.
    pub os_name: &'a str,
    /// The operating system's version.
    pub os_version: Version<'a>,
    /// The browser, e.g. `Chrome`, `Mobile Safari`, `Other`.
    pub browser_name: &'a str,
    /// The browser's version.
    pub browser_version: Version<'a>,
}

/// A version: up to four parts, displayed joined with `.` (`0.0.0` when there are none).
///
/// A version the parser knows nothing about has no parts; a token without a version has the
/// single part `0.0.0`, as in the official parser. Both display as `0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// The parts; those from `len` on are always `""`.
    parts: [&'a str; 4],
    /// How many parts there are (at most 4).
    len: u8,
}

impl<'a> Version<'a> {
    /// No version.
    const NONE: Self = Version {
        parts: [""; 4],
        len: 0,
    };

    /// A version of one part.
    const fn one(part: &'a str) -> Self {
        Version {
            parts: [part, "", "", ""],
            len: 1,
        }
    }

    /// The parts (empty when the version is unknown).
    pub fn parts(&self) -> &[&'a str] {
        self.parts.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl fmt::Display for Version<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((first, rest)) = self.parts().split_first() else {
            return f.write_str("0.0.0");
        };
        f.write_str(first)?;
        for part in rest {
            f.write_str(".")?;
            f.write_str(part)?;
        }
        Ok(())
    }
}

impl<'a> UserAgent<'a> {
    /// `field` as a condition compares it: a name as it is, a version formatted into `buf`
    /// (`0.0.0` when unknown).
    pub(crate) fn field<'b>(&self, field: Field, buf: &'b mut StackStr<128>) -> &'b str
    where
        'a: 'b,
    {
        let version = match field {
            Field::OsName => return self.os_name,
            Field::BrowserName => return self.browser_name,
            Field::OsVersion => self.os_version,
            Field::BrowserVersion => self.browser_version,
        };
        let _ = fmt::Write::write_fmt(buf, format_args!("{version}"));
        buf.as_str()
    }
}

/// The field of a parsed user agent that a `ua_based` condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `os_name` / `osname`.
    OsName,
    /// `os_version` / `osversion`.
    OsVersion,
    /// `browser_name` / `browsername`.
    BrowserName,
    /// `browser_version` / `browserversion`.
    BrowserVersion,
}

impl Field {
    /// Every field, in declaration order.
    pub(crate) const ALL: [Field; 4] = [
        Field::OsName,
        Field::OsVersion,
        Field::BrowserName,
        Field::BrowserVersion,
    ];

    /// The field a condition's `field` names, compared case-insensitively; `None` for any
    /// other name (the condition then sees a missing value).
    ///
    /// The official core lower-cases with Unicode rules; ASCII case folding is equivalent
    /// here because the only non-ASCII character that lower-cases to ASCII is the Kelvin sign
    /// (to `k`), which none of the names contains.
    pub fn from_condition_field(field: &str) -> Option<Field> {
        const NAMES: [(&str, Field); 8] = [
            ("os_name", Field::OsName),
            ("osname", Field::OsName),
            ("os_version", Field::OsVersion),
            ("osversion", Field::OsVersion),
            ("browser_name", Field::BrowserName),
            ("browsername", Field::BrowserName),
            ("browser_version", Field::BrowserVersion),
            ("browserversion", Field::BrowserVersion),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(field))
            .map(|&(_, f)| f)
    }
}

/// Parses a user agent the way Statsig's first-party parser does.
///
/// Any string is accepted; the evaluator treats user agents longer than 1000 bytes as missing
/// before calling this. Performs no heap allocation and does not panic.
pub fn parse(ua: &str) -> UserAgent<'_> {
    let st = tokenize(ua);
    let (os_name, os_version) = st.os_result();
    let (browser_name, browser_version) = st.browser_result();
    UserAgent {
        os_name,
        os_version,
        browser_name,
        browser_version,
    }
}

/// A token: a tag and an optional version string.
type Token<'a> = (&'a str, Option<&'a str>);

/// The words of a user agent (split at every `;` and space, empty words kept), seen through a
/// window of the next four.
struct Window<'a> {
    /// The words not yet in the window (a fused iterator).
    words: core::str::Split<'a, [char; 2]>,
    /// The window, a ring starting at `head`; `None` past the last word.
    ring: [Option<&'a str>; 4],
    /// Where the window starts in `ring`.
    head: usize,
}

impl<'a> Window<'a> {
    fn new(ua: &'a str) -> Self {
        let mut words = ua.split([';', ' ']);
        let ring = [words.next(), words.next(), words.next(), words.next()];
        Window {
            words,
            ring,
            head: 0,
        }
    }

    /// Word `i` (0..4) of the window.
    fn get(&self, i: usize) -> Option<&'a str> {
        // in bounds: an index taken `% 4` into the 4-slot ring (`head` is kept `% 4` too).
        self.ring[(self.head + i) % 4]
    }

    /// Drops `k` words from the front and refills from the words that follow.
    fn slide(&mut self, k: usize) {
        for _ in 0..k {
            self.ring[self.head] = self.words.next();
            self.head = (self.head + 1) % 4;
        }
    }

    fn is_empty(&self) -> bool {
        self.get(0).is_none()
    }
}

/// Strips `( ) ; , + _ "` from both ends; an empty result is absent.
fn trim(x: Option<&str>) -> Option<&str> {
    let t = x?.trim_matches(|c| matches!(c, '(' | ')' | ';' | ',' | '+' | '_' | '"'));
    (!t.is_empty()).then_some(t)
}

/// `num(x)`: `x` if it starts with an ASCII digit, and then the window slides by one.
fn num<'a>(w: &mut Window<'a>, x: Option<&'a str>) -> Option<&'a str> {
    let x = x.filter(|x| x.as_bytes().first().is_some_and(u8::is_ascii_digit))?;
    w.slide(1);
    Some(x)
}

/// The hints the tokenizer collects.
#[derive(Default)]
struct Flags {
    linux: bool,
    ios: bool,
    macos: bool,
    windows: bool,
    mobile: bool,
    safari: bool,
    playstation: bool,
    huawei: bool,
    cfnetwork: bool,
    crawler: bool,
    bot_detected: bool,
}

/// What the OS and browser scans read from the token list, recorded as tokens arrive.
///
/// The OS scan returns at the first token that matches, where `CPU OS` and `Version` match
/// only under flags known at the end: so the first token of each of the three kinds is kept
/// with its position. The browser scan returns at the first of a set of tags, and otherwise
/// uses the last `Android`, `Version` and `Chrome` tokens and (for `CFNetwork`) the first two
/// tokens.
#[derive(Default)]
struct Seen<'a> {
    /// How many tokens so far.
    count: usize,
    first: Option<Token<'a>>,
    second: Option<Token<'a>>,
    /// The first token the OS scan takes whatever the flags, with its position.
    os_any: Option<(usize, Token<'a>)>,
    /// The first `CPU OS` token (taken when `ios`), with its position.
    os_cpu: Option<(usize, Token<'a>)>,
    /// The first `Version` token (taken when `ios` and `macos`), with its position.
    os_version: Option<(usize, Token<'a>)>,
    /// The first token that ends the browser scan.
    browser_end: Option<Token<'a>>,
    /// The last `Android`, `Version` and `Chrome` tokens before `browser_end`.
    android: Option<Token<'a>>,
    version: Option<Token<'a>>,
    chrome: Option<Token<'a>>,
}

impl<'a> Seen<'a> {
    fn push(&mut self, tok: Token<'a>) {
        let i = self.count;
        self.count += 1;
        match i {
            0 => self.first = Some(tok),
            1 => self.second = Some(tok),
            _ => {}
        }
        let t = tok.0;
        let os_kind = match t {
            "CPU OS" => &mut self.os_cpu,
            "Version" => &mut self.os_version,
            _ => &mut self.os_any,
        };
        if os_kind.is_none() && (t == "CPU OS" || t == "Version" || os_token(tok).is_some()) {
            *os_kind = Some((i, tok));
        }
        if self.browser_end.is_none() {
            match t {
                "Android" => self.android = Some(tok),
                "Version" => self.version = Some(tok),
                "Chrome" => self.chrome = Some(tok),
                "Firefox" | "Yahoo! Slurp" | "Silk" | "NetFront NX" | "YaBrowser" | "Edge"
                | "Opera" | "axios" | "HeadlessChrome" => self.browser_end = Some(tok),
                _ => {}
            }
        }
    }
}

/// The OS the OS scan reports for a token that is not `CPU OS` or `Version`, if it stops
/// there.
fn os_token(tok: Token<'_>) -> Option<(&str, Version<'_>)> {
    let (t, v) = tok;
    Some(match t {
        "ATV OS X" => (t, Version::NONE),
        "iPhone OS" | "iOS" => ("iOS", ver(t, v)),
        "CFNetwork" => ("iOS", Version::NONE),
        "Android" | "Kindle" | "Ubuntu" => (t, ver(t, v)),
        "Chromecast" | "Red Hat" => (t, Version::NONE),
        _ if t.starts_with("Android") => ("Android", Version::NONE),
        _ => return None,
    })
}

/// The tokenizer's result.
#[derive(Default)]
struct State<'a> {
    seen: Seen<'a>,
    possible_os: Option<Token<'a>>,
    possible_browser: Option<Token<'a>>,
    f: Flags,
}

impl<'a> State<'a> {
    fn tag(&mut self, t: &'a str, v: Option<&'a str>) {
        self.seen.push((t, v));
    }

    fn os(&mut self, t: &'a str, v: Option<&'a str>) {
        if self.possible_os.is_none() && v.is_some() {
            self.possible_os = Some((t, v));
        }
        self.tag(t, v);
    }

    fn browser(&mut self, t: &'a str, v: Option<&'a str>) {
        if v.is_some() {
            self.possible_browser = Some((t, v));
        }
        self.tag(t, v);
    }

    fn os_override(&mut self, t: &'a str) {
        self.possible_os = Some((t, None));
    }

    fn bot(&mut self, t: &'a str, v: Option<&'a str>) {
        if !self.f.bot_detected {
            self.f.bot_detected = true;
            self.possible_browser = Some((t, v));
        }
    }

    /// `EdgiOS` and `CriOS` turn a `Mac OS X` guess into `iOS`.
    fn mac_to_ios(&mut self) {
        if self.possible_os.is_some_and(|(t, _)| t == "Mac OS X") {
            self.os_override("iOS");
        }
    }

    /// The OS (spec: "OS").
    fn os_result(&self) -> (&'a str, Version<'a>) {
        if let Some((t, v)) = self.possible_os {
            return (t, ver(t, v));
        }
        let f = &self.f;
        let s = &self.seen;
        // The earliest token the scan stops at under the final flags.
        let cpu = s.os_cpu.filter(|_| f.ios);
        let version = s.os_version.filter(|_| f.ios && f.macos);
        let hit = [s.os_any, cpu, version]
            .into_iter()
            .flatten()
            .min_by_key(|&(i, _)| i);
        if let Some((_, (t, v))) = hit {
            return match t {
                "CPU OS" | "Version" => ("iOS", ver(t, v)),
                _ => os_token((t, v)).unwrap_or(("Other", Version::NONE)),
            };
        }
        let name = if f.ios {
            "iOS"
        } else if f.macos {
            "Mac OS X"
        } else if f.windows {
            "Windows"
        } else if f.linux {
            "Linux"
        } else {
            "Other"
        };
        (name, Version::NONE)
    }

    /// The browser (spec: "Browser").
    fn browser_result(&self) -> (&'a str, Version<'a>) {
        if let Some((t, v)) = self.possible_browser {
            return (t, ver(t, v));
        }
        let f = &self.f;
        let s = &self.seen;
        if let Some((t, v)) = s.browser_end {
            let name = match t {
                "Firefox" if f.mobile => "Firefox Mobile",
                "Yahoo! Slurp" => return (t, Version::NONE),
                "Silk" if f.playstation => return ("NetFront NX", Version::NONE),
                "Silk" => "Amazon Silk",
                "YaBrowser" => "Yandex Browser",
                "Edge" if f.mobile => "Edge Mobile",
                "Opera" if f.mobile => "Opera Mobile",
                _ => t,
            };
            return (name, ver(t, v));
        }
        if let Some((t, cv)) = s.chrome {
            if s.version.is_some() {
                return ("Chrome Mobile WebView", ver(t, cv));
            }
            if f.mobile && cv.is_some() && !f.huawei {
                return ("Chrome Mobile", ver(t, cv));
            }
            if let (None, Some((at, av))) = (cv, s.android) {
                return ("Android", ver(at, av));
            }
            return ("Chrome", ver(t, cv));
        }
        if let Some((t, v)) = s.android {
            return ("Android", ver(t, v));
        }
        if let (true, Some((t, v))) = (f.cfnetwork, s.first) {
            if t == "NetworkingExtension" {
                let v = s.second.map_or(Version::NONE, |(t2, v2)| ver(t2, v2));
                return ("CFNetwork", v);
            }
            return (t, ver(t, v));
        }
        if f.safari {
            let v = s.version.map_or(Version::NONE, |(t, v)| ver(t, v));
            let name = if f.mobile && !f.macos {
                "Mobile Safari"
            } else {
                "Safari"
            };
            return (name, v);
        }
        let name = if f.ios {
            "Mobile Safari UI/WKWebView"
        } else if f.crawler {
            "crawler"
        } else {
            "Other"
        };
        (name, Version::NONE)
    }
}

/// Runs the rule table (spec section 9, rows 1–30) over the words of `ua`.
fn tokenize(ua: &str) -> State<'_> {
    let mut st = State::default();
    let mut w = Window::new(ua);
    while !w.is_empty() {
        let [c, n1, n2, n3] = [w.get(0), w.get(1), w.get(2), w.get(3)].map(trim);
        let Some(c) = c else {
            w.slide(1);
            continue;
        };
        if c.starts_with("AppleTV") {
            st.tag("ATV OS X", None);
            w.slide(1);
        } else if c == "like" && n1 == Some("Mac") && n2 == Some("OS") {
            w.slide(3);
        } else if c == "Mac" && n1 == Some("OS") && n2 == Some("X") {
            st.f.macos = true;
            let v = num(&mut w, n3);
            st.os("Mac OS X", v);
            w.slide(2);
        } else if c == "Mac" && n1 == Some("OS") {
            st.f.macos = true;
            let v = num(&mut w, n2);
            st.os("Mac OS X", v);
            w.slide(2);
        } else if c == "iOS" {
            let v = num(&mut w, n1);
            st.os("iOS", v);
            st.f.ios = true;
            w.slide(1);
        } else if c == "iPhone" && n1 == Some("OS") {
            let v = num(&mut w, n2);
            st.os("iOS", v);
            w.slide(1);
        } else if c == "iPadOS" {
            let v = num(&mut w, n1);
            st.os("iOS", v);
            st.f.ios = true;
            w.slide(1);
        } else if c.starts_with("iPad") {
            st.f.ios = true;
            st.tag("iPad", trim(c.split("iPad").nth(1)));
        } else if c.starts_with("iPhone") {
            st.f.ios = true;
            st.tag("iPhone", trim(c.split("iPhone").nth(1)));
        } else if c.starts_with("Apple-iPhone7C2") {
            st.f.ios = true;
            st.tag("iPhone", None);
        } else if c == "CPU" && n1 == Some("OS") {
            let v = num(&mut w, n2);
            st.tag("CPU OS", v);
            w.slide(1);
        } else if c == "CrOS" {
            let mut v = num(&mut w, n1);
            if v.is_none() {
                w.slide(1);
                v = num(&mut w, n2);
            }
            st.os("Chrome OS", v);
        } else if c == "CrKey" {
            st.os("Chromecast", None);
        } else if c == "PlayStation" {
            st.f.playstation = true;
            st.tag("PlayStation", None);
        } else if c == "Android" {
            let v = num(&mut w, n1);
            st.os("Android", v);
        } else if c == "Windows" && n1 == Some("Phone") {
            let v = num(&mut w, n2);
            st.os("Windows Phone", v);
            w.slide(1);
        } else if c.starts_with("Windows") {
            st.f.windows = true;
            let v = if n1 == Some("NT") {
                let v = num(&mut w, n2);
                if v.is_some() {
                    w.slide(1);
                }
                v
            } else if n1.is_some_and(|n| n.starts_with("XP")) {
                w.slide(1);
                Some("XP")
            } else {
                num(&mut w, n1)
            };
            st.os("Windows", v);
        } else if c == "MSIE" {
            let v = num(&mut w, n1);
            st.browser("IE", v);
        } else if c == "Yahoo!" && n1 == Some("Slurp") {
            st.tag("Yahoo! Slurp", None);
            w.slide(1);
        } else if c == "Red" && n1 == Some("Hat") {
            st.os("Red Hat", None);
            w.slide(1);
        } else if c == "Ubuntu" {
            let v = num(&mut w, n1);
            st.os("Ubuntu", v);
        } else if c == "Mobile" {
            st.f.mobile = true;
            st.tag("Mobile", None);
        } else if c == "Linux" || c == "linux" {
            st.f.linux = true;
            st.tag("Linux", None);
        } else if c == "Nintendo" && n1 == Some("3DS") {
            st.tag("NetFront NX", None);
            w.slide(1);
        } else if c == "like" || c.len() <= 2 {
            w.slide(1);
            continue;
        } else if c == "Better" && n1 == Some("Uptime") && n2 == Some("Bot") {
            st.bot("Better Uptime Bot", None);
        } else if c == "Radius" && n1 == Some("Compilance") && n2 == Some("Bot") {
            st.bot("Radius Compilance Bot", None);
        } else if c == "AdsBot-Google-Mobile" {
            st.bot("AdsBot-Google", None);
        } else if c == "Uptime" && n1 == Some("Monitoring") && n2 == Some("Bot") {
            st.bot("Uptime Monitoring Bot", None);
        } else {
            other_word(&mut st, c);
        }
        w.slide(1);
    }
    st
}

/// Row 30 of the rule table: `name/version` words and the catch-all.
fn other_word<'a>(st: &mut State<'a>, c: &'a str) {
    let split = c.split_once(['/', ';', ':']);
    let t = trim(split.map(|(t, _)| t)).unwrap_or(c);
    let v = trim(split.map(|(_, v)| v));
    match t {
        "Kindle" => {
            // `os` and `browser` in one token.
            if st.possible_os.is_none() && v.is_some() {
                st.possible_os = Some((t, v));
            }
            st.browser(t, v);
        }
        "FxiOS" => st.browser("Firefox iOS", v),
        "EdgiOS" => {
            st.mac_to_ios();
            st.browser("Edge Mobile", v);
        }
        "CriOS" => {
            st.f.ios = true;
            st.mac_to_ios();
            st.browser("Chrome Mobile iOS", v);
        }
        "GSA" => st.browser("Google", v),
        "YisouSpider" => st.browser("YisouSpider", v),
        "Edg" | "Edge" => st.tag("Edge", v),
        "OPR" => st.tag("Opera", v),
        "SamsungBrowser" => st.browser("Samsung Internet", v),
        "HuaweiBrowser" => {
            st.f.huawei = true;
            st.tag("HuaweiBrowser", v);
        }
        "ChatGPT-User" => st.browser("ChatGPT-User", v),
        "OAI-SearchBot" => st.browser("OAI-SearchBot", v),
        "NX" => st.browser("NetFront NX", v),
        "Electron" => st.browser("Electron", v),
        "IEMobile" => st.browser("IE Mobile", v),
        _ if ["Bot", "bot", "crawler", "Crawler"]
            .iter()
            .any(|b| t.contains(b)) =>
        {
            st.bot(t, v);
        }
        "Mobile" => {
            st.f.mobile = true;
            st.tag("Mobile", v);
        }
        "Safari" => {
            st.f.safari = true;
            st.tag("Safari", v);
        }
        "CFNetwork" => {
            st.f.cfnetwork = true;
            st.f.ios = true;
        }
        _ if v.is_some_and(|v| v.contains("crawler")) => st.f.crawler = true,
        "OculusBrowser" => st.os_override("Android"),
        _ => st.tag(t, v),
    }
}

/// The version of a token (spec: "Version of a token"); `tag` is the token's tag.
fn ver<'a>(tag: &str, v: Option<&'a str>) -> Version<'a> {
    let Some(v) = v else {
        return Version::one("0.0.0");
    };
    if tag == "Windows" {
        return Version::one(match v {
            "5.1" | "5.2" => "XP",
            "6.0" => "Vista",
            "6.1" => "7",
            "6.3" => "8.1",
            "10.0" => "10",
            _ => "0.0.0",
        });
    }
    let max = if matches!(tag, "YaBrowser" | "Opera" | "NetFront NX") {
        3
    } else {
        4
    };
    let mut out = Version::NONE;
    let pieces = v.split_terminator(['_', ',', '.']).take(max);
    for (i, (slot, piece)) in out.parts.iter_mut().zip(pieces).enumerate() {
        *slot = if i == 1 {
            // The minor part keeps only its leading ASCII digits.
            let digits = piece.bytes().take_while(u8::is_ascii_digit).count();
            piece.get(..digits).unwrap_or(piece)
        } else {
            piece
        };
        out.len += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The four fields as the evaluator compares them. Expected values below are the
    /// official parser's answers (from the conformance corpus where the string is in it).
    fn fields(ua: &str) -> [String; 4] {
        let p = parse(ua);
        [
            p.os_name.to_owned(),
            p.os_version.to_string(),
            p.browser_name.to_owned(),
            p.browser_version.to_string(),
        ]
    }

    #[test]
    fn spec_examples() {
        assert_eq!(
            fields(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_1 like Mac OS X) AppleWebKit/603.1.30 \
                 (KHTML, like Gecko) Version/10.0 Mobile/14E304 Safari/602.1"
            ),
            ["iOS", "10.3.1", "Mobile Safari", "10.0"]
        );
        assert_eq!(
            fields(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/140.0.0.0 Safari/537.36 Edg/140.0.0.0"
            ),
            ["Windows", "10", "Edge", "140.0.0.0"]
        );
    }

    #[test]
    fn degenerate_inputs_give_other() {
        for ua in ["", " ", ";;;", "()", "a b c", "é;ü ñ/ß:𝄞", ":"] {
            assert_eq!(fields(ua), ["Other", "0.0.0", "Other", "0.0.0"], "{ua:?}");
        }
    }

    #[test]
    fn windows_nt_versions_are_mapped() {
        assert_eq!(
            fields(
                "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1; Crazy Browser 1.0.5; \
                 .NET CLR 1.1.4322)"
            ),
            ["Windows", "XP", "IE", "6.0"]
        );
        assert_eq!(
            fields("Mozilla/5.0 (Windows NT 6.1; rv:6.0.1) Gecko/20110830 Thunderbird/6.0.1"),
            ["Windows", "7", "Other", "0.0.0"]
        );
        assert_eq!(
            fields("Mozilla/5.0 (Windows NT 6.3; WOW64; rv:71.0) Gecko/20100101 Firefox/71.0"),
            ["Windows", "8.1", "Firefox", "71.0"]
        );
        // Unmapped versions, and `Windows XP` itself, give 0.0.0.
        assert_eq!(
            fields("Mozilla/5.0 (Windows NT 6.2; WOW64; rv:21.0) Gecko/20130514 Firefox/21.0"),
            ["Windows", "0.0.0", "Firefox", "21.0"]
        );
        assert_eq!(
            fields("Opera/6.04 (Windows XP; U) [en]"),
            ["Windows", "0.0.0", "Opera", "6.04"]
        );
    }

    #[test]
    fn apple_devices() {
        assert_eq!(
            fields(
                "Mozilla/5.0 (iPad; CPU OS 5_1 like Mac OS X) AppleWebKit/534.46 (KHTML, like \
                 Gecko ) Version/5.1 Mobile/9B176 Safari/7534.48.3"
            ),
            ["iOS", "5.1", "Mobile Safari", "5.1"]
        );
        assert_eq!(
            fields("Whatnot v26.25.6 (1), iOS 26.5, iPhone16,1"),
            ["iOS", "26.5", "Mobile Safari UI/WKWebView", "0.0.0"]
        );
        assert_eq!(
            fields(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6_2 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) EdgiOS/139.0.3405.125 Version/18.0 Mobile/15E148 \
                 Safari/604.1"
            ),
            ["iOS", "18.6.2", "Edge Mobile", "139.0.3405.125"]
        );
        assert_eq!(
            fields("ChatGPT/35.1.2 CFNetwork/3826.400.120 Darwin/24.3.0"),
            ["iOS", "0.0.0", "ChatGPT", "35.1.2"]
        );
        assert_eq!(
            fields("iPadiPad"),
            ["iOS", "0.0.0", "Mobile Safari UI/WKWebView", "0.0.0"]
        );
    }

    #[test]
    fn bots_and_crawlers() {
        assert_eq!(
            fields("Googlebot/2.1 (+http://www.googlebot.com/bot.html)"),
            ["Other", "0.0.0", "Googlebot", "2.1"]
        );
        assert_eq!(
            fields("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
            ["Other", "0.0.0", "bingbot", "2.0"]
        );
        assert_eq!(
            fields("TinEye/1.1 (http://tineye.com/crawler.html)"),
            ["Other", "0.0.0", "crawler", "0.0.0"]
        );
    }

    #[test]
    fn version_quirks() {
        // Opera keeps three parts.
        assert_eq!(
            fields(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/133.0.0.0 Safari/537.36 OPR/118.0.0.0"
            ),
            ["Windows", "10", "Opera", "118.0.0"]
        );
        // Chrome with a `Version` token is a WebView.
        assert_eq!(
            fields(
                "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US) AppleWebKit/528.8 (KHTML, like \
                 Gecko) Chrome/2.0.156.0 Version/3.2.1 Safari/528.8"
            ),
            ["Windows", "XP", "Chrome Mobile WebView", "2.0.156.0"]
        );
        // Only a final empty piece is dropped; the minor part keeps its leading digits.
        assert_eq!(fields("Chrome/."), ["Other", "0.0.0", "Chrome", ""]);
        assert_eq!(fields("Chrome/.."), ["Other", "0.0.0", "Chrome", "."]);
        assert_eq!(
            fields("Chrome/1é.2é.3"),
            ["Other", "0.0.0", "Chrome", "1é.2.3"]
        );
        // The second token's own tag decides how its version reads.
        assert_eq!(
            fields("NetworkingExtension/1 Windows NT 6.1 CFNetwork/1"),
            ["Windows", "7", "CFNetwork", "7"]
        );
    }

    #[test]
    fn versions_display_and_parts() {
        assert_eq!(Version::NONE.to_string(), "0.0.0");
        assert!(Version::NONE.parts().is_empty());
        let v = parse("Chrome/1.2.3.4.5").browser_version;
        assert_eq!(v.parts(), ["1", "2", "3", "4"]);
        assert_eq!(v.to_string(), "1.2.3.4");
    }

    #[test]
    fn long_inputs_are_read_to_the_end() {
        // No token capacity: a token after 400 others still counts.
        let ua = format!("{}Chrome/7.1", "abc;".repeat(400));
        assert_eq!(fields(&ua), ["Other", "0.0.0", "Chrome", "7.1"]);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            ";".repeat(1000),
            " ".repeat(1000),
            "iPad ".repeat(200),
            "Windows NT 6.1;".repeat(66),
            "é;ü ñ/ß:𝄞 ".repeat(60),
            "𝄞".repeat(250),
            "iPhoneé iPadü CrOS é Mac OS é Windows NT é/ü:ß".to_owned(),
            "x/ü.é_1 Chrome/1.é2 é/ /é \"\" (( )) ++ __ ,,".to_owned(),
            "\u{0}\u{7f}\u{feff}/\u{10ffff}".to_owned(),
        ];
        for ua in &inputs {
            let p = parse(ua);
            let _ = (p.os_version.to_string(), p.browser_version.to_string());
        }
    }

    #[test]
    fn fields_are_case_insensitive() {
        assert_eq!(Field::from_condition_field("OS_NAME"), Some(Field::OsName));
        assert_eq!(Field::from_condition_field("osName"), Some(Field::OsName));
        assert_eq!(
            Field::from_condition_field("OsVersion"),
            Some(Field::OsVersion)
        );
        assert_eq!(
            Field::from_condition_field("Browser_Name"),
            Some(Field::BrowserName)
        );
        assert_eq!(
            Field::from_condition_field("browserVersion"),
            Some(Field::BrowserVersion)
        );
        assert_eq!(Field::from_condition_field("device"), None);
        assert_eq!(Field::from_condition_field("os name"), None);
    }
}
