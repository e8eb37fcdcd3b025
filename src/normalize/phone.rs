//! Phone number normalisation.
//!
//! Phones arrive in any human format (`+55 11 98765-4321`, `(11) 98765-4321`,
//! `0055 11 987654321`, `415.555.2671 ext. 12`, `tel:+5511987654321`, full-width digits, …).
//! [`normalize_phone`] turns one into E.164 plus the digits that were typed, and
//! [`phone_query`] does the same for a search query so both sides produce the same keys.
//!
//! Callers normalise once at ingest and store the result. Most numbers are read by
//! [`quick_reading`]: country code and national number split by the metadata, validity by
//! patterns compiled once per country code. The others (a national or international prefix to
//! strip, the country code typed without `+`) go to the `phonenumber` parser, which holds a
//! process-wide lock around its regex cache. On 325k generated phones (region BR) the quick
//! reading answered 77 % at ~0.5 µs a number; the parser took ~5–6 µs a number.

use phonenumber::country::Id;
use phonenumber::metadata::DATABASE;
use phonenumber::PhoneNumber;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};
use unicode_normalization::UnicodeNormalization;

/// Fewer digits than this is not a phone number.
const MIN_DIGITS: usize = 5;
/// Fewer digits than this in a query is not worth a phone lookup.
const MIN_QUERY_DIGITS: usize = 4;
/// A query needs this many digits before it is parsed as a full number.
const MIN_QUERY_PARSE_DIGITS: usize = 7;
/// More digits than this cannot be a phone number, even with an international prefix; such a
/// value is kept unverified without asking the parser.
const MAX_PARSE_DIGITS: usize = 20;
/// Entries in phonenumber's regex cache (the crate's default is 100).
const CRATE_REGEX_CACHE: usize = 2048;

/// A normalised phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNorm {
    /// The text as given, untouched.
    pub raw: String,
    /// E.164 form (`+` then digits, no extension) when the value parsed as a phone number,
    /// valid or not.
    pub e164: Option<String>,
    /// The national significant number (digits only, leading zeros that belong to the number
    /// kept, as in Italy) when the value parsed.
    pub national: Option<String>,
    /// Every ASCII digit of the text after NFKC (and other scripts' digits mapped to ASCII),
    /// without the extension: `"+55 (11) 98765-4321"` → `"5511987654321"`.
    pub digits: String,
    /// The number parsed and is valid for its country according to libphonenumber metadata.
    pub verified: bool,
}

/// Why a value is not accepted as a phone number. Each message quotes the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum PhoneError {
    /// Fewer than 5 digits.
    #[error("phone {value:?} is too short: a phone number needs at least 5 digits")]
    TooShort {
        /// The value as given (trimmed).
        value: String,
    },
    /// Letters or symbols that no phone number has.
    #[error(
        "phone {value:?} contains characters that are not part of a phone number \
         (use digits, spaces, + - ( ) . / and optionally an extension such as \"ext. 12\")"
    )]
    InvalidChars {
        /// The value as given (trimmed).
        value: String,
    },
    /// Strict mode only: the value looks like a phone number but is not a valid one.
    #[error(
        "phone {value:?} is not a valid phone number for its country \
         (check the country code, the area code and the number of digits)"
    )]
    Unverified {
        /// The value as given (trimmed).
        value: String,
    },
}

/// A search query that looks like a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneQuery {
    /// E.164 form when the query has at least 7 digits and parses as a number (computed exactly
    /// as [`normalize_phone`] computes it, so it matches stored `e164` values).
    pub e164: Option<String>,
    /// The query's digits, without an extension.
    pub digits: String,
}

/// Parses a region code such as `"BR"`, `"br"`, `" us "` or `"DE"` (ISO 3166 alpha-2, any
/// case). `"UK"` is accepted as `GB`. `None` for anything else.
pub fn parse_region(s: &str) -> Option<Id> {
    let code = s.trim().to_ascii_uppercase();
    if code == "UK" {
        return Some(Id::GB);
    }
    if code.len() != 2 {
        return None;
    }
    code.parse().ok()
}

/// Normalises a phone number typed by a person.
///
/// Accepts digits with spaces (including NBSP), `+ - ( ) . /` and dash look-alikes, an optional
/// leading `tel:` and an optional trailing extension (`ext. 12`, `x12`, `#12`, `ramal 12`,
/// `;ext=12`). Full-width and other Unicode digits are folded to ASCII. A number without a
/// country code is read with `region`; one written with a `+`, or with the region's
/// international prefix, carries its own country. `0055 11 …` is also read as `+55 11 …` when
/// the region's rules do not make it valid.
///
/// * fewer than 5 digits → [`PhoneError::TooShort`];
/// * other letters or symbols → [`PhoneError::InvalidChars`];
/// * otherwise the value is kept: `e164`/`national` are set when it parses and `verified`
///   tells whether it is a valid number. With `strict`, an unverified value is
///   [`PhoneError::Unverified`] instead.
///
/// Normalising an `e164` output again yields the same `e164`.
pub fn normalize_phone(raw: &str, region: Id, strict: bool) -> Result<PhoneNorm, PhoneError> {
    let value = || raw.trim().to_string();
    let cleaned = clean(raw).ok_or_else(|| PhoneError::InvalidChars { value: value() })?;
    if cleaned.digits.len() < MIN_DIGITS {
        return Err(PhoneError::TooShort { value: value() });
    }
    let parsed = parse_number(&cleaned, region);
    let verified = parsed.as_ref().is_some_and(|r| r.valid);
    if strict && !verified {
        return Err(PhoneError::Unverified { value: value() });
    }
    let (e164, national) = parsed.map(|r| (r.e164, r.national)).unzip();
    Ok(PhoneNorm {
        raw: raw.to_string(),
        e164,
        national,
        digits: cleaned.digits,
        verified,
    })
}

/// Reads a search query as a phone number.
///
/// Returns `None` unless the query has only phone characters (as for [`normalize_phone`]) and
/// at least 4 digits: `"98765-4321"`, `"+55 (11) 98765 4321"` and `"4321"` are phone-like,
/// `"ana 4321"` is not. `e164` is set when the query has at least 7 digits and parses with
/// `region`.
pub fn phone_query(q: &str, region: Id) -> Option<PhoneQuery> {
    let cleaned = clean(q)?;
    if cleaned.digits.len() < MIN_QUERY_DIGITS {
        return None;
    }
    let e164 = if cleaned.digits.len() >= MIN_QUERY_PARSE_DIGITS {
        parse_number(&cleaned, region).map(|r| r.e164)
    } else {
        None
    };
    Some(PhoneQuery {
        e164,
        digits: cleaned.digits,
    })
}

/// The phone-relevant content of a value.
#[derive(Debug, PartialEq)]
struct Cleaned {
    /// The number starts with `+` (before any digit).
    has_plus: bool,
    /// ASCII digits of the number, without the extension.
    digits: String,
}

/// NFKC, Unicode digits to ASCII, `tel:` and extension removed; `None` when a character is
/// not one a phone number has.
fn clean(raw: &str) -> Option<Cleaned> {
    let s: String = raw.nfkc().map(ascii_digit).collect();
    let mut t = s.trim();
    if t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tel:")) {
        t = t[4..].trim_start();
    }
    let main = strip_extension(t);
    let mut digits = String::with_capacity(main.len());
    let mut has_plus: Option<bool> = None;
    for c in main.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            has_plus.get_or_insert(false);
        } else if c == '+' {
            has_plus.get_or_insert(true);
        } else if !is_phone_punct(c) {
            return None;
        }
    }
    Some(Cleaned {
        has_plus: has_plus == Some(true),
        digits,
    })
}

/// Separators people put inside phone numbers.
fn is_phone_punct(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '(' | ')' | '.' | '/' | '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// Maps decimal digits of other scripts (Arabic-Indic, Persian, Devanagari, Bengali, Thai, …)
/// to ASCII; NFKC has already handled full-width and mathematical digits.
fn ascii_digit(c: char) -> char {
    const ZEROS: [u32; 17] = [
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50, 0x0ED0,
        0x0F20, 0x1040, 0x17E0,
    ];
    let u = c as u32;
    for z in ZEROS {
        if (z..z + 10).contains(&u) {
            return char::from(b'0' + (u - z) as u8);
        }
    }
    c
}

/// Extension markers, longest first. Matched without regard to ASCII case.
const EXT_MARKERS: [&str; 9] = [
    ";ext=",
    "extension",
    "extensión",
    "extn",
    "ext",
    "ramal",
    "anexo",
    "x",
    "#",
];

/// `t` without a trailing extension (`ext. 12`, `x12`, `#12`, …). A marker counts only after
/// the number itself and only when digits (and nothing else) follow it.
fn strip_extension(t: &str) -> &str {
    for (i, _) in t.char_indices().skip(1) {
        let rest = &t[i..];
        for marker in EXT_MARKERS {
            let Some(head) = rest.get(..marker.len()) else { continue };
            if !head.eq_ignore_ascii_case(marker) {
                continue;
            }
            let after = &rest[marker.len()..];
            let after = after.strip_prefix('.').unwrap_or(after);
            let after = after.strip_prefix([':', '=']).unwrap_or(after).trim_start();
            let ext_len = after.bytes().take_while(u8::is_ascii_digit).count();
            let tail = after[ext_len..].trim();
            if ext_len > 0 && (tail.is_empty() || tail == "#") && t[..i].bytes().any(|b| b.is_ascii_digit()) {
                return &t[..i];
            }
        }
    }
    t
}

/// Reads the cleaned number ([`quick_reading`], else [`crate_reading`]), or `None` when it
/// does not parse.
fn parse_number(c: &Cleaned, region: Id) -> Option<Reading> {
    if c.digits.len() > MAX_PARSE_DIGITS {
        return None;
    }
    quick_reading(c, region).or_else(|| {
        crate_reading(c, region).map(|(n, valid)| Reading {
            e164: e164_of(&n),
            national: n.national().to_string(),
            valid,
        })
    })
}

/// A number read from its digits.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reading {
    /// `+`, country code, national significant number.
    e164: String,
    national: String,
    /// Valid for its country (see [`plausible`]).
    valid: bool,
}

/// The common case without the `phonenumber` parser: the digits are the country code and a
/// national number as it stands (`+55 11 98765-4321`, or `(11) 98765-4321` in region BR),
/// valid or not. `None` whenever the parser could read the digits differently (an
/// international or national prefix, the region's country code in front), and the parser
/// then decides; so both give the same reading (see the tests).
fn quick_reading(c: &Cleaned, region: Id) -> Option<Reading> {
    let d = c.digits.as_str();
    let (code, national, regions) = if c.has_plus {
        // country calling codes are prefix-free: one of the first 1–3 digits is one, or none
        if d.starts_with('0') {
            return None; // no country code starts with 0; the parser refuses it
        }
        let (code, k, regions) = (1..=3).find_map(|k| {
            let code: u16 = d.get(..k)?.parse().ok()?;
            let regions = patterns_for(code);
            (!regions.is_empty()).then_some((code, k, regions))
        })?;
        (code, &d[k..], regions)
    } else {
        let code = DATABASE.by_id(region.as_ref())?.country_code();
        let regions = patterns_for(code);
        let home = regions.iter().find(|r| r.id == region.as_ref())?;
        if d.starts_with(&code.to_string()) || home.international_prefix.as_ref().is_some_and(|re| re.is_match(d)) {
            return None;
        }
        (code, d, regions)
    };
    // E.164 numbers have at most 15 digits; anything longer is the parser's to refuse
    if national.is_empty() || national.starts_with("00") || national.len() > 14 || regions.iter().any(|r| r.opaque) {
        return None;
    }
    // A national prefix ("0", "8", Brazil's carrier codes) in front: the parser strips it by
    // its region's rule, so such a number is left to it. That includes a plain prefix the
    // number needs: `phonenumber` 0.3.10 reads `+7 812 123-45-67` as `+7 121234567` (it
    // strips the 8 of St Petersburg's area code, where libphonenumber keeps it); following
    // it keeps every spelling of a number, and numbers stored before, on one key.
    if regions.iter().any(|r| match (&r.national_prefix, &r.plain_prefix) {
        (Some(re), _) => re.is_match(national),
        (None, Some(p)) => national.starts_with(p.as_str()),
        (None, None) => false,
    }) {
        return None;
    }
    let valid = regions.iter().any(|r| r.valid(national));
    let e164 = format!("+{code}{national}");
    (e164.len() > MIN_DIGITS).then(|| Reading {
        e164,
        national: national.to_string(),
        valid,
    })
}

/// The `phonenumber` parser's reading: `(number, is_valid)`, or `None` when it does not parse.
///
/// phonenumber 0.3.10 strips national prefixes with the *default region's* rules even when the
/// number carries another country code (`+39 06…` read with region BR loses its `0`), so a
/// number with its own country code is always parsed without a default region.
fn crate_reading(c: &Cleaned, region: Id) -> Option<(PhoneNumber, bool)> {
    static CRATE_CACHE: std::sync::Once = std::sync::Once::new();
    CRATE_CACHE.call_once(|| {
        // The parser's own patterns (national prefixes, formats) share phonenumber's regex
        // LRU; 100 entries thrash on contacts from many countries, each miss a recompile.
        if let Ok(mut cache) = DATABASE.cache().lock() {
            cache.set_capacity(CRATE_REGEX_CACHE);
        }
    });
    if c.has_plus {
        return parse_international(&c.digits);
    }
    let region_code = DATABASE.by_id(region.as_ref()).map(|m| m.country_code());
    let first = match phonenumber::parse(Some(region), &c.digits) {
        Ok(n) if Some(n.code().value()) != region_code => {
            // The digits carried their own country code, after an international prefix
            // ("011 44 20…" in the US) or without one: read them again from that code on.
            let code = n.code().value().to_string();
            from_country_code(&c.digits, &code).or_else(|| checked(n))
        }
        Ok(n) => checked(n),
        Err(_) => None,
    };
    if matches!(first, Some((_, true))) {
        return first;
    }
    // "00" is the international prefix in most of the world; the region's own rules (Brazil's
    // carrier codes, say) may read it differently, so also try it as "+" and take that when it
    // gives a valid number.
    if let Some(rest) = c.digits.strip_prefix("00") {
        if let Some(found @ (_, true)) = parse_international(rest) {
            return Some(found);
        }
    }
    first
}

/// Re-reads `digits` as an international number starting at `code`, skipping an international
/// prefix (which starts with `0`) before it.
fn from_country_code(digits: &str, code: &str) -> Option<(PhoneNumber, bool)> {
    let start = (0..=digits.len().min(5))
        .find(|&p| digits.get(p..).is_some_and(|d| d.starts_with(code)) && (p == 0 || digits.starts_with('0')))?;
    parse_international(&digits[start..])
}

/// Parses `+digits` with no default region.
fn parse_international(digits: &str) -> Option<(PhoneNumber, bool)> {
    if digits.starts_with('0') {
        return None;
    }
    phonenumber::parse(None, format!("+{digits}")).ok().and_then(checked)
}

/// Pairs a parsed number with its validity; drops results whose E.164 would be shorter than a
/// phone number can be.
fn checked(n: PhoneNumber) -> Option<(PhoneNumber, bool)> {
    if e164_of(&n).len() <= MIN_DIGITS {
        return None;
    }
    let valid = plausible(&n);
    Some((n, valid))
}

/// Validity as libphonenumber defines it (the number matches its country's general pattern
/// and one of its number types), checking the common types first: mobile and fixed line
/// decide almost every real number with two or three regexes. `phonenumber::is_valid` tries
/// the rare types (premium rate, pager, UAN…) first; on mixed-country data those overflow
/// the crate's 100-entry regex cache and nearly every call recompiles regexes (measured
/// here: ~1,000 contacts/s instead of ~15,000). The patterns come from [`patterns_for`]:
/// compiled once per country code, matched without the crate's global cache lock.
fn plausible(n: &PhoneNumber) -> bool {
    let national = n.national().to_string();
    patterns_for(n.code().value()).iter().any(|r| r.valid(&national))
}

/// One number type's pattern, as `phonenumber`'s `Descriptor::is_match` reads it: the possible
/// lengths first, then the pattern matched from the start of the national number.
struct TypePattern {
    re: regex::Regex,
    lengths: Vec<u16>,
}

impl TypePattern {
    fn of(d: &phonenumber::metadata::Descriptor) -> Option<TypePattern> {
        let re = anchored(d.national_number().as_str())?;
        Some(TypePattern {
            re,
            lengths: d.possible_length().to_vec(),
        })
    }

    fn matches(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16))) && self.re.is_match(national)
    }
}

/// The patterns of one region: its general description and its number types, common first,
/// and its prefixes as the parser reads them from the start of the digits.
struct RegionPatterns {
    id: String,
    /// `None` (and `opaque`) if it did not compile: nothing is valid in the region then.
    general: Option<TypePattern>,
    types: Vec<TypePattern>,
    international_prefix: Option<regex::Regex>,
    national_prefix: Option<regex::Regex>,
    /// The national prefix, where the region has no rule for parsing it.
    plain_prefix: Option<String>,
    /// A pattern did not compile here: the quick path leaves the code to the parser.
    opaque: bool,
}

impl RegionPatterns {
    /// Valid in this region: its general pattern and one of its number types match.
    fn valid(&self, national: &str) -> bool {
        self.general.as_ref().is_some_and(|g| g.matches(national)) && self.types.iter().any(|t| t.matches(national))
    }
}

/// A metadata pattern anchored at the start, compiled the way `phonenumber` compiles it.
fn anchored(source: &str) -> Option<regex::Regex> {
    // the digits matched are ASCII: without Unicode classes (`\d` is [0-9]), a pattern
    // compiles in a fraction of the time, and a country's ~10 patterns are compiled at its
    // first number (a quarter of a 30k-contact import's instructions with Unicode on)
    regex::RegexBuilder::new(&format!("^(?:{source})"))
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

/// The compiled patterns of every region sharing a country code, built on first use.
/// `phonenumber` keeps its patterns in one process-wide LRU of 100 regexes behind a mutex,
/// hashing the pattern text on every match; with many countries that cache thrashes and
/// every thread waits on its lock.
fn patterns_for(code: u16) -> Arc<Vec<RegionPatterns>> {
    static PATTERNS: LazyLock<RwLock<HashMap<u16, Arc<Vec<RegionPatterns>>>>> =
        LazyLock::new(|| RwLock::new(HashMap::new()));
    if let Some(p) = PATTERNS.read().ok().and_then(|m| m.get(&code).cloned()) {
        return p;
    }
    let regions: Vec<RegionPatterns> = DATABASE
        .by_code(&code)
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let d = m.descriptors();
            let described: Vec<_> = [
                d.mobile(),
                d.fixed_line(),
                d.toll_free(),
                d.voip(),
                d.shared_cost(),
                d.premium_rate(),
                d.personal_number(),
                d.uan(),
                d.pager(),
                d.voicemail(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let types: Vec<TypePattern> = described.iter().copied().filter_map(TypePattern::of).collect();
            let mut opaque = types.len() < described.len();
            let mut prefix = |source: Option<&str>| {
                let re = source.map(anchored);
                opaque |= matches!(re, Some(None));
                re.flatten()
            };
            let international_prefix = prefix(m.international_prefix().map(|r| r.as_str()));
            let national_prefix = prefix(m.national_prefix_for_parsing().map(|r| r.as_str()));
            let general = TypePattern::of(d.general());
            opaque |= general.is_none();
            RegionPatterns {
                id: m.id().to_string(),
                general,
                types,
                international_prefix,
                national_prefix,
                plain_prefix: m.national_prefix().filter(|p| !p.is_empty()).map(str::to_string),
                opaque,
            }
        })
        .collect();
    let regions = Arc::new(regions);
    if let Ok(mut m) = PATTERNS.write() {
        m.entry(code).or_insert_with(|| regions.clone());
    }
    regions
}

/// E.164 of a parsed number: `+`, country code, national significant number.
fn e164_of(n: &PhoneNumber) -> String {
    format!("+{}{}", n.code().value(), n.national())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every region's patterns compile as ASCII-only regexes: none falls back to the parser
    /// (`opaque`) for a pattern of ours that failed.
    #[test]
    fn every_region_pattern_compiles_without_unicode() {
        let mut regions = 0;
        for code in 1..1000u16 {
            for r in patterns_for(code).iter() {
                regions += 1;
                assert!(
                    !r.opaque,
                    "region {} of +{code} has a pattern that did not compile",
                    r.id
                );
            }
        }
        assert!(regions > 200, "{regions} regions");
    }

    /// The quick path and the parser read every number alike; the quick path answers the
    /// common forms itself.
    #[test]
    fn quick_reading_agrees_with_the_parser() {
        let cases: &[(&str, Id)] = &[
            ("+55 11 98765-4321", Id::BR),
            ("(11) 98765-4321", Id::BR),
            ("11 3456-7890", Id::BR),
            ("011 98765 4321", Id::BR),
            ("0055 11 98765 4321", Id::BR),
            ("0 15 11 98765 4321", Id::BR),
            ("5511987654321", Id::BR),
            ("98765-4321", Id::BR),
            ("+1 415 555 2671", Id::US),
            ("(415) 555-2671", Id::US),
            ("1 415 555 2671", Id::US),
            ("011 44 20 7946 0018", Id::US),
            ("+1 242 357 1234", Id::BR),
            ("+44 20 7946 0018", Id::BR),
            ("+44 (0) 20 7946 0018", Id::GB),
            ("020 7946 0018", Id::GB),
            ("07700 900123", Id::GB),
            ("+39 06 6982 1234", Id::BR),
            ("06 6982 1234", Id::IT),
            ("+33 6 12 34 56 78", Id::FR),
            ("06 12 34 56 78", Id::FR),
            ("+49 30 1234567", Id::DE),
            ("030 1234567", Id::DE),
            ("+49 1512 3456789", Id::BR),
            ("+34 612 34 56 78", Id::ES),
            ("612 34 56 78", Id::ES),
            ("+7 812 123-45-67", Id::RU),
            ("+7 812 123-45-67", Id::BR),
            ("+01 415 555 2671", Id::BR),
            ("+044 20 7946 0018", Id::BR),
            ("+1 99999999999999999", Id::US),
            ("8 812 123-45-67", Id::RU),
            ("8 (916) 123-45-67", Id::RU),
            ("+7 916 123 45 67", Id::BR),
            ("+54 9 11 1234-5678", Id::AR),
            ("011 15 1234-5678", Id::AR),
            ("+52 1 55 1234 5678", Id::MX),
            ("55 1234 5678", Id::MX),
            ("+86 139 1234 5678", Id::CN),
            ("139 1234 5678", Id::CN),
            ("+81 90-1234-5678", Id::JP),
            ("090-1234-5678", Id::JP),
            ("+91 98765 43210", Id::IN),
            ("098765 43210", Id::IN),
            ("+971 50 123 4567", Id::AE),
            ("050 123 4567", Id::AE),
            ("+61 412 345 678", Id::AU),
            ("0412 345 678", Id::AU),
            ("+234 803 123 4567", Id::NG),
            ("+351 912 345 678", Id::PT),
            ("+55 11 1234", Id::BR),
            ("+999 1234 5678", Id::BR),
            ("12345", Id::BR),
            ("+12345678901234567", Id::US),
        ];
        let mut quick = 0;
        for (raw, region) in cases {
            let c = clean(raw).expect("phone characters");
            let by_parser = crate_reading(&c, *region).map(|(n, valid)| Reading {
                e164: e164_of(&n),
                national: n.national().to_string(),
                valid,
            });
            if let Some(q) = quick_reading(&c, *region) {
                quick += 1;
                assert_eq!(Some(q), by_parser, "{raw} in {region:?}");
            }
        }
        for (raw, region) in [
            ("+55 11 98765-4321", Id::BR),
            ("(11) 98765-4321", Id::BR),
            ("+1 415 555 2671", Id::BR),
            ("(415) 555-2671", Id::US),
            ("+49 30 1234567", Id::BR),
        ] {
            let c = clean(raw).expect("phone characters");
            assert!(
                quick_reading(&c, region).is_some(),
                "{raw}: the quick path should read it"
            );
        }
        assert!(quick >= 15, "the quick path read only {quick} of {}", cases.len());
        // every spelling of one number gets one key, as the parser reads it
        let key = |raw: &str| normalize_phone(raw, Id::RU, false).ok().and_then(|p| p.e164);
        assert_eq!(key("+7 812 123-45-67"), key("8 812 123-45-67"));
        // no country code starts with 0
        let plus_zero = normalize_phone("+01 415 555 2671", Id::BR, false).ok();
        assert_eq!(plus_zero.map(|p| (p.e164, p.verified)), Some((None, false)));
    }
    use phonenumber::country::Id::*;

    fn norm(raw: &str, region: Id) -> PhoneNorm {
        match normalize_phone(raw, region, false) {
            Ok(p) => p,
            Err(e) => panic!("{raw:?}: {e}"),
        }
    }

    /// Asserts that `raw` read in `region` is the valid number `e164`.
    fn valid(raw: &str, region: Id, e164: &str) {
        let p = norm(raw, region);
        assert_eq!(p.e164.as_deref(), Some(e164), "{raw:?} in {region:?}");
        assert!(p.verified, "{raw:?} in {region:?} should be valid");
        // Strict mode accepts it too, with the same result.
        assert_eq!(normalize_phone(raw, region, true).as_ref(), Ok(&p));
        // Round trip: the E.164 output normalises to itself, from any region.
        for r in [region, US, BR, DE] {
            let again = norm(e164, r);
            assert_eq!(again.e164.as_deref(), Some(e164), "round trip of {e164} in {r:?}");
            assert!(again.verified);
            assert_eq!(again.national, p.national);
        }
    }

    #[test]
    fn brazil_formats() {
        for raw in [
            "+55 11 98765-4321",
            "(11) 98765-4321",
            "011 98765 4321",
            "0055 11 987654321",
            "11987654321",
            "+55 (11) 98765.4321",
            "55 11 98765-4321",
            "tel:+5511987654321",
            "TEL: +55-11-98765-4321",
            "+55\u{a0}11\u{a0}98765\u{2011}4321",
        ] {
            valid(raw, BR, "+5511987654321");
        }
        let p = norm("(11) 98765-4321", BR);
        assert_eq!(p.national.as_deref(), Some("11987654321"));
        assert_eq!(p.digits, "11987654321");
        // Landline in Rio.
        valid("(21) 2345-6789", BR, "+552123456789");
    }

    #[test]
    fn us_formats() {
        for raw in [
            "+1 (415) 555-2671",
            "415.555.2671",
            "(415) 555-2671",
            "1-415-555-2671",
            "4155552671",
        ] {
            valid(raw, US, "+14155552671");
        }
        assert_eq!(norm("415.555.2671", US).national.as_deref(), Some("4155552671"));
        // From the US, 011 is the international prefix.
        valid("011 44 20 7946 0958", US, "+442079460958");
        valid("+1 650 253 0000", BR, "+16502530000");
    }

    #[test]
    fn european_numbers() {
        valid("+49 30 123456", BR, "+4930123456");
        valid("030 123456", DE, "+4930123456");
        valid("0151 23456789", DE, "+4915123456789");
        valid("+44 20 7946 0958", US, "+442079460958");
        valid("020 7946 0958", GB, "+442079460958");
        valid("07911 123456", GB, "+447911123456");
        valid("01 42 68 53 00", FR, "+33142685300");
        valid("06 12 34 56 78", FR, "+33612345678");
        valid("912 345 678", ES, "+34912345678");
        valid("+34 612 34 56 78", DE, "+34612345678");
        valid("912 345 678", PT, "+351912345678");
        valid("8 (495) 123-45-67", RU, "+74951234567");
        valid("+7 912 345-67-89", US, "+79123456789");
    }

    #[test]
    fn italy_keeps_leading_zero() {
        valid("06 6982 1234", IT, "+390669821234");
        let p = norm("+39 06 6982 1234", US);
        assert_eq!(p.national.as_deref(), Some("0669821234"));
    }

    #[test]
    fn americas_and_asia() {
        valid("55 1234 5678", MX, "+525512345678");
        valid("+52 55 1234 5678", US, "+525512345678");
        valid("098765 43210", IN, "+919876543210");
        valid("+91 98765 43210", US, "+919876543210");
        valid("03-1234-5678", JP, "+81312345678");
        valid("090-1234-5678", JP, "+819012345678");
        valid("010 1234 5678", CN, "+861012345678");
        valid("138 0013 8000", CN, "+8613800138000");
        valid("+61 2 9374 4000", US, "+61293744000");
    }

    #[test]
    fn unicode_digits() {
        valid("＋５５ １１ ９８７６５－４３２１", BR, "+5511987654321");
        valid("+٢٠ ١٠٠ ١٢٣ ٤٥٦٧", US, "+201001234567");
        valid("۰۹۱۲ ۳۴۵ ۶۷۸۹", IR, "+989123456789");
        assert_eq!(norm("＋５５ １１ ９８７６５－４３２１", BR).digits, "5511987654321");
    }

    #[test]
    fn extensions_are_excluded_from_digits() {
        for raw in [
            "+1 415 555 2671 ext. 12",
            "+1 415 555 2671 ext 12",
            "+1 415 555 2671 EXT:12",
            "+1 415 555 2671 x12",
            "+1 415 555 2671 x 12",
            "+1 415 555 2671 #12",
            "(415) 555-2671 extension 12",
            "tel:+1-415-555-2671;ext=12",
        ] {
            let p = norm(raw, US);
            assert_eq!(
                p.digits,
                if raw.starts_with('(') {
                    "4155552671"
                } else {
                    "14155552671"
                },
                "{raw:?}"
            );
            assert_eq!(p.e164.as_deref(), Some("+14155552671"), "{raw:?}");
            assert!(p.verified, "{raw:?}");
        }
        let p = norm("(11) 3456-7890 ramal 204", BR);
        assert_eq!(p.digits, "1134567890");
        assert_eq!(p.e164.as_deref(), Some("+551134567890"));
    }

    #[test]
    fn too_short() {
        for raw in ["", "   ", "1234", "+55", "12-34", "tel:123", "123 ext 45678"] {
            assert_eq!(
                normalize_phone(raw, BR, false),
                Err(PhoneError::TooShort {
                    value: raw.trim().to_string()
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn invalid_chars() {
        for raw in [
            "abc",
            "call me",
            "11 98765-4321 (home)",
            "+55 11 98765*4321",
            "98765_4321",
            "phone: 11987654321",
            "11 98765-4321 ext",
            "x12345",
            "1198765432l",
            "11,98765,4321",
        ] {
            assert_eq!(
                normalize_phone(raw, BR, false),
                Err(PhoneError::InvalidChars {
                    value: raw.trim().to_string()
                }),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn plausible_but_invalid_is_kept_unverified() {
        // Too few digits for a Brazilian number, but phone-shaped.
        let p = norm("98765-4321", BR);
        assert!(!p.verified);
        assert_eq!(p.digits, "987654321");
        assert_eq!(p.raw, "98765-4321");
        // An impossible US area code parses but is not valid.
        let p = norm("(099) 555-2671", US);
        assert!(!p.verified);
        assert_eq!(p.digits, "0995552671");
        // Far too long: kept as digits only.
        let p = norm("1234567890123456789012345", BR);
        assert!(!p.verified);
        assert_eq!(p.e164, None);
        assert_eq!(p.national, None);
        assert_eq!(p.digits.len(), 25);
    }

    #[test]
    fn strict_rejects_unverified() {
        assert_eq!(
            normalize_phone(" 98765-4321 ", BR, true),
            Err(PhoneError::Unverified {
                value: "98765-4321".into()
            })
        );
        assert!(normalize_phone("12345678901234567890123", US, true).is_err());
        assert!(normalize_phone("+55 11 98765-4321", BR, true).is_ok());
    }

    #[test]
    fn e164_is_plus_and_digits() {
        for (raw, region) in [
            ("98765-4321", BR),
            ("(099) 555-2671", US),
            ("+55 11 98765-4321", BR),
            ("12345", DE),
        ] {
            let p = norm(raw, region);
            if let Some(e) = &p.e164 {
                assert!(e.starts_with('+'), "{e}");
                assert!(e[1..].bytes().all(|b| b.is_ascii_digit()), "{e}");
                // Unverified E.164 values are stable too.
                assert_eq!(norm(e, region).e164.as_deref(), Some(e.as_str()));
            }
        }
    }

    #[test]
    fn same_number_same_key_across_formats() {
        let keys: Vec<_> = [
            "+55 11 98765-4321",
            "(11) 98765-4321",
            "011 98765 4321",
            "0055 11 987654321",
        ]
        .iter()
        .map(|r| norm(r, BR).e164)
        .collect();
        assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    }

    #[test]
    fn error_messages_quote_the_value() {
        let e = normalize_phone("call me", BR, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"call me\""), "{e}");
        let e = normalize_phone("12", BR, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"12\"") && e.contains("5 digits"), "{e}");
    }

    #[test]
    fn region_parsing() {
        assert_eq!(parse_region("BR"), Some(BR));
        assert_eq!(parse_region("br"), Some(BR));
        assert_eq!(parse_region(" us "), Some(US));
        assert_eq!(parse_region("De"), Some(DE));
        assert_eq!(parse_region("uk"), Some(GB));
        assert_eq!(parse_region(""), None);
        assert_eq!(parse_region("XX"), None);
        assert_eq!(parse_region("BRA"), None);
        assert_eq!(parse_region("Brazil"), None);
    }

    #[test]
    fn query_phone_like() {
        let q = phone_query("98765-4321", BR).map(|q| q.digits);
        assert_eq!(q.as_deref(), Some("987654321"));
        let q = phone_query("+55 (11) 98765 4321", BR);
        assert_eq!(
            q,
            Some(PhoneQuery {
                e164: Some("+5511987654321".into()),
                digits: "5511987654321".into()
            })
        );
        assert_eq!(
            phone_query("4321", BR),
            Some(PhoneQuery {
                e164: None,
                digits: "4321".into()
            })
        );
        assert_eq!(
            phone_query("(11) 98765-4321", BR).and_then(|q| q.e164).as_deref(),
            Some("+5511987654321")
        );
        assert_eq!(
            phone_query("415.555.2671", US).and_then(|q| q.e164).as_deref(),
            Some("+14155552671")
        );
    }

    #[test]
    fn query_not_phone_like() {
        for q in ["ana", "ana 4321", "123", "", "x1234", "4321@", "maria 98765-4321", "#1"] {
            assert_eq!(phone_query(q, BR), None, "{q:?}");
        }
    }

    #[test]
    fn query_e164_matches_ingest_e164() {
        for (raw, region) in [
            ("(11) 98765-4321", BR),
            ("0055 11 987654321", BR),
            ("98765-4321", BR),
            ("415.555.2671", US),
            ("(099) 555-2671", US),
            ("020 7946 0958", GB),
            ("06 6982 1234", IT),
        ] {
            let ingest = norm(raw, region).e164;
            let query = phone_query(raw, region).and_then(|q| q.e164);
            assert_eq!(ingest, query, "{raw:?}");
        }
    }

    #[test]
    fn does_not_panic_on_odd_digit_strings() {
        let regions = [BR, US, DE, GB, IT, JP, IN, RU, CN, MX];
        for len in 5..=22 {
            for seed in 0..20u64 {
                let mut x = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add((len as u64).wrapping_mul(1442695040888963407));
                let mut s = String::new();
                for i in 0..len {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let d = if i == 0 && seed % 3 == 0 { 0 } else { (x >> 33) % 10 };
                    s.push(char::from(b'0' + d as u8));
                }
                let raw = if seed % 2 == 0 { format!("+{s}") } else { s };
                let region = regions[(seed as usize) % regions.len()];
                let p = norm(&raw, region);
                if let Some(e) = p.e164 {
                    assert_eq!(norm(&e, region).e164, Some(e));
                }
            }
        }
    }
}
