//! Property tests (proptest) over the normalizers, the filter parser and the history cursor:
//! whatever the input, no panic, and the invariants hold.

use contactdex::normalize::{fold, normalize_email, normalize_phone, tokens};
use proptest::prelude::*;
use serde_json::{json, Value};

fn region() -> phonenumber::country::Id {
    contactdex::normalize::parse_region("BR").expect("BR")
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z_.]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "and", "or", "not", "field", "op", "value", "eq", "in", "tags", "custom.x"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["and", "or", "not", "field", "op", "value", "x"]).prop_map(String::from),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn folding_is_idempotent_and_lowercase(s in "\\PC{0,40}") {
        let once = fold(&s);
        prop_assert_eq!(fold(&once), once.clone());
        prop_assert_eq!(once.to_lowercase(), once);
    }

    #[test]
    fn tokens_are_non_empty_and_folded(s in "\\PC{0,60}") {
        for t in tokens(&s) {
            prop_assert!(!t.is_empty());
            prop_assert!(!t.chars().any(char::is_whitespace), "{:?}", t);
        }
    }

    #[test]
    fn phones_never_panic_and_keep_their_digits(s in "[0-9 +()\\-.a-z]{0,30}") {
        if let Ok(p) = normalize_phone(&s, region(), false) {
            prop_assert_eq!(p.raw.clone(), s.clone());
            let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            // every digit typed, in order, up to an extension; at least 5 of them
            prop_assert!(digits.starts_with(&p.digits), "{:?} -> {:?}", s, p.digits);
            prop_assert!(p.digits.len() >= 5, "{:?} -> {:?}", s, p.digits);
            if let Some(e) = &p.e164 {
                prop_assert!(e.starts_with('+') && e[1..].bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    #[test]
    fn emails_never_panic_and_come_out_lower_case(local in "[A-Za-z0-9._+\\-]{0,12}", domain in "[A-Za-z0-9.\\-]{0,12}") {
        if let Ok(e) = normalize_email(&format!("{local}@{domain}")) {
            prop_assert_eq!(e.lower.to_lowercase(), e.lower.clone());
            prop_assert!(e.lower.contains('@'));
        }
        let _ = normalize_email(&local);
    }

    #[test]
    fn the_filter_parser_never_panics(v in json_value()) {
        let _ = contactdex::search::parse_filter(&v);
    }

    #[test]
    fn deep_filters_are_refused_not_overflowed(depth in 33usize..400) {
        let mut f = json!({"field": "tags", "op": "eq", "value": "x"});
        for _ in 0..depth {
            f = json!({"not": f});
        }
        prop_assert!(contactdex::search::parse_filter(&f).is_err());
    }
}
