//! Relevance cases over a planted fixture: one test per case, each asserting where the
//! planted contact lands. The fixture mixes locales, scripts, messy display names and phone
//! formats, with distractors that share words, digits or domains.

use std::sync::OnceLock;

use contactdex::search::SearchRequest;
use contactdex::Engine;
use serde_json::json;

struct Fixture {
    engine: Engine,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let engine = Engine::open(dir.path(), crate::common::test_config()).expect("engine");
        while !engine.is_ready() {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        engine
            .put_settings("rel", contactdex::model::WorkspaceSettings { default_region: "BR".into(), ..Default::default() })
            .expect("settings");
        let docs = vec![
            json!({"id": "jose", "name": "José da Silva 🌸", "phones": ["+55 11 98765-4321"], "emails": ["Jose.Silva@Gmail.com"], "tags": ["vip"]}),
            json!({"id": "joao", "name": "JOÃO PEDRO OLIVEIRA", "phones": ["(21) 99876-1234"], "emails": ["joao@acme.com.br"]}),
            json!({"id": "marcos", "name": "Marcos Ribeiro", "phones": ["+55 31 98888-1111"]}),
            json!({"id": "marcela", "name": "Marcela Duarte", "phones": ["+55 41 97777-2222"], "tags": ["lead"]}),
            json!({"id": "mariana", "name": "Mariana Costa", "emails": ["mariana@hotmail.com"]}),
            json!({"id": "ana-souza", "name": "Ana Souza", "phones": ["+55 85 99999-0000"]}),
            json!({"id": "ana-tech", "name": "Comercial Contato", "custom": {"company": "Ana Tech"}}),
            json!({"id": "maria-silva", "name": "Maria Silva", "emails": ["maria.silva@gmail.com"], "tags": ["vip"]}),
            json!({"id": "maria-santos", "name": "Maria Santos", "emails": ["msantos@yahoo.com"], "tags": ["lead"]}),
            json!({"id": "carlos", "name": "Carlos | Loja X", "phones": ["+55 11 3333-4444"]}),
            json!({"id": "muller", "name": "Hans Müller", "phones": ["+49 30 1234567"], "emails": ["hans.mueller@firma.de"]}),
            json!({"id": "lukasz", "name": "Łukasz Øster", "emails": ["lukasz@example.pl"]}),
            json!({"id": "strasse", "name": "Greta Straße"}),
            json!({"id": "francois", "name": "François Dubois", "phones": ["+33 6 12 34 56 78"]}),
            json!({"id": "nunez", "name": "Sofía Núñez", "phones": ["+52 55 1234 5678"]}),
            json!({"id": "fernandez", "name": "Guillermo Fernández", "phones": ["+34 699 111 222"]}),
            json!({"id": "dmitry", "name": "Дмитрий Иванов", "phones": ["+7 912 345-67-89"]}),
            json!({"id": "olga", "name": "Ольга Петрова"}),
            json!({"id": "mohammed", "name": "محمد الأحمد", "phones": ["+971 50 123 4567"]}),
            json!({"id": "wang", "name": "王小明", "phones": ["+86 138 0013 8000"]}),
            json!({"id": "tanaka", "name": "田中さくら", "phones": ["+81 90-1234-5678"]}),
            json!({"id": "robert", "name": "Robert Johnson", "phones": ["+1 (415) 555-2671"], "emails": ["rjohnson@acme.com"]}),
            json!({"id": "bob", "name": "Bob Marley"}),
            json!({"id": "elizabeth", "name": "Elizabeth Taylor", "emails": ["liz@studio.com"]}),
            json!({"id": "francisco", "name": "Francisco Alves"}),
            json!({"id": "john-smith", "name": "John Smith", "phones": ["212-555-0143"], "emails": ["john.smith@acme.com"], "tags": ["b2b"]}),
            json!({"id": "digits-distractor", "name": "Paulo Digits", "phones": ["+55 11 91234-4321"]}),
            json!({"id": "contains-distractor", "name": "Rita Contains", "phones": ["+55 11 98765-4000"]}),
            json!({"id": "tier", "name": "Premium Buyer", "custom": {"customer_tier": "Gold", "city": "Belo Horizonte", "lifetime_value": 15000}}),
            json!({"id": "shouty", "name": "ADRIANA LIMA!!!", "tags": ["churn-risk"]}),
            json!({"id": "obrien", "name": "Conor O'Brien"}),
        ];
        let lines: Vec<(usize, String)> = docs.iter().enumerate().map(|(i, d)| (i + 1, d.to_string())).collect();
        let out = engine.bulk("rel", lines.into_iter(), &contactdex::audit::Origin::system("test")).expect("bulk");
        assert!(out.rejected.is_empty(), "fixture rejected: {:?}", out.rejected);
        engine.wait_visible_blocking(out.seq).expect("visible");
        Fixture { engine, _dir: dir }
    })
}

fn ids(q: &str) -> Vec<String> {
    let req = SearchRequest {
        q: Some(q.to_string()),
        limit: Some(10),
        ..Default::default()
    };
    fixture()
        .engine
        .search("rel", &req)
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// The planted contact is the first hit.
macro_rules! top {
    ($name:ident, $q:expr, $id:expr) => {
        #[test]
        fn $name() {
            let got = ids($q);
            assert_eq!(
                got.first().map(String::as_str),
                Some($id),
                "query {:?} -> {:?}",
                $q,
                got
            );
        }
    };
}

/// The planted contact is among the first `n` hits.
macro_rules! within {
    ($name:ident, $q:expr, $id:expr, $n:expr) => {
        #[test]
        fn $name() {
            let got = ids($q);
            assert!(
                got.iter().take($n).any(|x| x == $id),
                "query {:?}: {:?} not in top {} of {:?}",
                $q,
                $id,
                $n,
                got
            );
        }
    };
}

/// `a` ranks above `b`.
macro_rules! above {
    ($name:ident, $q:expr, $a:expr, $b:expr) => {
        #[test]
        fn $name() {
            let got = ids($q);
            let pa = got.iter().position(|x| x == $a);
            let pb = got.iter().position(|x| x == $b).unwrap_or(usize::MAX);
            assert!(
                pa.is_some_and(|pa| pa < pb),
                "query {:?}: {:?} should rank above {:?} in {:?}",
                $q,
                $a,
                $b,
                got
            );
        }
    };
}

/// Nothing matches.
macro_rules! none {
    ($name:ident, $q:expr) => {
        #[test]
        fn $name() {
            let got = ids($q);
            assert!(
                got.is_empty(),
                "query {:?} should match nothing, got {:?}",
                $q,
                got
            );
        }
    };
}

// prefixes as the agent types
within!(prefix_mar_marcos, "mar", "marcos", 6);
within!(prefix_mar_marcela, "mar", "marcela", 6);
within!(prefix_marc_marcos, "marc", "marcos", 2);
within!(prefix_marc_marcela, "marc", "marcela", 2);
top!(prefix_last_word, "maria sil", "maria-silva");
top!(prefix_first_and_last_words, "mar rib", "marcos");
top!(prefix_cyrillic, "Дмит", "dmitry");
top!(prefix_arabic, "محم", "mohammed");
// typos
top!(typo_transposition, "Jsoe da Silva", "jose");
top!(typo_deletion, "Marcla", "marcela");
top!(typo_two_edits_long_word, "Fernandes Guillermo", "fernandez");
top!(typo_substitution, "Jhonson", "robert");
above!(exact_beats_typo, "maria", "maria-silva", "mariana");
// accents, case, order, decoration
top!(accent_less_query, "jose da silva", "jose");
top!(accented_query_plain_name, "Marcos Ribêiro", "marcos");
top!(upper_case_accented, "JOÃO", "joao");
top!(plain_joao, "joao pedro", "joao");
top!(umlaut_folded, "muller", "muller");
top!(l_stroke_folded, "lukasz oster", "lukasz");
top!(sharp_s_folded, "strasse", "strasse");
top!(cedilla, "francois", "francois");
top!(enye, "nunez", "nunez");
top!(any_order, "silva maria", "maria-silva");
top!(any_order_three_words, "oliveira joao pedro", "joao");
top!(emoji_ignored, "José 🌸", "jose");
top!(decoration_person, "carlos", "carlos");
top!(decoration_business, "loja x", "carlos");
top!(shouting_name, "adriana lima", "shouty");
top!(apostrophe, "obrien", "obrien");
top!(apostrophe_typed, "O'Brien", "obrien");
// phones in any format
top!(phone_e164, "+5511987654321", "jose");
top!(phone_international_spaced, "+55 11 98765-4321", "jose");
top!(phone_national_parens, "(11) 98765-4321", "jose");
top!(phone_national_trunk, "011 98765 4321", "jose");
top!(phone_digits_only, "11987654321", "jose");
top!(phone_without_area_code, "98765-4321", "jose");
within!(phone_last_four, "4321", "jose", 2);
top!(phone_last_six, "654321", "jose");
top!(phone_us_format, "(415) 555-2671", "robert");
top!(phone_us_dots, "415.555.2671", "robert");
top!(phone_us_e164, "+14155552671", "robert");
top!(phone_de_national, "030 1234567", "muller");
top!(phone_fr, "06 12 34 56 78", "francois");
top!(phone_ru, "+7 (912) 345-67-89", "dmitry");
top!(phone_cn, "138 0013 8000", "wang");
top!(phone_jp, "090-1234-5678", "tanaka");
above!(
    phone_owner_above_containing,
    "+55 11 98765-4321",
    "jose",
    "contains-distractor"
);
above!(
    phone_owner_above_suffix_sharer,
    "98765-4321",
    "jose",
    "digits-distractor"
);
// emails
top!(email_full, "jose.silva@gmail.com", "jose");
top!(email_any_case, "JOSE.SILVA@GMAIL.COM", "jose");
top!(email_local_part, "rjohnson", "robert");
top!(email_domain, "acme.com.br", "joao");
within!(email_domain_shared, "acme.com", "john-smith", 3);
top!(email_local_word, "mueller", "muller");
// tags and custom values
top!(tag_exact, "churn-risk", "shouty");
within!(tag_vip, "vip", "jose", 2);
top!(custom_select, "gold", "tier");
top!(custom_text, "belo horizonte", "tier");
top!(custom_number_as_typed, "15000", "tier");
above!(name_above_custom, "ana", "ana-souza", "ana-tech");
above!(name_above_infix, "ana", "ana-souza", "mariana");
// words across fields
top!(name_and_email_domain, "maria gmail", "maria-silva");
top!(name_and_tag, "silva vip", "maria-silva");
top!(name_and_tag_other, "maria lead", "maria-santos");
// non-Latin scripts
top!(cyrillic_full, "Дмитрий Иванов", "dmitry");
top!(cyrillic_lower, "ольга", "olga");
top!(cyrillic_transliterated, "dmitry ivanov", "dmitry");
top!(cyrillic_transliterated_typo, "dmitri ivanov", "dmitry");
top!(arabic_full, "محمد", "mohammed");
top!(chinese_full, "王小明", "wang");
top!(chinese_given, "小明", "wang");
top!(japanese_full, "田中さくら", "tanaka");
top!(japanese_family, "田中", "tanaka");
// nicknames, below real name matches
within!(nickname_bob, "bob", "robert", 2);
above!(nickname_below_real_name, "bob", "bob", "robert");
top!(nickname_beth, "beth taylor", "elizabeth");
top!(nickname_ze, "zé", "jose");
top!(nickname_chico, "chico", "francisco");
top!(nickname_reverse, "robert", "robert");
// nothing
none!(no_match, "zzqxw");
none!(only_punctuation, "!!! ???");
