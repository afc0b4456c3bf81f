//! The first-party user-agent parser of Statsig's server core, re-implemented without heap
//! allocation (spec section 9).
//!
//! `ua_based` conditions read four fields of the parsed user agent: the OS name and version
//! and the browser name and version. The official core parses with a hand-written
//! tokenizer and a table of rules; this module follows it rule for rule, and the project's
//! conformance test checks it against the official parser's answers on thousands of real
//! user-agent strings.
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

/// The most tokens kept. Every token consumes a word of at least 3 bytes plus a separator,
/// so a user agent of up to 1000 bytes (the longest the evaluator parses) has at most 250.
const MAX_TOKENS: usize = 256;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    parts: [&'a str; 4],
    len: u8,
}

impl<'a> Version<'a> {
    const NONE: Version<'static> = Version {
        parts: [""; 4],
        len: 0,
    };

    fn one(s: &'a str) -> Version<'a> {
        Version {
            parts: [s, "", "", ""],
            len: 1,
        }
    }

    /// The parts (empty when the version is unknown).
    pub fn parts(&self) -> &[&'a str] {
        &self.parts[..usize::from(self.len)]
    }
}

impl fmt::Display for Version<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self.parts();
        if parts.is_empty() {
            return f.write_str("0.0.0");
        }
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(p)?;
        }
        Ok(())
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
    /// The field a condition's `field` names (case-insensitive), if any.
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
            .find(|(n, _)| n.eq_ignore_ascii_case(field))
            .map(|(_, f)| *f)
    }
}

/// A token: a tag and an optional version string.
type Token<'a> = (&'a str, Option<&'a str>);

/// The words of a user agent (split at every `;` and space, empty words kept) seen through
/// a window of four.
struct Window<'a> {
    rest: Option<&'a str>,
    buf: [Option<&'a str>; 4],
}

impl<'a> Window<'a> {
    fn new(ua: &'a str) -> Window<'a> {
        let mut w = Window {
            rest: Some(ua),
            buf: [None; 4],
        };
        for i in 0..4 {
            w.buf[i] = w.next_word();
        }
        w
    }

    fn next_word(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.find([';', ' ']) {
            Some(i) => {
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }

    fn slide(&mut self, k: usize) {
        for _ in 0..k {
            self.buf.rotate_left(1);
            self.buf[3] = self.next_word();
        }
    }

    fn is_empty(&self) -> bool {
        self.buf[0].is_none()
    }
}

fn trim(x: Option<&str>) -> Option<&str> {
    let t = x?.trim_matches(|c| matches!(c, '(' | ')' | ';' | ',' | '+' | '_' | '"'));
    (!t.is_empty()).then_some(t)
}

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

struct State<'a> {
    tokens: [Token<'a>; MAX_TOKENS],
    len: usize,
    possible_os: Option<Token<'a>>,
    possible_browser: Option<Token<'a>>,
    f: Flags,
}

impl<'a> State<'a> {
    fn tag(&mut self, t: &'a str, v: Option<&'a str>) {
        if let Some(slot) = self.tokens.get_mut(self.len) {
            *slot = (t, v);
            self.len += 1;
        }
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

    fn tokens(&self) -> &[Token<'a>] {
        &self.tokens[..self.len]
    }
}

/// `num(x)`: `x` if it starts with an ASCII digit (and then the window slides by one).
fn num<'a>(w: &mut Window<'a>, x: Option<&'a str>) -> Option<&'a str> {
    let x = x.filter(|x| x.as_bytes().first().is_some_and(u8::is_ascii_digit))?;
    w.slide(1);
    Some(x)
}

/// Text after a leading `prefix`, up to the next occurrence of `prefix`.
fn after_prefix<'a>(c: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &c[prefix.len()..];
    let end = rest.find(prefix).unwrap_or(rest.len());
    trim(Some(&rest[..end]))
}

/// Parses a user agent.
pub fn parse(ua: &str) -> UserAgent<'_> {
    let mut st = State {
        tokens: [("", None); MAX_TOKENS],
        len: 0,
        possible_os: None,
        possible_browser: None,
        f: Flags::default(),
    };
    let mut w = Window::new(ua);
    while !w.is_empty() {
        let [c, n1, n2, n3] = w.buf.map(trim);
        let Some(c) = c else {
            w.slide(1);
            continue;
        };
        let (n1, n2) = (n1.unwrap_or(""), n2.unwrap_or(""));
        if c.starts_with("AppleTV") {
            st.tag("ATV OS X", None);
            w.slide(1);
        } else if c == "like" && n1 == "Mac" && n2 == "OS" {
            w.slide(3);
        } else if c == "Mac" && n1 == "OS" && n2 == "X" {
            st.f.macos = true;
            let v = num(&mut w, n3);
            st.os("Mac OS X", v);
            w.slide(2);
        } else if c == "Mac" && n1 == "OS" {
            st.f.macos = true;
            let v = num(&mut w, Some(n2).filter(|s| !s.is_empty()));
            st.os("Mac OS X", v);
            w.slide(2);
        } else if c == "iOS" {
            let v = num(&mut w, nonempty(n1));
            st.os("iOS", v);
            st.f.ios = true;
            w.slide(1);
        } else if c == "iPhone" && n1 == "OS" {
            let v = num(&mut w, nonempty(n2));
            st.os("iOS", v);
            w.slide(1);
        } else if c == "iPadOS" {
            let v = num(&mut w, nonempty(n1));
            st.os("iOS", v);
            st.f.ios = true;
            w.slide(1);
        } else if c.starts_with("iPad") {
            st.f.ios = true;
            st.tag("iPad", after_prefix(c, "iPad"));
        } else if c.starts_with("iPhone") {
            st.f.ios = true;
            st.tag("iPhone", after_prefix(c, "iPhone"));
        } else if c.starts_with("Apple-iPhone7C2") {
            st.f.ios = true;
            st.tag("iPhone", None);
        } else if c == "CPU" && n1 == "OS" {
            let v = num(&mut w, nonempty(n2));
            st.tag("CPU OS", v);
            w.slide(1);
        } else if c == "CrOS" {
            let mut v = num(&mut w, nonempty(n1));
            if v.is_none() {
                w.slide(1);
                v = num(&mut w, nonempty(n2));
            }
            st.os("Chrome OS", v);
        } else if c == "CrKey" {
            st.os("Chromecast", None);
        } else if c == "PlayStation" {
            st.f.playstation = true;
            st.tag("PlayStation", None);
        } else if c == "Android" {
            let v = num(&mut w, nonempty(n1));
            st.os("Android", v);
        } else if c == "Windows" && n1 == "Phone" {
            let v = num(&mut w, nonempty(n2));
            st.os("Windows Phone", v);
            w.slide(1);
        } else if c.starts_with("Windows") {
            st.f.windows = true;
            let v = if n1 == "NT" {
                let v = num(&mut w, nonempty(n2));
                if v.is_some() {
                    w.slide(1);
                }
                v
            } else if n1.starts_with("XP") {
                w.slide(1);
                Some("XP")
            } else {
                num(&mut w, nonempty(n1))
            };
            st.os("Windows", v);
        } else if c == "MSIE" {
            let v = num(&mut w, nonempty(n1));
            st.browser("IE", v);
        } else if c == "Yahoo!" && n1 == "Slurp" {
            st.tag("Yahoo! Slurp", None);
            w.slide(1);
        } else if c == "Red" && n1 == "Hat" {
            st.os("Red Hat", None);
            w.slide(1);
        } else if c == "Ubuntu" {
            let v = num(&mut w, nonempty(n1));
            st.os("Ubuntu", v);
        } else if c == "Mobile" {
            st.f.mobile = true;
            st.tag("Mobile", None);
        } else if c == "Linux" || c == "linux" {
            st.f.linux = true;
            st.tag("Linux", None);
        } else if c == "Nintendo" && n1 == "3DS" {
            st.tag("NetFront NX", None);
            w.slide(1);
        } else if c == "like" || c.len() <= 2 {
            w.slide(1);
            continue;
        } else if c == "Better" && n1 == "Uptime" && n2 == "Bot" {
            st.bot("Better Uptime Bot", None);
        } else if c == "Radius" && n1 == "Compilance" && n2 == "Bot" {
            st.bot("Radius Compilance Bot", None);
        } else if c == "AdsBot-Google-Mobile" {
            st.bot("AdsBot-Google", None);
        } else if c == "Uptime" && n1 == "Monitoring" && n2 == "Bot" {
            st.bot("Uptime Monitoring Bot", None);
        } else {
            other_word(&mut st, c);
        }
        w.slide(1);
    }
    finish(&st)
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Row 30 of the rule table: `name/version` words and the catch-all.
fn other_word<'a>(st: &mut State<'a>, c: &'a str) {
    let (t, v) = match c.find(['/', ';', ':']) {
        Some(i) => {
            let t = trim(Some(&c[..i])).unwrap_or(c);
            (t, trim(Some(&c[i + 1..])))
        }
        None => (c, None),
    };
    let mac_to_ios = |st: &mut State<'a>| {
        if st.possible_os.is_some_and(|(tag, _)| tag == "Mac OS X") {
            st.os_override("iOS");
        }
    };
    match t {
        "Kindle" => {
            if st.possible_os.is_none() && v.is_some() {
                st.possible_os = Some((t, v));
            }
            st.browser(t, v);
        }
        "FxiOS" => st.browser("Firefox iOS", v),
        "EdgiOS" => {
            mac_to_ios(st);
            st.browser("Edge Mobile", v);
        }
        "CriOS" => {
            st.f.ios = true;
            mac_to_ios(st);
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

/// The version of a token (spec: "Version of a token").
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
    let mut pieces = v.split(['_', ',', '.']).peekable();
    while let Some(p) = pieces.next() {
        // Only a final empty piece is dropped.
        if p.is_empty() && pieces.peek().is_none() {
            break;
        }
        let i = usize::from(out.len);
        if i >= max {
            break;
        }
        out.parts[i] = if i == 1 {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            &p[..digits]
        } else {
            p
        };
        out.len += 1;
    }
    out
}

fn finish<'a>(st: &State<'a>) -> UserAgent<'a> {
    let (os_name, os_version) = os(st);
    let (browser_name, browser_version) = browser(st);
    UserAgent {
        os_name,
        os_version,
        browser_name,
        browser_version,
    }
}

fn os<'a>(st: &State<'a>) -> (&'a str, Version<'a>) {
    if let Some((t, v)) = st.possible_os {
        return (t, ver(t, v));
    }
    let f = &st.f;
    for &(t, v) in st.tokens() {
        match t {
            "ATV OS X" => return (t, Version::NONE),
            "iPhone OS" | "iOS" => return ("iOS", ver(t, v)),
            "CPU OS" if f.ios => return ("iOS", ver(t, v)),
            "Version" if f.ios && f.macos => return ("iOS", ver(t, v)),
            "CFNetwork" => return ("iOS", Version::NONE),
            "Android" => return ("Android", ver(t, v)),
            _ if t.starts_with("Android") => return ("Android", Version::NONE),
            "Chromecast" | "Red Hat" => return (t, Version::NONE),
            "Kindle" | "Ubuntu" => return (t, ver(t, v)),
            _ => {}
        }
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

fn browser<'a>(st: &State<'a>) -> (&'a str, Version<'a>) {
    if let Some((t, v)) = st.possible_browser {
        return (t, ver(t, v));
    }
    let f = &st.f;
    let (mut android, mut version, mut chrome) = (None, None, None);
    for &(t, v) in st.tokens() {
        let name = match t {
            "Android" => {
                android = Some(v);
                continue;
            }
            "Version" => {
                version = Some(v);
                continue;
            }
            "Chrome" => {
                chrome = Some(v);
                continue;
            }
            "Firefox" if f.mobile => "Firefox Mobile",
            "Firefox" => "Firefox",
            "Yahoo! Slurp" => return (t, Version::NONE),
            "Silk" if f.playstation => return ("NetFront NX", Version::NONE),
            "Silk" => "Amazon Silk",
            "NetFront NX" => "NetFront NX",
            "YaBrowser" => "Yandex Browser",
            "Edge" if f.mobile => "Edge Mobile",
            "Edge" => "Edge",
            "Opera" if f.mobile => "Opera Mobile",
            "Opera" => "Opera",
            "axios" | "HeadlessChrome" => t,
            _ => continue,
        };
        return (name, ver(t, v));
    }
    if let Some(cv) = chrome {
        if version.is_some() {
            return ("Chrome Mobile WebView", ver("Chrome", cv));
        }
        if f.mobile && cv.is_some() && !f.huawei {
            return ("Chrome Mobile", ver("Chrome", cv));
        }
        if cv.is_none() {
            if let Some(av) = android {
                return ("Android", ver("Android", av));
            }
        }
        return ("Chrome", ver("Chrome", cv));
    }
    if let Some(av) = android {
        return ("Android", ver("Android", av));
    }
    let tokens = st.tokens();
    if f.cfnetwork {
        if let Some(&(t, v)) = tokens.first() {
            if t == "NetworkingExtension" {
                let v = tokens.get(1).and_then(|&(_, v)| v);
                return ("CFNetwork", ver("CFNetwork", v));
            }
            return (t, ver(t, v));
        }
    }
    if f.safari {
        let v = version.flatten();
        let name = if f.mobile && !f.macos {
            "Mobile Safari"
        } else {
            "Safari"
        };
        return (name, ver("Version", v));
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for ua in ["", " ", ";;;", "()", "a b c"] {
            assert_eq!(fields(ua), ["Other", "0.0.0", "Other", "0.0.0"], "{ua:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let long = ";".repeat(5000);
        let words = "iPad ".repeat(400);
        for ua in [
            "é;ü ñ/ß:𝄞",
            "iPadiPad",
            "iPhoneé",
            "Windows NT",
            "Mac OS",
            "CrOS",
            "x/ü.é_1",
            &long,
            &words,
        ] {
            let _ = parse(ua).os_version.to_string();
        }
    }

    #[test]
    fn fields_are_case_insensitive() {
        assert_eq!(Field::from_condition_field("OS_NAME"), Some(Field::OsName));
        assert_eq!(
            Field::from_condition_field("browserVersion"),
            Some(Field::BrowserVersion)
        );
        assert_eq!(Field::from_condition_field("device"), None);
    }
}
