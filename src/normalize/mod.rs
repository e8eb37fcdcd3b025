//! Normalisation of contact data: text folding and tokenisation, phone numbers, e-mail
//! addresses.
//!
//! Everything here is a pure function without I/O. The same functions feed indexing,
//! querying and dedup, so their output must stay stable: changing a rule changes index terms
//! and dedup keys, and existing indexes must then be rebuilt.

pub mod email;
pub mod phone;
pub mod text;

pub use email::{normalize_email, EmailError, EmailNorm};
pub use phone::{normalize_phone, parse_region, phone_query, PhoneError, PhoneNorm, PhoneQuery};
pub use text::{fold, for_each_token, is_cjk, split_display_name, tokens, transliterate_latin};

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country::Id;

    #[test]
    fn re_exports_work_together_on_one_contact() {
        let (person, extras) = split_display_name("Zoë O’Brien 🌸 | Acme Ltda");
        assert_eq!(person, "Zoë O’Brien");
        assert_eq!(extras, ["Acme Ltda"]);
        assert_eq!(tokens(&person), ["zoe", "obrien"]);
        assert_eq!(fold(&person), "zoe o'brien");

        let region = parse_region("br").unwrap_or(Id::US);
        let p = normalize_phone("(11) 98765-4321", region, true);
        assert_eq!(p.map(|p| p.e164), Ok(Some("+5511987654321".to_string())));
        assert_eq!(
            phone_query("98765-4321", region).map(|q| q.digits).as_deref(),
            Some("987654321")
        );

        let e = normalize_email("Zoe.OBrien+crm@Gmail.com").map(|e| e.canonical);
        assert_eq!(e.as_deref(), Ok("zoeobrien@gmail.com"));
        assert_eq!(
            normalize_email("zoe@").err(),
            Some(EmailError::NoDomain { value: "zoe@".into() })
        );
        assert!(matches!(
            normalize_phone("abc", region, false),
            Err(PhoneError::InvalidChars { .. })
        ));

        let mut n = 0;
        for_each_token("Дмитрий", |t| {
            n += 1;
            assert_eq!(transliterate_latin(t).as_deref(), Some("dmitry"));
        });
        assert_eq!(n, 1);
        assert!(is_cjk('明'));
    }
}
