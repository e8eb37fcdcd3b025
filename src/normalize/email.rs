//! E-mail address normalisation.
//!
//! [`normalize_email`] checks the shape of an address (not deliverability), lower-cases it and
//! derives a canonical form for dedup; [`email_tokens`] gives the words an address is found by.

/// Longest address accepted, in characters (RFC 5321's path limit).
const MAX_LEN: usize = 254;

/// A normalised e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailNorm {
    /// The text as given, untouched.
    pub raw: String,
    /// The address, trimmed of white space, `<>` and `mailto:`, lower-cased: `local@domain`.
    pub lower: String,
    /// The part before the last `@`, lower-cased.
    pub local: String,
    /// The part after the last `@`, lower-cased (internationalised domains are kept as typed,
    /// lower-cased, not punycode-encoded), without a trailing dot.
    pub domain: String,
    /// The form used for dedup: `+tag` dropped from the local part; for `gmail.com` and
    /// `googlemail.com` also the dots, with the domain `gmail.com`.
    pub canonical: String,
}

/// Why a value is not accepted as an e-mail address. Each message quotes the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum EmailError {
    /// Nothing but white space.
    #[error("email is empty")]
    Empty,
    /// No `@` at all.
    #[error("email {value:?} has no @ sign (expected something like name@example.com)")]
    MissingAt {
        /// The value as given (trimmed).
        value: String,
    },
    /// Nothing before the `@`.
    #[error("email {value:?} has nothing before the @")]
    EmptyLocal {
        /// The value as given (trimmed).
        value: String,
    },
    /// Spaces or characters such as `<>(),;:"[]\@` before the `@`.
    #[error("email {value:?} has spaces or characters that are not allowed before the @")]
    InvalidLocal {
        /// The value as given (trimmed).
        value: String,
    },
    /// Nothing after the `@`.
    #[error("email {value:?} has no domain after the @")]
    NoDomain {
        /// The value as given (trimmed).
        value: String,
    },
    /// A domain that is not dot-separated labels of letters, digits and hyphens ending in a
    /// non-numeric label.
    #[error("email {value:?} has an invalid domain {domain:?} (expected a domain like example.com)")]
    BadDomain {
        /// The value as given (trimmed).
        value: String,
        /// The domain part, lower-cased.
        domain: String,
    },
    /// Longer than 254 characters.
    #[error("email {:?}… is too long ({len} characters; at most 254)", preview(.value))]
    TooLong {
        /// The value as given (trimmed).
        value: String,
        /// Its length in characters.
        len: usize,
    },
}

/// The first 40 characters of a long value, for a message.
fn preview(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Normalises an e-mail address.
///
/// Trims white space, a surrounding `<…>` (or a `Name <address>` form, taking the address),
/// and a `mailto:` prefix (with any `?subject=…` query); lower-cases everything (full Unicode
/// lower-casing, so internationalised domains stay readable). Checks: an `@`, a non-empty local
/// part without spaces or unquoted specials, and a domain of dot-separated labels of letters,
/// digits and `-` whose last label is not all digits. A trailing dot on the domain is dropped.
/// Longer than 254 characters is an error. See [`EmailNorm::canonical`] for the dedup form.
pub fn normalize_email(raw: &str) -> Result<EmailNorm, EmailError> {
    let value = raw.trim();
    let addr = unwrap_address(value);
    if addr.is_empty() {
        return Err(EmailError::Empty);
    }
    let len = addr.chars().count();
    if len > MAX_LEN {
        return Err(EmailError::TooLong {
            value: value.to_string(),
            len,
        });
    }
    let lower = addr.to_lowercase();
    let Some((local, domain)) = lower.rsplit_once('@') else {
        return Err(EmailError::MissingAt {
            value: value.to_string(),
        });
    };
    if local.is_empty() {
        return Err(EmailError::EmptyLocal {
            value: value.to_string(),
        });
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c))
    {
        return Err(EmailError::InvalidLocal {
            value: value.to_string(),
        });
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err(EmailError::NoDomain {
            value: value.to_string(),
        });
    }
    if !valid_domain(domain) {
        return Err(EmailError::BadDomain {
            value: value.to_string(),
            domain: domain.to_string(),
        });
    }
    let canonical = canonical(local, domain);
    Ok(EmailNorm {
        raw: raw.to_string(),
        lower: format!("{local}@{domain}"),
        local: local.to_string(),
        domain: domain.to_string(),
        canonical,
    })
}

/// Removes `<…>`, `Name <…>` and `mailto:` wrappers.
fn unwrap_address(s: &str) -> &str {
    let mut t = s.trim();
    if let Some(inner) = t.strip_suffix('>') {
        if let Some(open) = inner.rfind('<') {
            t = inner[open + 1..].trim();
        }
    }
    if t.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("mailto:")) {
        t = &t[7..];
        if let Some(q) = t.find('?') {
            t = &t[..q];
        }
        t = t.trim();
    }
    t
}

/// Dot-separated labels of letters, digits and `-` (not at a label's edge); at least two
/// labels; the last not all digits.
fn valid_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

/// The dedup form of an already lower-cased address.
fn canonical(local: &str, domain: &str) -> String {
    let untagged = match local.split_once('+') {
        Some((base, _)) if !base.is_empty() => base,
        _ => local,
    };
    if domain == "gmail.com" || domain == "googlemail.com" {
        let dotless: String = untagged.chars().filter(|&c| c != '.').collect();
        let local = if dotless.is_empty() {
            untagged.to_string()
        } else {
            dotless
        };
        format!("{local}@gmail.com")
    } else {
        format!("{untagged}@{domain}")
    }
}

/// Second-level labels that are part of a public suffix when followed by a country code
/// ("com.br", "co.uk", "ac.jp").
const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gob", "gov", "go", "ltd", "mil", "ne", "net", "nom", "or", "org", "plc", "sch",
];

/// The words an address is found by, deduplicated, in this order: the full lower-cased
/// address, the canonical form when it differs, the local part, the domain, the domain
/// without its public suffix ("acme" from "acme.com.br") and, when that has several labels,
/// each of them ("mail", "acme"), then the pieces of the local part split at `. _ - +`
/// ("jose", "silva" from "jose.silva").
pub fn email_tokens(e: &EmailNorm) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    add(&e.lower);
    add(&e.canonical);
    add(&e.local);
    add(&e.domain);
    let mut labels: Vec<&str> = e.domain.split('.').collect();
    labels.pop();
    if labels.len() >= 2 && labels.last().is_some_and(|l| SECOND_LEVEL.contains(l)) {
        labels.pop();
    }
    let site = labels.join(".");
    add(&site);
    if labels.len() > 1 {
        for l in &labels {
            add(l);
        }
    }
    for piece in e.local.split(['.', '_', '-', '+']) {
        add(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> EmailNorm {
        match normalize_email(raw) {
            Ok(e) => e,
            Err(err) => panic!("{raw:?}: {err}"),
        }
    }

    #[test]
    fn lower_cases_and_splits() {
        let e = ok("  Jose.Silva@Acme.COM.br ");
        assert_eq!(e.raw, "  Jose.Silva@Acme.COM.br ");
        assert_eq!(e.lower, "jose.silva@acme.com.br");
        assert_eq!(e.local, "jose.silva");
        assert_eq!(e.domain, "acme.com.br");
        assert_eq!(e.canonical, "jose.silva@acme.com.br");
    }

    #[test]
    fn strips_wrappers() {
        assert_eq!(ok("<ana@example.org>").lower, "ana@example.org");
        assert_eq!(ok("mailto:Ana@Example.org").lower, "ana@example.org");
        assert_eq!(ok("MAILTO:ana@example.org?subject=Oi").lower, "ana@example.org");
        assert_eq!(ok("<mailto:ana@example.org>").lower, "ana@example.org");
        assert_eq!(ok("Ana Souza <ana@example.org>").lower, "ana@example.org");
        assert_eq!(ok("ana@example.org.").domain, "example.org");
    }

    #[test]
    fn gmail_canonical() {
        assert_eq!(ok("J.O.S.E+promo@gmail.com").canonical, "jose@gmail.com");
        assert_eq!(ok("jose.silva@googlemail.com").canonical, "josesilva@gmail.com");
        assert_eq!(
            ok("jose.silva@GMAIL.COM").canonical,
            ok("josesilva+x@gmail.com").canonical
        );
    }

    #[test]
    fn other_domains_drop_tag_only() {
        assert_eq!(ok("jose.silva+news@acme.com").canonical, "jose.silva@acme.com");
        assert_eq!(ok("j.silva@outlook.com").canonical, "j.silva@outlook.com");
        // A leading '+' is not a tag.
        assert_eq!(ok("+vip@acme.com").canonical, "+vip@acme.com");
    }

    #[test]
    fn international_addresses() {
        let e = ok("José@Correo.España.ES");
        assert_eq!(e.lower, "josé@correo.españa.es");
        assert_eq!(e.domain, "correo.españa.es");
        assert_eq!(ok("用户@例子.广告").domain, "例子.广告");
        assert_eq!(ok("ΔΟΚΙΜΗ@παράδειγμα.δοκιμή").local, "δοκιμη");
        assert_eq!(ok("иван@почта.рф").domain, "почта.рф");
    }

    #[test]
    fn errors() {
        let s = |v: &str| v.to_string();
        assert_eq!(normalize_email("   "), Err(EmailError::Empty));
        assert_eq!(
            normalize_email("jose.acme.com"),
            Err(EmailError::MissingAt {
                value: s("jose.acme.com")
            })
        );
        assert_eq!(
            normalize_email("@acme.com"),
            Err(EmailError::EmptyLocal { value: s("@acme.com") })
        );
        assert_eq!(
            normalize_email("jose@"),
            Err(EmailError::NoDomain { value: s("jose@") })
        );
        assert_eq!(
            normalize_email("jo se@acme.com"),
            Err(EmailError::InvalidLocal {
                value: s("jo se@acme.com")
            })
        );
        assert_eq!(
            normalize_email("jose@@acme.com"),
            Err(EmailError::InvalidLocal {
                value: s("jose@@acme.com")
            })
        );
        for bad in [
            "jose@acme",
            "jose@acme.",
            "jose@acme..com",
            "jose@.acme.com",
            "jose@ac me.com",
            "jose@10.0.0.1",
            "jose@acme.com,br",
            "jose@-acme.com",
            "jose@[1.2.3.4]",
        ] {
            assert!(
                matches!(normalize_email(bad), Err(EmailError::BadDomain { .. })),
                "{bad:?}: {:?}",
                normalize_email(bad)
            );
        }
    }

    #[test]
    fn too_long() {
        let long = format!("{}@example.com", "a".repeat(250));
        match normalize_email(&long) {
            Err(EmailError::TooLong { len, .. }) => assert_eq!(len, 262),
            other => panic!("{other:?}"),
        }
        let fits = format!("{}@example.com", "a".repeat(242));
        assert!(normalize_email(&fits).is_ok());
    }

    #[test]
    fn messages_are_actionable() {
        let msg = |v: &str| normalize_email(v).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(msg("jose@"), "email \"jose@\" has no domain after the @");
        assert!(msg("jose").contains("no @"));
        assert!(msg("jose@acme").contains("invalid domain \"acme\""));
        assert!(msg(&format!("{}@x.com", "a".repeat(300))).contains("too long (306 characters"));
    }

    #[test]
    fn tokens_for_search() {
        let t = email_tokens(&ok("Jose.Silva+news@Acme.com.br"));
        assert_eq!(
            t,
            [
                "jose.silva+news@acme.com.br",
                "jose.silva@acme.com.br",
                "jose.silva+news",
                "acme.com.br",
                "acme",
                "jose",
                "silva",
                "news"
            ]
        );
    }

    #[test]
    fn tokens_multi_label_domain_and_dedup() {
        let t = email_tokens(&ok("mail@mail.acme.co.uk"));
        assert_eq!(
            t,
            ["mail@mail.acme.co.uk", "mail", "mail.acme.co.uk", "mail.acme", "acme"]
        );
        let t = email_tokens(&ok("ana_maria-souza@gmail.com"));
        assert_eq!(
            t,
            [
                "ana_maria-souza@gmail.com",
                "ana_maria-souza",
                "gmail.com",
                "gmail",
                "ana",
                "maria",
                "souza"
            ]
        );
        let t = email_tokens(&ok("a.b@googlemail.com"));
        assert!(t.contains(&"ab@gmail.com".to_string()));
        assert!(t.contains(&"googlemail".to_string()));
    }

    #[test]
    fn normalizing_lower_again_is_stable() {
        for raw in [
            "Jose.Silva+news@Acme.com.br",
            "José@Correo.España.ES",
            "<X@Y.ORG>",
            "J.O.S.E+promo@gmail.com",
        ] {
            let e = ok(raw);
            let again = ok(&e.lower);
            assert_eq!(again.lower, e.lower);
            assert_eq!(again.canonical, e.canonical);
            assert_eq!(ok(&e.canonical).canonical, e.canonical);
        }
    }
}
