//! Text folding and tokenisation.
//!
//! The same functions feed indexing, querying and dedup, so every function here is pure,
//! deterministic and idempotent: `fold(fold(x)) == fold(x)` and
//! `tokens(&tokens(x).join(" ")) == tokens(x)`. Changing any rule here changes what is indexed,
//! so an index built with an older version must be rebuilt.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};
use unicode_normalization::UnicodeNormalization;

/// Folds text for matching: NFKC, lower-case, diacritics removed.
///
/// Steps, in order:
/// 1. apostrophe look-alikes (`’ ‘ ʼ ʻ ´ ′`) become `'`;
/// 2. NFKC (full-width forms, ligatures, fancy "mathematical" letters become plain letters);
/// 3. lower-case with [`char::to_lowercase`];
/// 4. for Latin, Greek, Cyrillic, Hebrew and Arabic letters: canonical decomposition with the
///    combining marks dropped (`é → e`, `ά → α`, `ё → е`, Arabic harakat and Hebrew niqqud go),
///    except the Cyrillic letters `й ї ў`, which are letters of their own and are kept;
/// 5. letters that have no decomposition are spelled out: `ł→l ø→o ß→ss đ→d ð→d æ→ae œ→oe
///    þ→th ı→i ħ→h ŧ→t ȷ→j`, and the Greek final sigma `ς` becomes `σ`;
/// 6. invisible joiners (ZWJ, ZWNJ, word joiner, BOM, soft hyphen), variation selectors and the
///    Arabic tatweel are removed.
///
/// Other scripts (CJK, Thai, Devanagari, …) keep their letters and their combining marks
/// (vowel signs, viramas, tone marks), since dropping those would change the word.
/// Pure ASCII input takes a fast path that only lower-cases.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    // `strip` is true while combining marks that follow belong to a letter whose marks we drop
    // (or to no letter at all).
    let mut strip = true;
    // before NFKC (which would split `´` into a space and a mark) and after it (NFKC turns `″`
    // into two `′`): so that folding twice changes nothing
    for c in s.chars().map(map_apostrophe).nfkc().map(map_apostrophe) {
        for lc in c.to_lowercase() {
            push_folded(lc, &mut strip, &mut out);
        }
    }
    out
}

/// Apostrophe look-alikes that people type inside names ("D’Angelo", "D´Angelo").
fn map_apostrophe(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{02BB}' | '\u{00B4}' | '\u{2032}' | '\u{FF07}' => '\'',
        c => c,
    }
}

/// Characters that fold removes without a trace.
fn is_ignorable(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0640}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{2060}'
            | '\u{FEFF}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Scripts whose combining marks are diacritics that matching should ignore.
fn strips_marks(c: char) -> bool {
    matches!(
        c,
        // Latin
        '\u{00C0}'..='\u{02AF}'
            | '\u{1D00}'..='\u{1DBF}'
            | '\u{1E00}'..='\u{1EFF}'
            | '\u{2C60}'..='\u{2C7F}'
            | '\u{A720}'..='\u{A7FF}'
            | '\u{AB30}'..='\u{AB6F}'
            // Greek
            | '\u{0370}'..='\u{03FF}'
            | '\u{1F00}'..='\u{1FFF}'
            // Cyrillic
            | '\u{0400}'..='\u{052F}'
            | '\u{1C80}'..='\u{1C8F}'
            | '\u{2DE0}'..='\u{2DFF}'
            | '\u{A640}'..='\u{A69F}'
            // Hebrew
            | '\u{0590}'..='\u{05FF}'
            | '\u{FB1D}'..='\u{FB4F}'
            // Arabic
            | '\u{0600}'..='\u{06FF}'
            | '\u{0750}'..='\u{077F}'
            | '\u{08A0}'..='\u{08FF}'
            | '\u{FB50}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFE}'
    )
}

/// Pushes one lower-cased character of the NFKC stream onto `out`.
fn push_folded(c: char, strip: &mut bool, out: &mut String) {
    if c.is_ascii() {
        *strip = true;
        out.push(c);
        return;
    }
    if is_ignorable(c) {
        return;
    }
    if is_combining_mark(c) {
        if !*strip {
            out.push(c);
        }
        return;
    }
    if strips_marks(c) {
        *strip = true;
        if matches!(c, 'й' | 'ї' | 'ў') {
            out.push(c);
            return;
        }
        decompose_canonical(c, |d| {
            if !is_combining_mark(d) {
                push_base(d, out);
            }
        });
    } else {
        // Letters of other scripts keep the marks that follow them; anything else (space,
        // punctuation, emoji) does not own marks.
        *strip = !c.is_alphanumeric();
        out.push(c);
    }
}

/// Spells out letters that canonical decomposition leaves alone.
fn push_base(c: char, out: &mut String) {
    let s = match c {
        'ł' => "l",
        'ø' => "o",
        'ß' => "ss",
        'đ' | 'ð' => "d",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        'ȷ' => "j",
        'ς' => "σ",
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(s);
}

/// True for characters that are emitted as one token each: Han ideographs (and the ideographic
/// iteration marks `々 〆 〇`), Hiragana, Katakana, Bopomofo and Hangul (syllables and jamo).
///
/// Callers also check [`char::is_alphanumeric`]: punctuation inside these blocks (such as the
/// katakana middle dot `・`) is not a token.
pub fn is_cjk(c: char) -> bool {
    matches!(
        c,
        '\u{1100}'..='\u{11FF}'     // Hangul jamo
            | '\u{3005}'..='\u{3007}' // 々 〆 〇
            | '\u{303B}'
            | '\u{3040}'..='\u{30FF}' // Hiragana, Katakana
            | '\u{3100}'..='\u{312F}' // Bopomofo
            | '\u{3130}'..='\u{318F}' // Hangul compatibility jamo
            | '\u{31A0}'..='\u{31BF}'
            | '\u{31F0}'..='\u{31FF}' // Katakana phonetic extensions
            | '\u{3400}'..='\u{4DBF}' // Han extension A
            | '\u{4E00}'..='\u{9FFF}' // Han
            | '\u{A960}'..='\u{A97F}'
            | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
            | '\u{D7B0}'..='\u{D7FF}'
            | '\u{F900}'..='\u{FAFF}' // Han compatibility
            | '\u{FF66}'..='\u{FF9F}' // half-width Katakana
            | '\u{FFA0}'..='\u{FFDC}' // half-width Hangul
            | '\u{1B000}'..='\u{1B16F}' // Kana supplement / extended
            | '\u{20000}'..='\u{2FA1F}' // Han extensions B–F, compatibility supplement
            | '\u{30000}'..='\u{323AF}' // Han extensions G–H
    )
}

/// Apostrophes that are dropped inside a word ("O'Brien" → "obrien"). [`fold`] has already
/// turned the typographic variants into `'`.
fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '`'
}

/// Calls `f` with every token of `s`, in order (duplicates included).
///
/// The text is [`fold`]ed, then split into words of letters and digits
/// ([`char::is_alphanumeric`]); combining marks that survive folding (Devanagari, Thai, …) stay
/// inside their word. Everything else — spaces, punctuation, symbols, emoji, `| - _ . @` —
/// separates words and is dropped. An apostrophe between two letters is dropped and the word
/// joined ("O'Brien" → "obrien"). Every CJK character ([`is_cjk`]) is a token of its own, so
/// "王小明" gives "王", "小", "明" and Latin or digit runs next to CJK are separate tokens.
pub fn for_each_token(s: &str, mut f: impl FnMut(&str)) {
    let folded = fold(s);
    let mut word = String::new();
    let mut chars = folded.chars().peekable();
    while let Some(c) = chars.next() {
        if is_combining_mark(c) {
            // Marks never start a word.
            if !word.is_empty() {
                word.push(c);
            }
            continue;
        }
        if c.is_alphanumeric() {
            if is_cjk(c) {
                flush(&mut word, &mut f);
                let mut buf = [0u8; 4];
                f(c.encode_utf8(&mut buf));
            } else {
                word.push(c);
            }
            continue;
        }
        if is_apostrophe(c) && !word.is_empty() {
            if let Some(&next) = chars.peek() {
                if next.is_alphanumeric() && !is_cjk(next) {
                    continue;
                }
            }
        }
        flush(&mut word, &mut f);
    }
    flush(&mut word, &mut f);
}

fn flush(word: &mut String, f: &mut impl FnMut(&str)) {
    if !word.is_empty() {
        f(word);
        word.clear();
    }
}

/// The tokens of `s` as owned strings; see [`for_each_token`] for the rules.
pub fn tokens(s: &str) -> Vec<String> {
    let mut v = Vec::new();
    for_each_token(s, |t| v.push(t.to_string()));
    v
}

/// What to do with a character of a display name before splitting it.
enum Deco {
    /// Part of the text.
    Keep,
    /// Removed without leaving a gap: joiners, variation selectors, skin tones, modifier
    /// symbols (`´ ^ ¨`).
    Drop,
    /// Removed and replaced by a space: emoji and decorative symbols.
    Space,
}

fn decoration(c: char) -> Deco {
    match c {
        // Joiners, selectors, tags, skin tones, combining marks for symbols (keycaps), and
        // modifier symbols (general category Sk).
        '\u{00AD}'
        | '\u{200B}'
        | '\u{200D}'
        | '\u{2060}'
        | '\u{FEFF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0000}'..='\u{E007F}'
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{1F3FB}'..='\u{1F3FF}'
        | '^'
        | '`'
        | '\u{A8}'
        | '\u{AF}'
        | '\u{B4}'
        | '\u{B8}'
        | '\u{2C2}'..='\u{2C5}'
        | '\u{2D2}'..='\u{2DF}'
        | '\u{2E5}'..='\u{2EB}'
        | '\u{2ED}'
        | '\u{2EF}'..='\u{2FF}'
        | '\u{375}'
        | '\u{384}'..='\u{385}'
        | '\u{1FBD}'
        | '\u{1FBF}'..='\u{1FC1}'
        | '\u{1FCD}'..='\u{1FCF}'
        | '\u{1FDD}'..='\u{1FDF}'
        | '\u{1FED}'..='\u{1FEF}'
        | '\u{1FFD}'..='\u{1FFE}'
        | '\u{309B}'..='\u{309C}'
        | '\u{A700}'..='\u{A716}'
        | '\u{A720}'..='\u{A721}'
        | '\u{A789}'..='\u{A78A}'
        | '\u{AB5B}'
        | '\u{AB6A}'..='\u{AB6B}'
        | '\u{FBB2}'..='\u{FBC2}'
        | '\u{FF3E}'
        | '\u{FF40}'
        | '\u{FFE3}' => Deco::Drop,
        // Decorative ASCII, and "other symbols" (So): emoji, dingbats, arrows, shapes, …
        '~'
        | '*'
        | '\u{A6}'
        | '\u{A9}'
        | '\u{AE}'
        | '\u{B0}'
        | '\u{482}'
        | '\u{58D}'..='\u{58E}'
        | '\u{60E}'..='\u{60F}'
        | '\u{6DE}'
        | '\u{6E9}'
        | '\u{6FD}'..='\u{6FE}'
        | '\u{7F6}'
        | '\u{9FA}'
        | '\u{B70}'
        | '\u{BF3}'..='\u{BF8}'
        | '\u{BFA}'
        | '\u{F01}'..='\u{F03}'
        | '\u{2100}'..='\u{2101}'
        | '\u{2103}'..='\u{2106}'
        | '\u{2108}'..='\u{2109}'
        | '\u{2114}'
        | '\u{2116}'..='\u{2117}'
        | '\u{211E}'..='\u{2123}'
        | '\u{2125}'
        | '\u{2127}'
        | '\u{2129}'
        | '\u{212E}'
        | '\u{213A}'..='\u{213B}'
        | '\u{214A}'
        | '\u{214C}'..='\u{214D}'
        | '\u{214F}'
        | '\u{2190}'..='\u{21FF}'
        | '\u{2300}'..='\u{23FF}'
        | '\u{2400}'..='\u{244A}'
        | '\u{2460}'..='\u{24FF}'
        | '\u{2500}'..='\u{27BF}'
        | '\u{27F0}'..='\u{27FF}'
        | '\u{2800}'..='\u{28FF}'
        | '\u{2900}'..='\u{297F}'
        | '\u{2B00}'..='\u{2BFF}'
        | '\u{2FF0}'..='\u{2FFF}'
        | '\u{3004}'
        | '\u{3012}'..='\u{3013}'
        | '\u{3020}'
        | '\u{3030}'
        | '\u{3036}'..='\u{3037}'
        | '\u{303D}'..='\u{303F}'
        | '\u{31C0}'..='\u{31E3}'
        | '\u{3200}'..='\u{33FF}'
        | '\u{4DC0}'..='\u{4DFF}'
        | '\u{FD3E}'..='\u{FD3F}'
        | '\u{FDFD}'
        | '\u{FFE4}'
        | '\u{FFE8}'
        | '\u{FFED}'..='\u{FFEE}'
        | '\u{FFFC}'..='\u{FFFD}'
        | '\u{1D000}'..='\u{1D24F}'
        | '\u{1D300}'..='\u{1D35F}'
        | '\u{1F000}'..='\u{1FAFF}'
        | '\u{1FB00}'..='\u{1FBEF}' => Deco::Space,
        _ => Deco::Keep,
    }
}

/// Removes decorations (see [`decoration`]), leaving gaps where an emoji separated two words.
fn strip_decorations(it: impl Iterator<Item = char>) -> String {
    let mut out = String::new();
    for c in it {
        match decoration(c) {
            Deco::Keep => out.push(c),
            Deco::Drop => {}
            Deco::Space => out.push(' '),
        }
    }
    out
}

/// The closing bracket for an opening one, for the brackets that mark a side note in a name.
fn closer(c: char) -> Option<char> {
    Some(match c {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '【' => '】',
        '〔' => '〕',
        '〖' => '〗',
        '《' => '》',
        '〈' => '〉',
        _ => return None,
    })
}

fn is_dash(c: char) -> bool {
    matches!(c, '-' | '–' | '—' | '/' | '·')
}

/// Length (in chars) of a separator starting at `chars[i]`, if one starts there.
fn separator_at(chars: &[char], i: usize) -> Option<usize> {
    let c = chars[i];
    let next = chars.get(i + 1).copied();
    match c {
        '|' | '•' => return Some(1),
        '/' if next == Some('/') => return Some(2),
        ':' if next == Some(':') => return Some(2),
        _ => {}
    }
    if is_dash(c) && i > 0 && chars[i - 1].is_whitespace() {
        // A run of the same dash (" - ", " -- ", " — ") with white space on both sides.
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        if j < chars.len() && chars[j].is_whitespace() {
            return Some(j - i);
        }
    }
    None
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The opening bracket for a closing one (see [`closer`]).
fn opener(c: char) -> Option<char> {
    Some(match c {
        ')' => '(',
        ']' => '[',
        '}' => '{',
        '】' => '【',
        '〕' => '〔',
        '〗' => '〖',
        '》' => '《',
        '〉' => '〈',
        _ => return None,
    })
}

/// Collapses white space and trims punctuation left at the edges of a part ("- Vendas" →
/// "Vendas"). A single trailing period after a letter is kept ("Jr."), and so are brackets
/// whose partner is inside the part ("VIP (gold)").
fn tidy(s: &str) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let all = collapsed.as_str();
    let t = all.trim_start_matches(|c: char| !is_word_char(c) && !closer(c).is_some_and(|cl| all.contains(cl)));
    let mut end = t.len();
    while let Some(c) = t[..end].chars().next_back() {
        if is_word_char(c) || opener(c).is_some_and(|o| t[..end].contains(o)) {
            break;
        }
        end -= c.len_utf8();
    }
    if &t[end..] == "." && end > 0 {
        t.to_string()
    } else {
        t[..end].to_string()
    }
}

/// Splits a messy messaging display name into the person part and its decorations.
///
/// Returns `(person, extras)`. Emoji and decorative symbols (emoji, dingbats, `~ * ★ ☆ ♥ ✨`,
/// skin tones, variation selectors, ZWJ) are removed, the text is NFKC-normalised (so full-width
/// `（）` count as brackets) and white space is collapsed. The text is then split at
/// ` | `, `|`, ` - `, ` – `, ` — `, ` / `, `//`, `::`, `•` and ` · `; bracketed parts
/// (`( )`, `[ ]`, `{ }`, `【 】`, …) anywhere in the name are moved to the extras. The first
/// part is the person; the others, in the order they appear, are the extras. A hyphen without
/// spaces is part of a name ("Mary-Jane"), and titles stay ("Dr. Hans Müller"). When the person
/// part is empty (the whole name was bracketed, say), the first non-empty extra is used.
///
/// For example "Carlos | Loja X" gives `("Carlos", ["Loja X"])`, "João (cliente VIP)" gives
/// `("João", ["cliente VIP"])` and "Ana 🌸✨" gives `("Ana", [])`.
///
/// The input is never modified; this only derives strings from it.
pub fn split_display_name(s: &str) -> (String, Vec<String>) {
    // most names are letters and spaces: nothing to strip, bracket or split (an index build
    // calls this for every contact)
    if is_plain(s) {
        return (tidy(s), Vec::new());
    }
    split_display_name_full(s)
}

/// Letters (no marks) and spaces only, already NFKC.
fn is_plain(s: &str) -> bool {
    s.chars()
        .all(|c| c == ' ' || (c.is_alphabetic() && !is_combining_mark(c)))
        && unicode_normalization::is_nfkc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes
}

fn split_display_name_full(s: &str) -> (String, Vec<String>) {
    let cleaned = strip_decorations(strip_decorations(s.chars()).nfkc());
    let chars: Vec<char> = cleaned.chars().collect();
    // (position, text) of the parts outside brackets and of the bracketed parts.
    let mut parts: Vec<(usize, String)> = Vec::new();
    let mut extras: Vec<(usize, String)> = Vec::new();
    let mut cur = String::new();
    let mut cur_start: Option<usize> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(close) = closer(c) {
            let mut depth = 0usize;
            let mut end = None;
            for (j, &d) in chars.iter().enumerate().skip(i) {
                if d == c {
                    depth += 1;
                } else if d == close {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
            }
            let stop = end.unwrap_or(chars.len());
            extras.push((i, chars[i + 1..stop].iter().collect()));
            cur.push(' ');
            i = stop + 1;
            continue;
        }
        if let Some(len) = separator_at(&chars, i) {
            if let Some(start) = cur_start.take() {
                parts.push((start, std::mem::take(&mut cur)));
            }
            cur.clear();
            i += len;
            continue;
        }
        if cur_start.is_none() && !c.is_whitespace() {
            cur_start = Some(i);
        }
        cur.push(c);
        i += 1;
    }
    if let Some(start) = cur_start {
        parts.push((start, cur));
    }

    let mut parts = parts.into_iter().map(|(p, t)| (p, tidy(&t)));
    let mut person = parts.next().map(|(_, t)| t).unwrap_or_default();
    let mut rest: Vec<(usize, String)> = parts.chain(extras.into_iter().map(|(p, t)| (p, tidy(&t)))).collect();
    rest.retain(|(_, t)| !t.is_empty());
    rest.sort_by_key(|(p, _)| *p);
    if person.is_empty() && !rest.is_empty() {
        person = rest.remove(0).1;
    }
    (person, rest.into_iter().map(|(_, t)| t).collect())
}

/// A Latin spelling of a folded Cyrillic or Greek token, for matching names typed in the other
/// alphabet ("дмитрий" → "dmitry", "γιωργος" → "giorgos").
///
/// Returns `None` when the token has no Cyrillic or Greek letters. The scheme is a simple one
/// close to common English spellings: Russian `й→y ы→y х→kh ж→zh ц→ts ч→ch ш→sh щ→shch ю→yu
/// я→ya ё→e и→i е→e`, `ь ъ` dropped, a word-final `ий`/`ый` → `y`; Ukrainian `є→ye ї→yi і→i
/// ґ→g`; Serbian `ђ→dj ј→j љ→lj њ→nj ћ→c џ→dz`; Greek with the usual digraphs
/// (`ου→ou αυ→av ευ→ev γγ→ng`, initial `μπ→b ντ→d γκ→g`). It yields one spelling only: other
/// spellings typed by users (dmitrii, dmitriy) are found by the fuzzy matching in search, not
/// here. The input should be a [`fold`]ed token; other text is folded first.
pub fn transliterate_latin(token: &str) -> Option<String> {
    if token.is_ascii() {
        return None;
    }
    let folded = fold(token);
    let chars: Vec<char> = folded.chars().collect();
    if !chars.iter().any(|&c| cyrillic(c).is_some() || greek(c).is_some()) {
        return None;
    }
    // Letters only Ukrainian has switch to Ukrainian spellings of и, г, ї and є.
    let ukrainian = chars.iter().any(|c| matches!(c, 'і' | 'ї' | 'є' | 'ґ'));
    let mut out = String::with_capacity(folded.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let at_start = i == 0 || !chars[i - 1].is_alphanumeric();
        let at_end_after_next = chars.get(i + 2).is_none_or(|c| !c.is_alphanumeric());
        // Two-letter rules.
        let pair: Option<&str> = match (c, next) {
            ('и' | 'ы', Some('й')) if at_end_after_next => Some("y"),
            ('ο', Some('υ')) => Some("ou"),
            ('α', Some('υ')) => Some("av"),
            ('ε', Some('υ')) => Some("ev"),
            ('η', Some('υ')) => Some("iv"),
            ('μ', Some('π')) if at_start => Some("b"),
            ('ν', Some('τ')) if at_start => Some("d"),
            ('γ', Some('κ')) if at_start => Some("g"),
            ('γ', Some('κ')) => Some("ng"),
            ('γ', Some('γ')) => Some("ng"),
            _ => None,
        };
        if let Some(p) = pair {
            out.push_str(p);
            i += 2;
            continue;
        }
        let ua: Option<&str> = match c {
            'и' if ukrainian => Some("y"),
            'г' if ukrainian => Some("h"),
            'ї' if !at_start => Some("i"),
            'є' if !at_start => Some("ie"),
            _ => None,
        };
        if let Some(s) = ua {
            out.push_str(s);
        } else if c == 'γ' && matches!(next, Some('χ' | 'ξ')) {
            out.push('n');
        } else if let Some(s) = cyrillic(c).or_else(|| greek(c)) {
            out.push_str(s);
        } else {
            out.push(c);
        }
        i += 1;
    }
    Some(out)
}

fn cyrillic(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' | 'ё' | 'э' => "e",
        'ж' => "zh",
        'з' => "z",
        'и' | 'і' => "i",
        'й' | 'ы' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' | 'ў' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "shch",
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        // Ukrainian
        'є' => "ye",
        'ї' => "yi",
        'ґ' => "g",
        // Serbian / Macedonian
        'ђ' => "dj",
        'ј' => "j",
        'љ' => "lj",
        'њ' => "nj",
        'ћ' => "c",
        'џ' | 'ѕ' => "dz",
        // Kazakh, Mongolian, …
        'ә' => "a",
        'ғ' => "g",
        'қ' => "k",
        'ң' => "ng",
        'ө' => "o",
        'ұ' | 'ү' => "u",
        'һ' => "h",
        _ => return None,
    })
}

fn greek(c: char) -> Option<&'static str> {
    Some(match c {
        'α' => "a",
        'β' => "v",
        'γ' => "g",
        'δ' => "d",
        'ε' => "e",
        'ζ' => "z",
        'η' | 'ι' => "i",
        'θ' => "th",
        'κ' => "k",
        'λ' => "l",
        'μ' => "m",
        'ν' => "n",
        'ξ' => "x",
        'ο' | 'ω' => "o",
        'π' => "p",
        'ρ' => "r",
        'σ' | 'ς' => "s",
        'τ' => "t",
        'υ' => "y",
        'φ' => "f",
        'χ' => "ch",
        'ψ' => "ps",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_take_the_short_path_to_the_same_answer() {
        for name in [
            "Ana Santos Martins",
            "  ana   maria  ",
            "",
            "   ",
            "José da Silva",
            "Ærøskøbing Ødegård",
            "刘艳",
            "Дмитрий Иванов",
            "فاطمة الأمد",
            "Ngọc Ánh",
            "O'Brien",
            "Jean-Luc Picard",
            "Carlos | Loja X",
            "Maria (vizinha)",
            "ｍａｒｉａ",
            "𝓜𝓪𝓻𝓲𝓪",
            "Ⅷ Henry",
            "Jose\u{301} Silva",
            "Ana ✨ Maria",
            "Dr. João",
        ] {
            assert_eq!(split_display_name(name), split_display_name_full(name), "{name:?}");
        }
        assert!(is_plain("Ana Santos"));
        assert!(is_plain("刘艳"));
        assert!(!is_plain("ｍａｒｉａ"));
        assert!(!is_plain("Jose\u{301}"));
        assert!(!is_plain("O'Brien"));
    }

    #[test]
    fn folding_twice_changes_nothing() {
        // found by proptest: NFKC turns the double prime into two primes
        for s in ["″", "D’Angelo", "D´Angelo", "ﬁnal", "Ǆemal", "Straße"] {
            assert_eq!(fold(&fold(s)), fold(s), "{s:?}");
        }
    }

    fn toks(s: &str) -> Vec<String> {
        tokens(s)
    }

    fn split(s: &str) -> (String, Vec<String>) {
        split_display_name(s)
    }

    const CORPUS: &[&str] = &[
        "José María Pérez-Gómez",
        "François Müller",
        "Łukasz Wałęsa",
        "Søren Kierkegaard",
        "Straße Weiß",
        "Đorđe Đoković",
        "Æsa Œuvre Þór Ðan",
        "İstanbul Iğdır Işıl",
        "Nguyễn Thị Minh Khai",
        "O'Brien D’Angelo D´Angelo",
        "Дмитрий Ёлкин Андрей",
        "Олексій Їжак",
        "Γιώργος Παπαδόπουλος ΟΔΥΣΣΕΑΣ",
        "محمّد عبد الله",
        "مـحـمـد",
        "שָׁלוֹם כהן",
        "王小明",
        "田中さくら",
        "김민준 이서연",
        "ｶﾀｶﾅ ﾃｽﾄ",
        "ＡＢＣ１２３",
        "हिन्दी नाम प्रिया",
        "สมชาย ใจดี พี่",
        "Ana 🌸✨ | Loja X",
        "e\u{301}cole cafe\u{301}",
        "ﬁnance ℌ𝔞𝔫𝔰",
        "Mary-Jane_Watson.jr@x",
        "Ü\u{308}ber q\u{301}",
        "Tokyo東京2024",
        "Zoë Saldaña",
        "Κωνσταντίνος Ευάγγελος",
        "١٢٣ ४५६",
        "Åsa Ångström",
        "ŁÓDŹ ĦAMRUN ŦEST",
    ];

    #[test]
    fn fold_ascii_fast_path_lowercases_only() {
        assert_eq!(fold("Hello World-42_X"), "hello world-42_x");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn fold_removes_latin_diacritics() {
        assert_eq!(fold("José María Pérez"), "jose maria perez");
        assert_eq!(fold("François Müller"), "francois muller");
        assert_eq!(fold("Nguyễn Thị Minh Khai"), "nguyen thi minh khai");
        assert_eq!(fold("Zoë Saldaña"), "zoe saldana");
        assert_eq!(fold("Åsa Ångström"), "asa angstrom");
        assert_eq!(fold("Çağla Şahin"), "cagla sahin");
        assert_eq!(fold("Dvořák Žižka"), "dvorak zizka");
    }

    #[test]
    fn fold_spells_out_letters_without_decomposition() {
        assert_eq!(fold("Łukasz Wałęsa"), "lukasz walesa");
        assert_eq!(fold("Søren Kierkegaard"), "soren kierkegaard");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRAẞE"), "strasse");
        assert_eq!(fold("Đorđe"), "dorde");
        assert_eq!(fold("Æsa Œuvre Þór Ðan"), "aesa oeuvre thor dan");
        assert_eq!(fold("Işıl"), "isil");
        assert_eq!(fold("ĦAMRUN ŦEST"), "hamrun test");
        assert_eq!(fold("Ǿrsted"), "orsted");
    }

    #[test]
    fn fold_turkish_dotted_capital_i() {
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("İSTANBUL"), fold("istanbul"));
    }

    #[test]
    fn fold_decomposed_input_matches_precomposed() {
        assert_eq!(fold("e\u{301}cole"), fold("école"));
        assert_eq!(fold("cafe\u{301}"), "cafe");
        assert_eq!(fold("q\u{301}"), "q");
    }

    #[test]
    fn fold_nfkc_fullwidth_ligatures_and_fancy_letters() {
        assert_eq!(fold("ＡＢＣ１２３"), "abc123");
        assert_eq!(fold("ﬁnance"), "finance");
        assert_eq!(fold("ℌ𝔞𝔫𝔰"), "hans");
        assert_eq!(fold("ｶﾀｶﾅ"), "カタカナ");
        assert_eq!(fold("①"), "1");
    }

    #[test]
    fn fold_cyrillic_keeps_letters_lowercases_and_drops_stress() {
        assert_eq!(fold("Дмитрий"), "дмитрий");
        assert_eq!(fold("Андрей"), "андрей");
        assert_eq!(fold("Ёлкин"), "елкин");
        assert_eq!(fold("Олексій Їжак"), "олексій їжак");
        // Stress mark as used in dictionaries.
        assert_eq!(fold("Алекса\u{301}ндр"), "александр");
        // Decomposed й is recomposed, not stripped.
        assert_eq!(fold("И\u{306}ван"), "йван");
    }

    #[test]
    fn fold_greek_drops_tonos_and_unifies_final_sigma() {
        assert_eq!(fold("Γιώργος"), "γιωργοσ");
        assert_eq!(fold("ΟΔΥΣΣΕΑΣ"), fold("Οδυσσέας"));
        assert_eq!(fold("Ϊάσων"), "ιασων");
    }

    #[test]
    fn fold_arabic_strips_harakat_and_tatweel() {
        assert_eq!(fold("مُحَمَّد"), "محمد");
        assert_eq!(fold("مـحـمـد"), "محمد");
        // Hamza on alef is a mark too: أحمد and احمد fold the same.
        assert_eq!(fold("أحمد"), fold("احمد"));
    }

    #[test]
    fn fold_hebrew_strips_niqqud() {
        assert_eq!(fold("שָׁלוֹם"), "שלום");
    }

    #[test]
    fn fold_keeps_cjk_hangul_thai_devanagari() {
        assert_eq!(fold("王小明"), "王小明");
        assert_eq!(fold("김민준"), "김민준");
        assert_eq!(fold("がぎぐ ガギグ"), "がぎぐ ガギグ");
        assert_eq!(fold("สมชาย พี่"), "สมชาย พี่");
        assert_eq!(fold("प्रिया"), "प्रिया");
        assert_eq!(fold("हिन्दी"), "हिन्दी");
    }

    #[test]
    fn fold_removes_invisible_characters() {
        assert_eq!(fold("Mül\u{AD}ler"), "muller");
        assert_eq!(fold("An\u{200D}a\u{FE0F}"), "ana");
        assert_eq!(fold("\u{FEFF}Zoë"), "zoe");
    }

    #[test]
    fn fold_is_idempotent() {
        for s in CORPUS {
            let once = fold(s);
            assert_eq!(fold(&once), once, "fold not idempotent on {s:?}");
        }
    }

    #[test]
    fn tokens_basic_latin() {
        assert_eq!(toks("Maria  Silva"), ["maria", "silva"]);
        assert_eq!(toks("José María Pérez-Gómez"), ["jose", "maria", "perez", "gomez"]);
        assert_eq!(toks("jose.silva_99@acme.com"), ["jose", "silva", "99", "acme", "com"]);
        assert_eq!(toks("Carlos | Loja X"), ["carlos", "loja", "x"]);
        assert!(toks("").is_empty());
        assert!(toks(" -|- ").is_empty());
    }

    #[test]
    fn tokens_join_apostrophes() {
        assert_eq!(toks("O'Brien"), ["obrien"]);
        assert_eq!(toks("D’Angelo"), ["dangelo"]);
        assert_eq!(toks("D´Angelo"), ["dangelo"]);
        assert_eq!(toks("d`Angelo"), ["dangelo"]);
        assert_eq!(toks("Rock 'n' roll"), ["rock", "n", "roll"]);
        assert_eq!(toks("'quoted'"), ["quoted"]);
        assert_eq!(toks("Hawaiʻi"), ["hawaii"]);
    }

    #[test]
    fn tokens_drop_emoji_and_symbols() {
        assert_eq!(toks("Ana 🌸✨"), ["ana"]);
        assert_eq!(toks("Pedro🔥Silva"), ["pedro", "silva"]);
        assert_eq!(toks("👨‍👩‍👧 Família"), ["familia"]);
        assert_eq!(toks("★ VIP ★ #1"), ["vip", "1"]);
    }

    #[test]
    fn tokens_cjk_one_per_character() {
        assert_eq!(toks("王小明"), ["王", "小", "明"]);
        assert_eq!(toks("田中さくら"), ["田", "中", "さ", "く", "ら"]);
        assert_eq!(toks("김민준"), ["김", "민", "준"]);
        assert_eq!(toks("Tokyo東京2024"), ["tokyo", "東", "京", "2024"]);
        assert_eq!(toks("ジョン・スミス"), ["ジ", "ョ", "ン", "ス", "ミ", "ス"]);
        assert_eq!(toks("佐々木"), ["佐", "々", "木"]);
        assert_eq!(toks("ｻﾄｳ"), ["サ", "ト", "ウ"]);
    }

    #[test]
    fn tokens_keep_marks_in_indic_and_thai_words() {
        assert_eq!(toks("प्रिया शर्मा"), ["प्रिया", "शर्मा"]);
        assert_eq!(toks("สมชาย ใจดี"), ["สมชาย", "ใจดี"]);
        assert_eq!(toks("พี่ตุ๊ก"), ["พี่ตุ๊ก"]);
    }

    #[test]
    fn tokens_arabic_hebrew_cyrillic_greek() {
        assert_eq!(toks("مُحَمَّد عبد الله"), ["محمد", "عبد", "الله"]);
        assert_eq!(toks("Дмитрий Ёлкин"), ["дмитрий", "елкин"]);
        assert_eq!(toks("Γιώργος Παπαδόπουλος"), ["γιωργοσ", "παπαδοπουλοσ"]);
        assert_eq!(toks("דוד כהן"), ["דוד", "כהן"]);
    }

    #[test]
    fn tokens_non_ascii_digits_are_words() {
        assert_eq!(toks("١٢٣ ४५६"), ["١٢٣", "४५६"]);
    }

    #[test]
    fn tokens_are_idempotent() {
        for s in CORPUS {
            let t = tokens(s);
            assert_eq!(tokens(&t.join(" ")), t, "tokens not idempotent on {s:?}");
            for w in &t {
                assert_eq!(&fold(w), w, "token {w:?} of {s:?} is not folded");
            }
        }
    }

    #[test]
    fn for_each_token_matches_tokens() {
        for s in CORPUS {
            let mut v = Vec::new();
            for_each_token(s, |t| v.push(t.to_string()));
            assert_eq!(v, tokens(s));
        }
    }

    #[test]
    fn is_cjk_classifies() {
        for c in ['王', 'さ', 'カ', '김', '々', 'ㄅ', '𠮷'] {
            assert!(is_cjk(c), "{c:?}");
        }
        for c in ['a', 'é', 'д', 'α', 'ก', 'क', '1', '。', 'م'] {
            assert!(!is_cjk(c), "{c:?}");
        }
    }

    #[test]
    fn split_examples_from_contract() {
        assert_eq!(split("Carlos | Loja X"), ("Carlos".into(), vec!["Loja X".into()]));
        assert_eq!(
            split("Maria Silva - Vendas"),
            ("Maria Silva".into(), vec!["Vendas".into()])
        );
        assert_eq!(split("João (cliente VIP)"), ("João".into(), vec!["cliente VIP".into()]));
        assert_eq!(split("Ana 🌸✨"), ("Ana".into(), vec![]));
        assert_eq!(split("~ Pedro ~"), ("Pedro".into(), vec![]));
        assert_eq!(split("Dr. Hans Müller"), ("Dr. Hans Müller".into(), vec![]));
        assert_eq!(split("Mary-Jane Watson"), ("Mary-Jane Watson".into(), vec![]));
        assert_eq!(split("李小龙"), ("李小龙".into(), vec![]));
        assert_eq!(split("Loja X / Carlos"), ("Loja X".into(), vec!["Carlos".into()]));
    }

    #[test]
    fn split_all_separators() {
        for name in [
            "Ana|Loja",
            "Ana | Loja",
            "Ana - Loja",
            "Ana – Loja",
            "Ana — Loja",
            "Ana / Loja",
            "Ana//Loja",
            "Ana::Loja",
            "Ana • Loja",
            "Ana · Loja",
            "Ana -- Loja",
            "Ana [Loja]",
            "Ana {Loja}",
            "Ana【Loja】",
        ] {
            assert_eq!(split(name), ("Ana".into(), vec!["Loja".into()]), "{name:?}");
        }
    }

    #[test]
    fn split_keeps_unspaced_hyphens_slashes_and_dots() {
        assert_eq!(
            split("Jean-Luc Picard - Captain"),
            ("Jean-Luc Picard".into(), vec!["Captain".into()])
        );
        assert_eq!(split("Ana/Bia"), ("Ana/Bia".into(), vec![]));
        assert_eq!(split("John Smith Jr."), ("John Smith Jr.".into(), vec![]));
        assert_eq!(split("Paral·lel"), ("Paral·lel".into(), vec![]));
    }

    #[test]
    fn split_brackets_anywhere_and_in_order() {
        assert_eq!(
            split("[ADM] Carlos | Loja"),
            ("Carlos".into(), vec!["ADM".into(), "Loja".into()])
        );
        assert_eq!(split("Ana (VIP) Souza"), ("Ana Souza".into(), vec!["VIP".into()]));
        assert_eq!(split("Ana (VIP (gold))"), ("Ana".into(), vec!["VIP (gold)".into()]));
        assert_eq!(split("Ana (sem fechar"), ("Ana".into(), vec!["sem fechar".into()]));
        // Full-width brackets are NFKC-normalised.
        assert_eq!(split("王小明（销售部）"), ("王小明".into(), vec!["销售部".into()]));
    }

    #[test]
    fn split_empty_person_falls_back() {
        assert_eq!(split("(Carlos)"), ("Carlos".into(), vec![]));
        assert_eq!(split(" | Loja X | Carlos"), ("Loja X".into(), vec!["Carlos".into()]));
        assert_eq!(split("🌸✨"), (String::new(), vec![]));
        assert_eq!(split(""), (String::new(), vec![]));
    }

    #[test]
    fn split_removes_decorations_and_collapses_space() {
        assert_eq!(split("★彡 Yuki 彡★"), ("彡 Yuki 彡".into(), vec![]));
        assert_eq!(split("Pedro🔥Silva"), ("Pedro Silva".into(), vec![]));
        assert_eq!(split("👩🏽‍💻 Priya   Sharma ™"), ("Priya Sharma".into(), vec![]));
        assert_eq!(split("*~ Lu ♥ ~*"), ("Lu".into(), vec![]));
        assert_eq!(split("🇧🇷 Carlos 🇧🇷"), ("Carlos".into(), vec![]));
        assert_eq!(split("D´Angelo"), ("DAngelo".into(), vec![]));
    }

    #[test]
    fn split_person_tokens_match_name_tokens() {
        // The person part of a plain name tokenises like the name itself.
        for name in [
            "Dr. Hans Müller",
            "Mary-Jane Watson",
            "李小龙",
            "O'Brien",
            "Дмитрий Ёлкин",
        ] {
            let (person, _) = split(name);
            assert_eq!(tokens(&person), tokens(name), "{name:?}");
        }
    }

    #[test]
    fn transliterate_russian() {
        assert_eq!(transliterate_latin("дмитрий").as_deref(), Some("dmitry"));
        assert_eq!(transliterate_latin("андрей").as_deref(), Some("andrey"));
        assert_eq!(transliterate_latin("наталья").as_deref(), Some("natalya"));
        assert_eq!(transliterate_latin("хрущев").as_deref(), Some("khrushchev"));
        assert_eq!(transliterate_latin("жуков").as_deref(), Some("zhukov"));
        assert_eq!(transliterate_latin("цветаева").as_deref(), Some("tsvetaeva"));
        assert_eq!(transliterate_latin("чайковский").as_deref(), Some("chaykovsky"));
        assert_eq!(transliterate_latin("юлия").as_deref(), Some("yuliya"));
        assert_eq!(transliterate_latin("выборг").as_deref(), Some("vyborg"));
        assert_eq!(transliterate_latin("объект").as_deref(), Some("obekt"));
        // Folds unfolded input first: ё → е.
        assert_eq!(transliterate_latin("Ёлкин").as_deref(), Some("elkin"));
    }

    #[test]
    fn transliterate_ukrainian_serbian() {
        assert_eq!(transliterate_latin("олексій").as_deref(), Some("oleksiy"));
        assert_eq!(transliterate_latin("київ").as_deref(), Some("kyiv"));
        assert_eq!(transliterate_latin("євген").as_deref(), Some("yevhen"));
        assert_eq!(transliterate_latin("андрій").as_deref(), Some("andriy"));
        assert_eq!(transliterate_latin("ђоковић").as_deref(), Some("djokovic"));
        assert_eq!(transliterate_latin("љубљана").as_deref(), Some("ljubljana"));
    }

    #[test]
    fn transliterate_greek() {
        assert_eq!(transliterate_latin("γιωργοσ").as_deref(), Some("giorgos"));
        assert_eq!(transliterate_latin("παπαδοπουλοσ").as_deref(), Some("papadopoulos"));
        assert_eq!(transliterate_latin("ευαγγελοσ").as_deref(), Some("evangelos"));
        assert_eq!(transliterate_latin("χρηστοσ").as_deref(), Some("christos"));
        assert_eq!(transliterate_latin("κωνσταντινοσ").as_deref(), Some("konstantinos"));
        assert_eq!(transliterate_latin("μπαμπησ").as_deref(), Some("bampis"));
        assert_eq!(transliterate_latin("ντινοσ").as_deref(), Some("dinos"));
        assert_eq!(transliterate_latin("αλεξανδροσ").as_deref(), Some("alexandros"));
    }

    #[test]
    fn transliterate_none_without_cyrillic_or_greek() {
        assert_eq!(transliterate_latin("maria"), None);
        assert_eq!(transliterate_latin("jose"), None);
        assert_eq!(transliterate_latin("王"), None);
        assert_eq!(transliterate_latin("محمد"), None);
        assert_eq!(transliterate_latin(""), None);
    }

    #[test]
    fn transliteration_output_is_plain_ascii_tokens() {
        for name in ["Дмитрий Ёлкин", "Γιώργος Παπαδόπουλος", "Олексій Їжак", "Ђоковић"]
        {
            for t in tokens(name) {
                let tr = transliterate_latin(&t).unwrap_or_default();
                assert!(tr.is_ascii() && !tr.is_empty(), "{t:?} -> {tr:?}");
                assert_eq!(tokens(&tr), vec![tr.clone()]);
            }
        }
    }
}
