//! Placeholder until the user-agent parser lands.
#![allow(missing_docs, dead_code)]
pub fn parse(_ua: &str) -> UserAgent<'_> {
    UserAgent {
        os_name: "Other",
        os_version: Version {
            parts: [""; 4],
            len: 0,
        },
        browser_name: "Other",
        browser_version: Version {
            parts: [""; 4],
            len: 0,
        },
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAgent<'a> {
    pub os_name: &'a str,
    pub os_version: Version<'a>,
    pub browser_name: &'a str,
    pub browser_version: Version<'a>,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    parts: [&'a str; 4],
    len: u8,
}
impl<'a> Version<'a> {
    pub fn parts(&self) -> &[&'a str] {
        &self.parts[..self.len as usize]
    }
}
impl core::fmt::Display for Version<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.len == 0 {
            return f.write_str("0.0.0");
        }
        f.write_str(&self.parts().join("."))
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    OsName,
    OsVersion,
    BrowserName,
    BrowserVersion,
}
impl Field {
    pub fn from_condition_field(field: &str) -> Option<Field> {
        match field.to_lowercase().as_str() {
            "os_name" | "osname" => Some(Field::OsName),
            "os_version" | "osversion" => Some(Field::OsVersion),
            "browser_name" | "browsername" => Some(Field::BrowserName),
            "browser_version" | "browserversion" => Some(Field::BrowserVersion),
            _ => None,
        }
    }
}
