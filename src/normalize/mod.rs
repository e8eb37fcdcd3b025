// TEMPORARY compile shim; replaced by the real module.
pub mod email {
    #[derive(Debug, thiserror::Error, PartialEq)]
    pub enum EmailError {
        #[error("bad email {0}")]
        Bad(String),
    }
    pub struct EmailNorm {
        pub raw: String,
        pub lower: String,
        pub local: String,
        pub domain: String,
        pub canonical: String,
    }
    pub fn normalize_email(raw: &str) -> Result<EmailNorm, EmailError> {
        let lower = raw.trim().to_lowercase();
        let (l, d) = lower.split_once('@').ok_or_else(|| EmailError::Bad(raw.into()))?;
        if l.is_empty() || !d.contains('.') {
            return Err(EmailError::Bad(raw.into()));
        }
        Ok(EmailNorm {
            raw: raw.into(),
            lower: lower.clone(),
            local: l.into(),
            domain: d.into(),
            canonical: lower.clone(),
        })
    }
    pub fn email_tokens(e: &EmailNorm) -> Vec<String> {
        vec![e.lower.clone(), e.local.clone(), e.domain.clone()]
    }
}
pub mod phone {
    #[derive(Debug, thiserror::Error, PartialEq)]
    pub enum PhoneError {
        #[error("too short {0}")]
        TooShort(String),
    }
    pub struct PhoneNorm {
        pub raw: String,
        pub e164: Option<String>,
        pub national: Option<String>,
        pub digits: String,
        pub verified: bool,
    }
    pub struct PhoneQuery {
        pub e164: Option<String>,
        pub digits: String,
    }
    pub fn parse_region(s: &str) -> Option<phonenumber::country::Id> {
        s.trim().to_ascii_uppercase().parse().ok()
    }
    pub fn normalize_phone(
        raw: &str,
        region: phonenumber::country::Id,
        _strict: bool,
    ) -> Result<PhoneNorm, PhoneError> {
        let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() < 5 {
            return Err(PhoneError::TooShort(raw.into()));
        }
        let n = phonenumber::parse(Some(region), raw).ok();
        let e164 = n.as_ref().map(|n| n.format().mode(phonenumber::Mode::E164).to_string());
        Ok(PhoneNorm {
            raw: raw.into(),
            national: n.as_ref().map(|n| n.national().value().to_string()),
            verified: n.as_ref().is_some_and(phonenumber::is_valid),
            e164,
            digits,
        })
    }
    pub fn phone_query(q: &str, region: phonenumber::country::Id) -> Option<PhoneQuery> {
        let digits: String = q.chars().filter(|c| c.is_ascii_digit()).collect();
        let e164 = if digits.len() >= 7 {
            phonenumber::parse(Some(region), q)
                .ok()
                .map(|n| n.format().mode(phonenumber::Mode::E164).to_string())
        } else {
            None
        };
        Some(PhoneQuery { e164, digits })
    }
}
pub mod text {
    pub fn fold(s: &str) -> String {
        s.to_lowercase()
    }
    pub fn for_each_token(s: &str, mut f: impl FnMut(&str)) {
        for t in fold(s).split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()) {
            f(t)
        }
    }
    pub fn tokens(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        for_each_token(s, |t| v.push(t.to_string()));
        v
    }
    pub fn split_display_name(s: &str) -> (String, Vec<String>) {
        (s.to_string(), vec![])
    }
    pub fn transliterate_latin(_t: &str) -> Option<String> {
        None
    }
    pub fn is_cjk(_c: char) -> bool {
        false
    }
}
pub use email::{normalize_email, EmailError, EmailNorm};
pub use phone::{normalize_phone, parse_region, phone_query, PhoneError, PhoneNorm, PhoneQuery};
pub use text::{fold, for_each_token, is_cjk, split_display_name, tokens, transliterate_latin};
