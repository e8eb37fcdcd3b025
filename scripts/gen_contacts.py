#!/usr/bin/env python3
"""Deterministic generator of realistic, multi-locale contacts as NDJSON (contactdex contact shape).

Usage:
    python3 scripts/gen_contacts.py --n 1000000 --out /tmp/c1m.ndjson \
        [--dup-rate 0.05] [--hard-rate 0.02] [--seed 42] \
        [--queries /tmp/q.txt] [--n-queries 2000] [--labels /tmp/labels.csv]

    Without --out the NDJSON goes to stdout. Summary statistics go to stderr (--quiet hides them).
    Same arguments + same seed => byte-identical output (asking for --queries/--labels does not
    change the contacts file). Python 3 standard library only.

What it makes
  * Locales: pt_BR ~30 %, en ~20 % (US, some GB), es ~15 % (MX/ES/AR), de ~8 %, fr ~7 %,
    ru (Cyrillic) ~6 %, ar (Arabic; SA/AE/EG) ~5 %, zh ~4 %, ja ~3 %, it + pl ~2 %.
    Zipf-skewed first/last names (many "Maria Silva" / "John Smith"); ~15 % messy display names
    (emoji, "Carlos | Loja X", "Ana - Vendas", ALL CAPS, lower case, first name only, "Dr. ",
    nicknames); ~2 % no name.
  * Phones (~90 % of fresh rows, 1-2 each): numbers that are VALID for libphonenumber (checked against
    the PhoneNumberMetadata.xml that the `phonenumber` crate ships), in mixed formats: E.164,
    international with spaces, national with trunk prefix, national without country code, dots,
    dashes, parentheses (plus a few Arabic-Indic / full-width digit spellings). National forms
    without a country code are mostly Brazilian: give the workspace default_region BR to have them
    normalised. Every fresh contact's phone is unique (a bijection of the row number per number
    range; guaranteed up to ~3M rows, a note is printed above), so a shared phone only ever comes
    from a planted pair. GB mobiles use 71xx/72xx/73xx/79[0245-8]x: "+44 7911 123456" is NOT valid
    in this metadata (only 7911 0/2/8 are), and 07700 900xxx is the fiction range.
  * Emails (~70 %): derived from the (ASCII-folded / romanised) name or a random handle; gmail,
    hotmail, yahoo, outlook, uol.com.br, locale providers, or the contact's company domain;
    sometimes mixed case. Unique across fresh contacts (gmail compared without dots).
  * tags (0-3), custom fields (customer_tier, lifetime_value, contract_renewal_date, newsletter,
    preferred_products, company, city; each ~50 %), source, status, created_at (2022-2025, grows
    with the row number), created_by, last_interaction_at (after created_at).
  * Planted duplicates (--dup-rate of the rows): a later row that is the same person as an
    earlier one; kinds: channel_email_only, channel_phone_only, name_typo, nickname,
    accents_dropped, name_swapped, phone_reformatted, email_variant, reimport. A second duplicate
    of the same person also yields a same_cluster pair with the first.
  * Hard non-duplicates (--hard-rate of the rows): namesake (same name, nothing else shared),
    family_shared_phone (same surname, different first name, one shared phone),
    colleague_shared_domain (same company and email domain, different person).
  * --labels FILE: CSV id_a,id_b,kind,is_duplicate for every planted pair (1 = same person).
  * --queries FILE: ~2,000 inbox-style queries drawn from the data (name prefixes, full names,
    names with a typo, phones in several formats, last 4 digits, emails, email domains, tags, ...).

Check an output with scripts/check_contacts.py FILE --labels L --queries Q.
Speed: ~25-35 us per row in CPython 3.11 (1M rows ~30-45 s on a loaded 2-core VM), ~400 MB RSS at 1M.
"""

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from random import Random

# ----------------------------------------------------------------------------------------------
# weighted pickers: a 65,536-slot table indexed by 16 random bits (fast and deterministic)

TABLE_BITS = 16
TABLE_SIZE = 1 << TABLE_BITS


def make_table(items, weights):
    total = float(sum(weights))
    raw = [w / total * TABLE_SIZE for w in weights]
    counts = [max(1, int(x)) if w > 0 else 0 for x, w in zip(raw, weights)]
    diff = TABLE_SIZE - sum(counts)
    order = sorted(range(len(items)), key=lambda k: raw[k] - int(raw[k]), reverse=True)
    k = 0
    while diff > 0:
        counts[order[k % len(order)]] += 1
        diff -= 1
        k += 1
    while diff < 0:  # only when many tiny weights were bumped to 1
        j = max(range(len(items)), key=lambda q: counts[q])
        counts[j] -= 1
        diff += 1
    table = []
    for it, c in zip(items, counts):
        table.extend([it] * c)
    return table


def zipf_weights(n, s=1.0):
    return [1.0 / (r + 1) ** s for r in range(n)]


def split_list(s):
    return [x.strip() for x in s.split(",") if x.strip()]


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_enc = json.encoder.encode_basestring  # the C string encoder json.dumps(ensure_ascii=False) uses

# ----------------------------------------------------------------------------------------------
# text helpers

_FOLD_SPECIAL = str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
                               "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D", "ı": "i"})
_LATIN_RE = re.compile(r"[A-Za-zÀ-ɏ]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_fold_cache = {}


def fold(s):
    """Drop accents from Latin text (José -> Jose, Müller -> Muller, Łukasz -> Lukasz, Weiß -> Weiss)."""
    r = _fold_cache.get(s)
    if r is None:
        t = s.translate(_FOLD_SPECIAL)
        r = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
        r = unicodedata.normalize("NFC", r)
        if len(_fold_cache) < 200000:
            _fold_cache[s] = r
    return r


_CYR = {"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
        "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
        "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y",
        "ь": "", "э": "e", "ю": "yu", "я": "ya"}


def translit_ru(s):
    out = []
    for c in s:
        lc = c.lower()
        if lc in _CYR:
            t = _CYR[lc]
            out.append(t.capitalize() if c != lc and t else t)
        else:
            out.append(c)
    return "".join(out)


ROMAN = {}  # native (Arabic / Chinese / Japanese) name -> romanised form, filled from the pools


_ascii_cache = {}


def ascii_token(s):
    """Lower-case ASCII token for e-mail local parts / domains (memoised: names come from pools)."""
    r = _ascii_cache.get(s)
    if r is None:
        t = s
        if t in ROMAN:
            t = ROMAN[t]
        elif any("\u0400" <= c <= "\u04ff" for c in t):
            t = translit_ru(t)
        r = _NON_ALNUM.sub("", fold(t).lower())
        if len(_ascii_cache) < 100000:
            _ascii_cache[s] = r
    return r


def has_accents(s):
    return bool(_LATIN_RE.search(s)) and fold(s) != s


# ----------------------------------------------------------------------------------------------
# name pools (ordered by frequency rank; Zipf weights are applied)

PT_M = split_list("José, João, Antônio, Francisco, Carlos, Paulo, Pedro, Lucas, Luiz, Marcos, Gabriel, Rafael, "
                  "Daniel, Marcelo, Bruno, Eduardo, Felipe, Raimundo, Rodrigo, João Pedro, Gustavo, Thiago, "
                  "Mateus, Fernando, Sérgio, Vinícius, Guilherme, Otávio, Luís, Caio, Heitor, Davi")
PT_F = split_list("Maria, Ana, Francisca, Antônia, Adriana, Juliana, Márcia, Fernanda, Patrícia, Aline, Sandra, "
                  "Camila, Amanda, Bruna, Jéssica, Letícia, Júlia, Luciana, Vanessa, Mariana, Gabriela, Beatriz, "
                  "Maria Eduarda, Ana Beatriz, Larissa, Conceição, Thaís, Débora, Cláudia, Raíssa, Lívia")
PT_L = split_list("Silva, Santos, Oliveira, Souza, Rodrigues, Ferreira, Alves, Pereira, Lima, Gomes, Costa, "
                  "Ribeiro, Martins, Carvalho, Almeida, Lopes, Soares, Fernandes, Vieira, Barbosa, Rocha, Dias, "
                  "Nascimento, Andrade, Moreira, Nunes, Marques, Machado, Mendes, Freitas, Cardoso, Ramos, "
                  "Gonçalves, Araújo, Conceição, Magalhães, Brandão, Falcão, Assunção, Sá")
PT_PARTICLE = {"Silva": "da", "Santos": "dos", "Oliveira": "de", "Souza": "de", "Costa": "da",
               "Conceição": "da", "Nascimento": "do", "Assunção": "da", "Rocha": "da", "Cruz": "da"}

EN_M = split_list("James, John, Robert, Michael, William, David, Richard, Joseph, Thomas, Charles, Christopher, "
                  "Daniel, Matthew, Anthony, Mark, Steven, Andrew, Joshua, Kevin, Brian, Edward, Timothy, "
                  "Jonathan, Alexander, Ryan, Jacob, Tyler, Nathan")
EN_F = split_list("Mary, Patricia, Jennifer, Linda, Elizabeth, Barbara, Susan, Jessica, Sarah, Karen, Lisa, Nancy, "
                  "Betty, Margaret, Sandra, Ashley, Emily, Michelle, Amanda, Stephanie, Rebecca, Katherine, "
                  "Olivia, Emma, Chloe, Megan, Lauren, Hannah")
EN_L = split_list("Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, Martinez, Wilson, "
                  "Anderson, Taylor, Thomas, Moore, Jackson, Martin, Lee, Thompson, White, Harris, Clark, Lewis, "
                  "Robinson, Walker, Young, Allen, King, Wright, Scott, O'Brien, McDonald, Nguyen, Patel, Evans")

ES_M = split_list("José, Juan, Luis, Carlos, Jorge, Miguel, Alejandro, Francisco, Javier, Antonio, Manuel, Pedro, "
                  "Juan Carlos, Sergio, Fernando, Diego, Andrés, Pablo, Raúl, Ramón, Jesús, Santiago, Matías, "
                  "Eduardo, Guillermo, Ignacio, Enrique")
ES_F = split_list("María, Guadalupe, Carmen, Ana, Laura, Lucía, Sofía, Valentina, Isabel, Rosa, Patricia, Marta, "
                  "María José, Elena, Verónica, Gabriela, Daniela, Camila, Paula, Inés, Mercedes, Dolores, "
                  "Concepción, Ximena")
ES_L = split_list("García, Rodríguez, González, Fernández, López, Martínez, Sánchez, Pérez, Gómez, Martín, "
                  "Jiménez, Ruiz, Hernández, Díaz, Moreno, Muñoz, Álvarez, Romero, Núñez, Ramírez, Torres, "
                  "Flores, Castillo, Vázquez, Ortiz, Peña, Ibáñez, Cortés, Domínguez, Gutiérrez")

DE_M = split_list("Peter, Michael, Thomas, Andreas, Wolfgang, Klaus, Jürgen, Stefan, Frank, Uwe, Günter, Jörg, "
                  "Lukas, Maximilian, Felix, Jonas, Leon, Matthias, Sebastian, Tobias, Björn")
DE_F = split_list("Ursula, Sabine, Monika, Petra, Claudia, Susanne, Anna, Julia, Katharina, Lena, Laura, Sophie, "
                  "Jutta, Birgit, Bärbel, Renate, Karin, Hannah, Jülide")
DE_L = split_list("Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Hoffmann, Schäfer, "
                  "Koch, Bauer, Richter, Klein, Wolf, Schröder, Neumann, Schwarz, Zimmermann, Braun, Krüger, "
                  "Hofmann, Hartmann, Lange, Weiß, Groß, Köhler, Jäger, Böhm")

FR_M = split_list("Jean, Pierre, Michel, François, Philippe, Nicolas, Thomas, Julien, Antoine, Alexandre, Louis, "
                  "Hugo, Jean-Pierre, Gabriel, Raphaël, Jérôme, Stéphane, Frédéric, Sébastien, Benoît")
FR_F = split_list("Marie, Nathalie, Isabelle, Sylvie, Catherine, Françoise, Sophie, Camille, Léa, Chloé, Manon, "
                  "Inès, Céline, Hélène, Marie-Claire, Élodie, Amélie, Margaux, Zoé")
FR_L = split_list("Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Leroy, Moreau, Simon, Laurent, "
                  "Lefèvre, Michel, Garcia, David, Bertrand, Roux, Vincent, Fournier, Morel, Girard, André, "
                  "Lefebvre, Mercier, Dupont, Lambert, Bonnet, François, Rousseau, Lemaître, Bérenger")

RU_M = split_list("Александр, Сергей, Дмитрий, Андрей, Алексей, Максим, Евгений, Иван, Михаил, Николай, "
                  "Владимир, Артём, Никита, Павел, Юрий, Пётр")
RU_F = split_list("Елена, Ольга, Наталья, Анна, Екатерина, Татьяна, Мария, Ирина, Светлана, Юлия, Анастасия, "
                  "Дарья, Ксения, Алёна")
RU_L = split_list("Иванов, Смирнов, Кузнецов, Попов, Васильев, Петров, Соколов, Михайлов, Новиков, Фёдоров, "
                  "Морозов, Волков, Алексеев, Лебедев, Семёнов, Егоров, Павлов, Козлов, Никитин, Достоевский")
RU_PATRONYMIC = {"Александр": "Александров", "Сергей": "Сергеев", "Дмитрий": "Дмитриев", "Андрей": "Андреев",
                 "Алексей": "Алексеев", "Иван": "Иванов", "Михаил": "Михайлов", "Николай": "Николаев",
                 "Владимир": "Владимиров", "Павел": "Павлов", "Юрий": "Юрьев", "Пётр": "Петров"}

# Arabic / Chinese / Japanese: "native:romanised"
AR_M = split_list("محمد:mohamed, أحمد:ahmed, علي:ali, عمر:omar, خالد:khaled, يوسف:youssef, إبراهيم:ibrahim, "
                  "حسن:hassan, حسين:hussein, عبدالله:abdullah, مصطفى:mostafa, سعيد:saeed, كريم:karim, طارق:tarek, "
                  "فيصل:faisal, ناصر:nasser")
AR_F = split_list("فاطمة:fatima, عائشة:aisha, مريم:maryam, نور:nour, سارة:sara, ليلى:layla, زينب:zainab, هدى:huda, "
                  "خديجة:khadija, ياسمين:yasmin, رنا:rana, سلمى:salma, ريم:reem, دينا:dina")
AR_L = split_list("العلي:alali, الأحمد:alahmad, حسن:hassan, إبراهيم:ibrahim, عبدالله:abdullah, الحسيني:alhusseini, "
                  "المصري:almasri, الخطيب:alkhatib, السيد:elsayed, منصور:mansour, الشامي:alshami, "
                  "القحطاني:alqahtani, الغامدي:alghamdi, العتيبي:alotaibi, الشمري:alshammari, الحربي:alharbi, "
                  "سالم:salem, عثمان:othman, الدوسري:aldosari, المطيري:almutairi")
ZH_L = split_list("王:wang, 李:li, 张:zhang, 刘:liu, 陈:chen, 杨:yang, 黄:huang, 赵:zhao, 吴:wu, 周:zhou, 徐:xu, "
                  "孙:sun, 马:ma, 朱:zhu, 胡:hu, 郭:guo, 何:he, 林:lin, 高:gao, 罗:luo")
ZH_M = split_list("伟:wei, 小明:xiaoming, 强:qiang, 磊:lei, 军:jun, 洋:yang, 勇:yong, 杰:jie, 涛:tao, 明:ming, "
                  "超:chao, 刚:gang, 建华:jianhua, 志强:zhiqiang, 浩然:haoran, 宇轩:yuxuan")
ZH_F = split_list("芳:fang, 娜:na, 秀英:xiuying, 敏:min, 静:jing, 丽:li, 艳:yan, 娟:juan, 秀兰:xiulan, 霞:xia, "
                  "桂英:guiying, 丽娟:lijuan, 晓燕:xiaoyan, 子涵:zihan, 欣怡:xinyi, 平:ping")
JA_L = split_list("佐藤:sato, 鈴木:suzuki, 高橋:takahashi, 田中:tanaka, 伊藤:ito, 渡辺:watanabe, 山本:yamamoto, "
                  "中村:nakamura, 小林:kobayashi, 加藤:kato, 吉田:yoshida, 山田:yamada, 佐々木:sasaki, "
                  "山口:yamaguchi, 松本:matsumoto, 井上:inoue, 木村:kimura, 林:hayashi")
JA_M = split_list("翔太:shota, 大輔:daisuke, 健太:kenta, 拓也:takuya, 蓮:ren, 悠真:yuma, 太郎:taro, 大翔:hiroto, "
                  "誠:makoto, 直樹:naoki, 和也:kazuya")
JA_F = split_list("さくら:sakura, 陽菜:hina, 結衣:yui, 美咲:misaki, 葵:aoi, 花子:hanako, 直美:naomi, 由美:yumi, "
                  "愛:ai, 優子:yuko, 真由美:mayumi, ゆかり:yukari")

IT_M = split_list("Giuseppe, Giovanni, Antonio, Mario, Luigi, Francesco, Alessandro, Marco, Andrea, Luca, Matteo, "
                  "Lorenzo, Niccolò")
IT_F = split_list("Maria, Anna, Giuseppina, Rosa, Giulia, Francesca, Chiara, Sara, Martina, Federica, Alessia")
IT_L = split_list("Rossi, Russo, Ferrari, Esposito, Bianchi, Romano, Colombo, Ricci, Marino, Greco, Bruno, Gallo, "
                  "Conti, De Luca, Mancini, Costa, Giordano, Lombardi, Barbieri, Fontana, Caruso, Mazzà")
PL_M = split_list("Łukasz, Piotr, Krzysztof, Andrzej, Tomasz, Paweł, Michał, Marcin, Jakub, Wojciech, Mateusz, "
                  "Grzegorz")
PL_F = split_list("Anna, Katarzyna, Małgorzata, Agnieszka, Barbara, Ewa, Magdalena, Joanna, Zofia, Żaneta, "
                  "Aleksandra")
PL_L = split_list("Nowak, Kowalski, Wiśniewski, Wójcik, Kowalczyk, Kamiński, Lewandowski, Zieliński, Szymański, "
                  "Woźniak, Dąbrowski, Kozłowski, Jankowski, Mazur, Wojciechowski, Kwiatkowski, Krawczyk, "
                  "Łuczak, Żak, Gwóźdź")


def native_list(lst):
    out = []
    for x in lst:
        if ":" in x:
            nat, rom = x.split(":", 1)
            ROMAN[nat] = rom
            out.append(nat)
        else:
            out.append(x)
    return out


for _name in ("AR_M", "AR_F", "AR_L", "ZH_L", "ZH_M", "ZH_F", "JA_L", "JA_M", "JA_F"):
    globals()[_name] = native_list(globals()[_name])

NICKNAMES = {
    # en
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"], "Elizabeth": ["Beth", "Liz", "Betty"],
    "Richard": ["Rick", "Dick"], "James": ["Jim", "Jimmy"], "John": ["Johnny", "Jack"], "Michael": ["Mike"],
    "Joseph": ["Joe"], "Thomas": ["Tom", "Tommy"], "Charles": ["Charlie", "Chuck"], "Christopher": ["Chris"],
    "Daniel": ["Dan", "Danny"], "Matthew": ["Matt"], "Anthony": ["Tony"], "Steven": ["Steve"],
    "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"], "Edward": ["Ed", "Eddie", "Ted"], "Timothy": ["Tim"],
    "Jonathan": ["Jon"], "Jennifer": ["Jen", "Jenny"], "Patricia": ["Pat", "Patty"],
    "Margaret": ["Maggie", "Peggy"], "Katherine": ["Kate", "Katie", "Kathy"], "Rebecca": ["Becky"],
    "Susan": ["Sue"], "Stephanie": ["Steph"], "Jessica": ["Jess"], "Barbara": ["Barb"], "David": ["Dave"],
    "Alexander": ["Alex"], "Nathan": ["Nate"], "Jacob": ["Jake"], "Olivia": ["Liv"], "Emily": ["Em"],
    # pt
    "José": ["Zé"], "Francisco": ["Chico"], "Antônio": ["Toninho", "Tonho"], "João": ["Joãozinho"],
    "Eduardo": ["Edu", "Dudu"], "Rafael": ["Rafa"], "Gabriel": ["Biel"], "Guilherme": ["Gui"],
    "Fernanda": ["Nanda", "Fê"], "Beatriz": ["Bia"], "Patrícia": ["Paty"], "Mariana": ["Mari"],
    "Gabriela": ["Gabi"], "Juliana": ["Ju"], "Vinícius": ["Vini"], "Rodrigo": ["Digo"], "Carlos": ["Carlinhos"],
    "Felipe": ["Lipe"], "Luciana": ["Lu"], "Camila": ["Mila"], "Adriana": ["Dri"], "Pedro": ["Pedrinho"],
    "Raimundo": ["Mundinho"], "Conceição": ["Ceiça"], "Maria Eduarda": ["Duda"], "Ana Beatriz": ["Bia"],
    "Thiago": ["Thi"], "João Pedro": ["JP"],
    # es
    "Jesús": ["Chucho", "Chuy"], "Manuel": ["Manolo", "Manu"], "Alejandro": ["Alex", "Ale"],
    "Ignacio": ["Nacho"], "Dolores": ["Lola"], "Concepción": ["Conchi"], "Mercedes": ["Meche"],
    "Guadalupe": ["Lupe", "Lupita"], "Javier": ["Javi"], "Santiago": ["Santi"], "Ramón": ["Moncho"],
    "Enrique": ["Quique"], "Isabel": ["Isa", "Chabela"], "Daniela": ["Dani"], "Valentina": ["Vale"],
    "Guillermo": ["Memo"], "Verónica": ["Vero"], "Sofía": ["Sofi"], "Juan Carlos": ["Juanca"],
    # de
    "Wolfgang": ["Wolfi"], "Matthias": ["Matze"], "Maximilian": ["Max"], "Katharina": ["Kathi", "Katja"],
    "Andreas": ["Andi"], "Sebastian": ["Basti"], "Tobias": ["Tobi"], "Susanne": ["Susi"], "Sabine": ["Bine"],
    # fr
    "Nicolas": ["Nico"], "Alexandre": ["Alex"], "Philippe": ["Phil"], "Frédéric": ["Fred"], "Sébastien": ["Seb"],
    "Stéphane": ["Steph"], "Catherine": ["Cathy"], "Isabelle": ["Isa"], "Nathalie": ["Nath"], "Élodie": ["Élo"],
    "Raphaël": ["Raph"], "Benoît": ["Ben"],
    # ru
    "Александр": ["Саша", "Шура"], "Сергей": ["Серёжа"], "Дмитрий": ["Дима"], "Алексей": ["Лёша"],
    "Евгений": ["Женя"], "Иван": ["Ваня"], "Михаил": ["Миша"], "Николай": ["Коля"],
    "Владимир": ["Володя", "Вова"], "Павел": ["Паша"], "Юрий": ["Юра"], "Максим": ["Макс"],
    "Андрей": ["Андрюша"], "Артём": ["Тёма"], "Пётр": ["Петя"], "Елена": ["Лена"], "Ольга": ["Оля"],
    "Наталья": ["Наташа"], "Анна": ["Аня"], "Екатерина": ["Катя"], "Татьяна": ["Таня"], "Мария": ["Маша"],
    "Ирина": ["Ира"], "Светлана": ["Света"], "Юлия": ["Юля"], "Анастасия": ["Настя"], "Дарья": ["Даша"],
    "Ксения": ["Ксюша"],
    # it
    "Giuseppe": ["Peppe", "Beppe", "Pino"], "Giovanni": ["Gianni"], "Francesco": ["Franco"],
    "Alessandro": ["Sandro", "Ale"], "Luigi": ["Gigi"], "Lorenzo": ["Renzo"], "Giuseppina": ["Pina"],
    "Federica": ["Fede"],
    # pl
    "Krzysztof": ["Krzysiek"], "Andrzej": ["Jędrek"], "Tomasz": ["Tomek"], "Jakub": ["Kuba"],
    "Wojciech": ["Wojtek"], "Grzegorz": ["Grzesiek"], "Piotr": ["Piotrek"], "Katarzyna": ["Kasia"],
    "Małgorzata": ["Gosia", "Małgosia"], "Agnieszka": ["Aga"], "Magdalena": ["Magda"], "Joanna": ["Asia"],
    "Aleksandra": ["Ola"], "Zofia": ["Zosia"],
}

ZH_HOMOPHONE = {"明": "名", "小": "晓", "伟": "玮", "芳": "方", "丽": "莉", "静": "晶", "军": "君", "杰": "洁",
                "涛": "韬", "敏": "民", "娟": "鹃", "霞": "侠", "强": "墙", "勇": "永", "华": "桦", "英": "瑛",
                "王": "汪", "张": "章", "刘": "柳", "陈": "程", "杨": "阳", "黄": "皇", "徐": "许"}
CYR_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщыьэюя"
AR_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわん"
QWERTY = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGHBORS = {}
for _r, _row in enumerate(QWERTY):
    for _c, _ch in enumerate(_row):
        nb = []
        for dr in (-1, 0, 1):
            rr = _r + dr
            if 0 <= rr < 3:
                for dc in (-1, 0, 1):
                    cc = _c + dc
                    if (dr or dc) and 0 <= cc < len(QWERTY[rr]):
                        nb.append(QWERTY[rr][cc])
        NEIGHBORS[_ch] = "".join(nb)

EMOJI = ["🌸", "🙏", "⚽", "❤️", "😊", "🔥", "✨", "🌻", "💙", "👑", "🎶", "🍀", "😎", "🦋", "🌹", "💼", "🏠", "☀️", "🐶",
         "💪", "🇧🇷", "🇺🇸", "🇲🇽", "🌈", "⭐"]
TITLES = {  # (male, female)
    "pt_BR": (["Dr. ", "Sr. "], ["Dra. ", "Sra. "]), "en_US": (["Dr. ", "Mr. "], ["Dr. ", "Mrs. ", "Ms. "]),
    "en_GB": (["Dr ", "Mr "], ["Dr ", "Mrs ", "Ms "]), "es": (["Dr. ", "Sr. ", "Lic. "], ["Dra. ", "Sra. ", "Lic. "]),
    "de": (["Dr. ", "Herr ", "Prof. Dr. "], ["Dr. ", "Frau "]), "fr": (["Dr ", "M. "], ["Dr ", "Mme "]),
    "ru": (["Д-р "], ["Д-р "]), "ar": (["د. ", "م. "], ["د. ", "م. "]), "zh": (["Dr. "], ["Dr. "]),
    "ja": (["Dr. "], ["Dr. "]), "it": (["Dott. ", "Sig. "], ["Dott.ssa ", "Sig.ra "]), "pl": (["Dr ", "Pan "], ["Dr ", "Pani "])}
DEPARTMENTS = {"pt_BR": ["Vendas", "Financeiro", "Suporte", "Compras", "RH", "Comercial"],
               "en": ["Sales", "Billing", "Support", "Purchasing", "HR"],
               "es": ["Ventas", "Compras", "Soporte", "Facturación"], "de": ["Vertrieb", "Einkauf", "Buchhaltung"],
               "fr": ["Ventes", "Achats", "Compta"], "ru": ["продажи", "бухгалтерия", "снабжение"],
               "ar": ["المبيعات", "المشتريات"], "zh": ["销售部", "采购部"], "ja": ["営業部", "総務"],
               "it": ["Vendite", "Acquisti"], "pl": ["Sprzedaż", "Zakupy"]}
SUFFIX_NOTES = {"pt_BR": ["(cliente)", "(fornecedor)", "(vizinha)", "(trabalho)", "- indicação"],
                "en": ["(work)", "(client)", "- referral"], "es": ["(cliente)", "(trabajo)"],
                "de": ["(Kunde)", "(Arbeit)"], "fr": ["(client)", "(boulot)"], "ru": ["(работа)", "(клиент)"],
                "ar": ["(عمل)"], "zh": ["(客户)"], "ja": ["(仕事)"], "it": ["(cliente)"], "pl": ["(klient)"]}
HANDLE_A = ["sunny", "happy", "blue", "crazy", "little", "golden", "silent", "wild", "sweet", "dark", "super",
            "lucky", "cool", "mega", "neo", "real", "the", "mr", "miss", "tiny"]
HANDLE_B = ["fox", "wolf", "star", "tiger", "ninja", "gamer", "rose", "flower", "rider", "lion", "panda", "angel",
            "pixel", "storm", "bear", "cat", "dragon", "shadow", "princess", "boy"]

# ----------------------------------------------------------------------------------------------
# phones. A number range ("option") is (prefix, first-digit choices, free digits, area length).
# Number for key k in an option: prefix + choices[v // 10**free] + str(v % 10**free), where v is a
# bijection of k on [0, space): two rounds of (affine map, rotate the low `free` digits by half),
# then an affine map (so neighbouring rows do not get look-alike numbers) -> distinct keys give distinct numbers.
# Options that share a prefix are the same object (one bijection). All ranges below were checked
# against PhoneNumberMetadata.xml of the phonenumber crate (mobile or fixedLine, right length).

REGION_CC = {"BR": "55", "US": "1", "GB": "44", "DE": "49", "ES": "34", "MX": "52", "AR": "54", "FR": "33",
             "RU": "7", "CN": "86", "JP": "81", "IT": "39", "PL": "48", "SA": "966", "AE": "971", "EG": "20"}

# (weight, template, national?) -- placeholders: cc n a a1 r r1 r2 p0..p3 q0 q1
REGION_FMTS = {
    "BR": [(15, "+{cc}{n}", 0), (22, "+{cc} {a} {r1}-{r2}", 0), (4, "+{cc} ({a}) {r1}-{r2}", 0),
           (20, "({a}) {r1}-{r2}", 1), (7, "(0{a}) {r1}-{r2}", 1), (12, "{a} {r1}-{r2}", 1), (8, "{n}", 1),
           (5, "{cc}{n}", 0), (3, "{a}-{r1}-{r2}", 1), (2, "0{a} {r1} {r2}", 1), (2, "{a}.{r1}.{r2}", 1)],
    "US": [(15, "+{cc}{n}", 0), (15, "+{cc} {a} {r1} {r2}", 0), (8, "+{cc} ({a}) {r1}-{r2}", 0),
           (25, "({a}) {r1}-{r2}", 1), (15, "{a}-{r1}-{r2}", 1), (6, "{a}.{r1}.{r2}", 1),
           (6, "1-{a}-{r1}-{r2}", 1), (6, "{n}", 1), (4, "+1-{a}-{r1}-{r2}", 0)],
    "GB": [(20, "+{cc}{n}", 0), (25, "+{cc} {a} {r}", 0), (30, "0{a} {r}", 1), (10, "0{a} {r1} {r2}", 1),
           (5, "0{n}", 1), (3, "0044 {a} {r}", 0)],
    "DE": [(20, "+{cc}{n}", 0), (25, "+{cc} {a} {r}", 0), (25, "0{a} {r}", 1), (10, "0{a}/{r}", 1),
           (8, "0{a}-{r1} {r2}", 1), (5, "+{cc} {a} {r1} {r2}", 0), (3, "0049 {a} {r}", 0), (4, "0{n}", 1)],
    "ES": [(20, "+{cc}{n}", 0), (25, "+{cc} {a} {r1} {r2}", 0), (25, "{a} {r1} {r2}", 1), (10, "{n}", 1),
           (10, "{a} {p0} {p1} {p2}", 1), (3, "0034 {a} {r1} {r2}", 0), (5, "+{cc} {n}", 0)],
    "MX": [(20, "+{cc}{n}", 0), (30, "+{cc} {a} {r1} {r2}", 0), (25, "{a} {r1} {r2}", 1),
           (10, "({a}) {r1}-{r2}", 1), (10, "{n}", 1), (5, "+{cc} ({a}) {r1} {r2}", 0)],
    "AR": [(35, "+{cc}{n}", 0), (45, "+{cc} 9 {a1} {r1}-{r2}", 0), (20, "+{cc} 9 {a1} {r1} {r2}", 0)],
    "FR": [(20, "+{cc}{n}", 0), (25, "+{cc} {a} {p0} {p1} {p2} {p3}", 0), (30, "0{a} {p0} {p1} {p2} {p3}", 1),
           (8, "0{a}.{p0}.{p1}.{p2}.{p3}", 1), (10, "0{n}", 1), (3, "0033 {a} {p0} {p1} {p2} {p3}", 0)],
    "RU": [(20, "+{cc}{n}", 0), (25, "+{cc} {a} {r1}-{q0}-{q1}", 0), (10, "+{cc} ({a}) {r1}-{q0}-{q1}", 0),
           (20, "8 ({a}) {r1}-{q0}-{q1}", 1), (10, "8 {a} {r1} {q0} {q1}", 1), (10, "8{n}", 1)],
    "CN": [(25, "+{cc}{n}", 0), (25, "+{cc} {a} {r1} {r2}", 0), (30, "{a} {r1} {r2}", 1), (15, "{n}", 1),
           (5, "{a}-{r1}-{r2}", 1)],
    "JP": [(20, "+{cc}{n}", 0), (20, "+{cc} {a}-{r1}-{r2}", 0), (35, "0{a}-{r1}-{r2}", 1), (15, "0{n}", 1),
           (10, "0{a} {r1} {r2}", 1)],
    "IT": [(20, "+{cc}{n}", 0), (25, "+{cc} {a} {r1} {r2}", 0), (30, "{a} {r1} {r2}", 1), (15, "{n}", 1),
           (7, "{a}-{r}", 1), (3, "0039 {a} {r1} {r2}", 0)],
    "PL": [(20, "+{cc}{n}", 0), (30, "+{cc} {a} {r1} {r2}", 0), (30, "{a} {r1} {r2}", 1),
           (10, "{a}-{r1}-{r2}", 1), (10, "{n}", 1)],
}
for _r in ("SA", "AE", "EG"):
    REGION_FMTS[_r] = [(25, "+{cc}{n}", 0), (25, "+{cc} {a} {r1} {r2}", 0), (30, "0{a} {r1} {r2}", 1),
                       (15, "0{n}", 1), (5, "00{cc} {a} {r1} {r2}", 0)]

MULT = 2654435761  # primes (not 2, 5, 3 or 7): coprime with every space below (c * 10**k, c <= 10)
MULT2 = 2246822519


def opt(region, prefix, choices, free, alen):
    space = (len(choices) if choices else 1) * 10 ** free
    off = (int(prefix) * 7919 + 104729 * len(prefix)) % space
    h = free // 2
    return (region, prefix, choices, free, alen, space, off, 10 ** free, "%%0%dd" % free, 10 ** h, 10 ** (free - h))


def phone_nsn(o, key):
    region, prefix, choices, free, alen, space, off, p10, fmt, ph, pfh = o
    hi, lo = divmod((key * MULT + off) % space, p10)
    hi, lo = divmod(((hi * p10 + (lo % ph) * pfh + lo // ph) * MULT2 + 982451653) % space, p10)
    v = ((hi * p10 + (lo % ph) * pfh + lo // ph) * MULT + 472882027) % space
    if choices:
        return prefix + choices[v // p10] + fmt % (v % p10)
    return prefix + fmt % v


US_DIG = "2346789"  # exchange first digit: never 0/1 (invalid) and never 5 (no 555 numbers at all)
BR_CITIES = [("São Paulo", 30, "11"), ("Rio de Janeiro", 15, "21"), ("Belo Horizonte", 8, "31"),
             ("Curitiba", 6, "41"), ("Porto Alegre", 6, "51"), ("Brasília", 6, "61"), ("Salvador", 6, "71"),
             ("Recife", 6, "81"), ("Fortaleza", 6, "85")]
US_CITIES = [("New York", 25, ["212", "646", "718"]), ("San Francisco", 8, ["415"]), ("Chicago", 10, ["312"]),
             ("Los Angeles", 14, ["213", "310"]), ("Miami", 8, ["305"]), ("Boston", 6, ["617"]),
             ("Las Vegas", 4, ["702"]), ("Houston", 8, ["713"]), ("Washington", 5, ["202"]),
             ("Atlanta", 5, ["404"]), ("Seattle", 5, ["206"]), ("Denver", 4, ["303"]), ("Austin", 4, ["512"])]
GB_MOB = [opt("GB", "71", "", 8, 4), opt("GB", "72", "", 8, 4), opt("GB", "73", "", 8, 4),
          opt("GB", "79", "0245678", 7, 4)]
DE_MOB = [opt("DE", "17", "0123456789", 7, 3), opt("DE", "16", "023", 7, 3)]
ES_MOB = [opt("ES", "6", "0123456789", 7, 3), opt("ES", "7", "1234", 7, 3)]
FR_MOB = [opt("FR", "6", "01245678", 7, 1), opt("FR", "7", "3456789", 7, 1)]
FR_04 = opt("FR", "4", "123456789", 7, 1)
FR_05 = opt("FR", "5", "012345678", 7, 1)
RU_MOB = [opt("RU", "9", "", 9, 3)]
CN_MOB = [opt("CN", "13", "", 9, 3), opt("CN", "18", "", 9, 3), opt("CN", "15", "012356789", 8, 3)]
JP_MOB = [opt("JP", "90", "123456789", 7, 2), opt("JP", "80", "123456789", 7, 2), opt("JP", "70", "123456789", 7, 2)]
IT_MOB = [opt("IT", "3", "23456789", 8, 3)]
PL_MOB = [opt("PL", "5", "0137", 7, 3), opt("PL", "6", "069", 7, 3), opt("PL", "7", "2389", 7, 3),
          opt("PL", "88", "", 7, 3)]
SA_MOB = [opt("SA", "5", "01345689", 7, 2)]
AE_MOB = [opt("AE", "5", "023568", 7, 2)]
EG_MOB = [opt("EG", "1", "0125", 8, 2)]
AR_MOB = [opt("AR", "911", "12345678", 7, 3)]
MX_OPTS = {"55": opt("MX", "55", "", 8, 2), "33": opt("MX", "33", "", 8, 2), "81": opt("MX", "81", "", 8, 2),
           "222": opt("MX", "222", "", 7, 3)}

# city: (name, weight, mobile options, fixed-line options)
CITIES = {
    "pt_BR": [(c, w, [opt("BR", a + "9", "", 8, 2)], [opt("BR", a, "2345", 7, 2)]) for c, w, a in BR_CITIES],
    "en_US": [(c, w, [opt("US", a, US_DIG, 6, 3) for a in al], []) for c, w, al in US_CITIES],
    "en_GB": [("London", 40, GB_MOB, [opt("GB", "20", "378", 7, 2)]), ("Manchester", 12, GB_MOB, []),
              ("Birmingham", 12, GB_MOB, []), ("Leeds", 8, GB_MOB, []), ("Glasgow", 8, GB_MOB, []),
              ("Liverpool", 8, GB_MOB, [])],
    "es_MX": [("Ciudad de México", 50, [MX_OPTS["55"]], []), ("Guadalajara", 20, [MX_OPTS["33"]], []),
              ("Monterrey", 20, [MX_OPTS["81"]], []), ("Puebla", 10, [MX_OPTS["222"]], [])],
    "es_ES": [("Madrid", 35, ES_MOB, [opt("ES", "91", "", 7, 3)]), ("Barcelona", 30, ES_MOB, [opt("ES", "93", "", 7, 3)]),
              ("Valencia", 15, ES_MOB, [opt("ES", "96", "012345678", 6, 3)]),
              ("Sevilla", 12, ES_MOB, [opt("ES", "95", "", 7, 3)]), ("Málaga", 8, ES_MOB, [])],
    "es_AR": [("Buenos Aires", 70, AR_MOB, []), ("Córdoba", 15, AR_MOB, []), ("Rosario", 15, AR_MOB, [])],
    "de": [("Berlin", 30, DE_MOB, [opt("DE", "30", "123456789", 7, 2)]),
           ("München", 20, DE_MOB, [opt("DE", "89", "123456789", 7, 2)]),
           ("Hamburg", 20, DE_MOB, [opt("DE", "40", "123456789", 7, 2)]),
           ("Frankfurt am Main", 15, DE_MOB, [opt("DE", "69", "123456789", 7, 2)]),
           ("Köln", 15, DE_MOB, [opt("DE", "221", "23456789", 6, 3)])],
    "fr": [("Paris", 40, FR_MOB, [opt("FR", "1", "", 8, 1)]), ("Lyon", 15, FR_MOB, [FR_04]),
           ("Marseille", 15, FR_MOB, [FR_04]), ("Nice", 8, FR_MOB, [FR_04]), ("Toulouse", 12, FR_MOB, [FR_05]),
           ("Bordeaux", 10, FR_MOB, [FR_05])],
    "ru": [("Москва", 45, RU_MOB, [opt("RU", "495", "", 7, 3)]), ("Санкт-Петербург", 25, RU_MOB, [opt("RU", "812", "", 7, 3)]),
           ("Новосибирск", 15, RU_MOB, [opt("RU", "383", "", 7, 3)]), ("Казань", 15, RU_MOB, [opt("RU", "843", "", 7, 3)])],
    "ar": [("الرياض", 25, SA_MOB, [opt("SA", "11", "", 7, 2)]), ("جدة", 15, SA_MOB, [opt("SA", "12", "245678", 6, 2)]),
           ("دبي", 20, AE_MOB, [opt("AE", "4", "2345678", 6, 1)]), ("أبوظبي", 8, AE_MOB, [opt("AE", "2", "2345678", 6, 1)]),
           ("القاهرة", 22, EG_MOB, [opt("EG", "2", "", 8, 1)]), ("الإسكندرية", 10, EG_MOB, [opt("EG", "3", "", 7, 1)])],
    "zh": [("北京", 25, CN_MOB, []), ("上海", 25, CN_MOB, []), ("深圳", 15, CN_MOB, []), ("广州", 15, CN_MOB, []),
           ("杭州", 10, CN_MOB, []), ("成都", 10, CN_MOB, [])],
    "ja": [("東京", 45, JP_MOB, [opt("JP", "3", "123456789", 7, 1)]), ("大阪", 20, JP_MOB, [opt("JP", "6", "123456789", 7, 1)]),
           ("横浜", 12, JP_MOB, []), ("名古屋", 10, JP_MOB, []), ("札幌", 7, JP_MOB, []), ("福岡", 6, JP_MOB, [])],
    "it": [("Roma", 30, IT_MOB, []), ("Milano", 30, IT_MOB, []), ("Napoli", 15, IT_MOB, []), ("Torino", 15, IT_MOB, []),
           ("Bologna", 10, IT_MOB, [])],
    "pl": [("Warszawa", 35, PL_MOB, []), ("Kraków", 20, PL_MOB, []), ("Łódź", 15, PL_MOB, []), ("Wrocław", 15, PL_MOB, []),
           ("Gdańsk", 15, PL_MOB, [])],
}
CITY_JSON = {loc: [',"city":' + _dumps(c[0]) for c in cities] for loc, cities in CITIES.items()}
P_MOBILE = {"pt_BR": 0.85, "en_GB": 0.85, "es_ES": 0.8, "de": 0.6, "fr": 0.75, "ru": 0.9, "ar": 0.85, "ja": 0.85}

ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")


_PART_EXPR = {"n": "n", "a": "n[:al]", "a1": "n[1:al]", "r": "n[al:]", "r1": "n[al:sp]", "r2": "n[sp:]",
              "p0": "n[al:al+2]", "p1": "n[al+2:al+4]", "p2": "n[al+4:al+6]", "p3": "n[al+6:al+8]",
              "q0": "n[sp:sp+2]", "q1": "n[sp+2:]"}


_compiled = {}


def compile_template(tmpl, cc):
    """'+{cc} {a} {r1}-{r2}' -> function(nsn, area_len) -> str (same result as phone_parts + format)."""
    if (tmpl, cc) in _compiled:
        return _compiled[tmpl, cc]
    body = tmpl.replace("{cc}", cc)
    body = re.sub(r"\{(\w+)\}", lambda m: "{" + _PART_EXPR[m.group(1)] + "}", body)
    src = ("def f(n, al):\n    L = len(n) - al\n    sp = al + (L - 4 if L >= 7 else L // 2)\n"
           "    return f%r\n" % body)
    ns = {}
    exec(src, ns)
    _compiled[tmpl, cc] = ns["f"]
    return ns["f"]


def self_check_formats():
    """Every template must keep every digit of every number range (catches a grouping that drops one)."""
    for loc, cities in CITIES.items():
        for city in cities:
            for o in city[2] + city[3]:
                region, alen = o[0], o[4]
                cc = REGION_CC[region]
                for key in (0, 1, 12345, 999999):
                    nsn = phone_nsn(o, key)
                    for _, tmpl, _ in REGION_FMTS[region]:
                        out = compile_template(tmpl, cc)(nsn, alen)
                        d = "".join(c for c in out if c.isdigit())
                        if not d.endswith(nsn) or d[:-len(nsn)] not in ("", cc, "00" + cc, "0", "1", "8"):
                            raise AssertionError("format %r of %s %s gives %r" % (tmpl, region, nsn, out))


def phone_parts(nsn, alen):
    a = nsn[:alen]
    r = nsn[alen:]
    sp = len(r) - 4 if len(r) >= 7 else len(r) // 2
    r2 = r[sp:]
    return {"n": nsn, "a": a, "a1": a[1:], "r": r, "r1": r[:sp], "r2": r2, "p0": r[0:2], "p1": r[2:4],
            "p2": r[4:6], "p3": r[6:8], "q0": r2[:2], "q1": r2[2:]}


# ----------------------------------------------------------------------------------------------
# companies, e-mail domains, misc pools

LEGAL_WORDS = {"gmbh", "srl", "sp", "z", "oo", "llc", "ltda", "sa", "inc", "ooo", "ip", "sas"}


def company_domain(name, tld):
    words = _NON_ALNUM.sub(" ", fold(name).lower()).split()
    words = [w for w in words if w not in LEGAL_WORDS and w not in ("e", "y", "et", "und", "and", "de", "da", "do", "dos")]
    return "".join(words)[:24] + "." + tld


def build_companies(templates, surnames, fixed, tld, top=30):
    out = [(c, company_domain(c, tld)) for c in fixed]
    for t in templates:
        for s in surnames[:top]:
            out.append((t.format(L=s), company_domain(t.format(L=s), tld)))
    return out


COMPANIES = {
    "pt_BR": build_companies(["Loja {L}", "Padaria {L}", "Mercado {L}", "Farmácia {L}", "Auto Peças {L}", "Clínica {L}",
                              "{L} Imóveis", "{L} & Filhos", "Ótica {L}", "Construtora {L}", "{L} Advocacia",
                              "Pet Shop {L}"], PT_L,
                             ["Loja X", "Boutique Flor de Lis", "Açaí da Praia", "Café Bom Dia", "Tech Soluções",
                              "Distribuidora Norte Sul"], "com.br"),
    "en_US": build_companies(["{L} & Sons", "{L} Consulting", "{L} Realty", "{L} Auto Repair", "{L} Dental",
                              "{L} Bakery", "{L} Law Group", "{L} Logistics"], EN_L,
                             ["Acme Corp", "Globex", "Initech", "Blue Harbor Coffee", "Summit Realty",
                              "Northwind Traders"], "com"),
    "es_MX": build_companies(["Tienda {L}", "Ferretería {L}", "Panadería {L}", "{L} Abogados", "Inmobiliaria {L}",
                              "Farmacia {L}", "Distribuidora {L}"], ES_L, ["Tacos El Güero", "Abarrotes La Esperanza"],
                             "com.mx"),
    "es_ES": build_companies(["{L} Abogados", "Inmobiliaria {L}", "Clínica Dental {L}", "Bar {L}", "Talleres {L}"],
                             ES_L, ["Bodegas Rioja Alta", "Café Sol"], "es"),
    "es_AR": build_companies(["{L} Hnos.", "Estudio {L}", "Parrilla {L}", "Ferretería {L}"], ES_L,
                             ["Mate & Co", "La Porteña"], "com.ar"),
    "de": build_companies(["{L} GmbH", "Bäckerei {L}", "Autohaus {L}", "{L} & Partner", "Elektro {L}",
                           "Praxis Dr. {L}", "{L} Immobilien"], DE_L, ["Nordlicht Medien", "Alpen Logistik"], "de"),
    "fr": build_companies(["Boulangerie {L}", "{L} & Fils", "Cabinet {L}", "Garage {L}", "Pharmacie {L}",
                           "{L} Immobilier", "Atelier {L}"], FR_L, ["Café de la Gare", "Les Délices de Léa"], "fr"),
    "it": build_companies(["{L} S.r.l.", "Pizzeria {L}", "Studio {L}", "Farmacia {L}", "Ferramenta {L}"], IT_L,
                          ["Bottega Verde Sole"], "it"),
    "pl": build_companies(["{L} Sp. z o.o.", "Piekarnia {L}", "Apteka {L}", "Auto-Serwis {L}", "Kancelaria {L}"],
                          PL_L, ["Złota Rybka"], "pl"),
}
COMPANIES["en_GB"] = [(c, d[:-4] + ".co.uk") for c, d in COMPANIES["en_US"]]
COMPANIES["ru"] = ([("ООО Ромашка", "romashka.ru"), ("ООО Вектор", "vector-group.ru"), ("АО Северсталь-Сервис", "ss-service.ru")]
                   + [("ИП " + s, "ip-" + ascii_token(s) + ".ru") for s in RU_L]
                   + [("ООО " + s + "Строй", ascii_token(s) + "stroy.ru") for s in RU_L]
                   + [("Торговый дом " + s, "td-" + ascii_token(s) + ".ru") for s in RU_L])
COMPANIES["ar"] = ([("شركة النور للتجارة", "alnoortrading.com"), ("مطعم الشام", "alshamrestaurant.com"),
                    ("مكتبة الفجر", "alfajrbooks.com"), ("صيدلية الشفاء", "alshifapharmacy.com"),
                    ("شركة الأمل", "alamal.com.sa"), ("متجر الرياض", "riyadhstore.sa"),
                    ("Gulf Trading LLC", "gulftrading.ae"), ("Emirates Logistics", "emirateslogistics.ae"),
                    ("Nile Textiles", "niletextiles.com.eg")]
                   + [("مؤسسة " + s, ROMAN[s] + "-est.com") for s in AR_L])
COMPANIES["zh"] = ([("深圳明达科技有限公司", "mingdatech.cn"), ("上海华兴贸易", "huaxingtrade.com.cn"),
                    ("北京天和餐饮", "tianhe-food.cn"), ("广州美佳服饰", "meijia-fashion.cn"),
                    ("杭州云帆网络", "yunfan.net.cn"), ("成都蜀香食品", "shuxiang-food.cn")]
                   + [(s + "氏贸易", ROMAN[s] + "trade.cn") for s in ZH_L])
COMPANIES["ja"] = ([("株式会社サクラ商事", "sakura-shoji.co.jp"), ("山田工業株式会社", "yamada-kogyo.co.jp"),
                    ("東京デザイン事務所", "tokyo-design.jp"), ("大阪フーズ", "osaka-foods.co.jp")]
                   + [(s + "商店", ROMAN[s] + "-shoten.jp") for s in JA_L]
                   + [(s + "建設", ROMAN[s] + "-kensetsu.co.jp") for s in JA_L])

MAIL_DOMAINS = {
    "pt_BR": [("gmail.com", 55), ("hotmail.com", 20), ("yahoo.com.br", 7), ("outlook.com", 6), ("uol.com.br", 5),
              ("bol.com.br", 4), ("terra.com.br", 3)],
    "en_US": [("gmail.com", 50), ("yahoo.com", 15), ("hotmail.com", 8), ("outlook.com", 10), ("icloud.com", 10),
              ("aol.com", 4), ("comcast.net", 3)],
    "en_GB": [("gmail.com", 45), ("hotmail.co.uk", 15), ("yahoo.co.uk", 10), ("outlook.com", 15), ("btinternet.com", 8),
              ("icloud.com", 7)],
    "es_MX": [("gmail.com", 50), ("hotmail.com", 25), ("yahoo.com.mx", 8), ("outlook.com", 12), ("live.com.mx", 5)],
    "es_ES": [("gmail.com", 50), ("hotmail.es", 20), ("yahoo.es", 8), ("outlook.es", 12), ("telefonica.net", 10)],
    "es_AR": [("gmail.com", 55), ("hotmail.com", 25), ("yahoo.com.ar", 10), ("outlook.com", 10)],
    "de": [("gmail.com", 30), ("web.de", 25), ("gmx.de", 25), ("t-online.de", 10), ("outlook.de", 5), ("yahoo.de", 5)],
    "fr": [("gmail.com", 40), ("orange.fr", 15), ("free.fr", 12), ("hotmail.fr", 12), ("laposte.net", 8),
           ("outlook.fr", 8), ("sfr.fr", 5)],
    "ru": [("mail.ru", 35), ("yandex.ru", 35), ("gmail.com", 20), ("rambler.ru", 5), ("bk.ru", 5)],
    "ar": [("gmail.com", 55), ("hotmail.com", 25), ("yahoo.com", 10), ("outlook.com", 10)],
    "zh": [("qq.com", 45), ("163.com", 25), ("126.com", 10), ("gmail.com", 10), ("sina.com", 10)],
    "ja": [("gmail.com", 35), ("yahoo.co.jp", 30), ("docomo.ne.jp", 15), ("icloud.com", 10), ("ezweb.ne.jp", 10)],
    "it": [("gmail.com", 40), ("libero.it", 25), ("hotmail.it", 15), ("virgilio.it", 10), ("yahoo.it", 10)],
    "pl": [("gmail.com", 35), ("wp.pl", 25), ("onet.pl", 20), ("o2.pl", 10), ("interia.pl", 10)],
}

TAGS = [("customer", 30), ("lead", 25), ("vip", 10), ("prospect", 15), ("newsletter", 15), ("churn-risk", 6),
        ("wholesale", 5), ("b2b", 8), ("b2c", 6), ("support", 6), ("partner", 3), ("follow-up", 8),
        ("black-friday", 4), ("referral", 4), ("event-2024", 3), ("inactive-90d", 3)]
SOURCES = [("whatsapp", 35), ("instagram", 12), ("email", 12), ("messenger", 8), ("telegram", 5), ("webchat", 10),
           ("import", 13), ("api", 5)]
STATUSES = [("active", 88), ("inactive", 9), ("blocked", 3)]
AGENTS = ["ana", "bruno", "carla", "diego", "maria", "john", "lucas", "sofia", "pedro", "julia", "mike", "fatima",
          "olga", "kenji", "wei"]
CREATED_BY = {
    "whatsapp": [("bot:welcome", 50), ("agent:*", 40), ("bot:qualify", 10)],
    "instagram": [("bot:welcome", 40), ("agent:*", 60)], "messenger": [("bot:welcome", 40), ("agent:*", 60)],
    "telegram": [("bot:welcome", 60), ("agent:*", 40)], "webchat": [("bot:webchat", 60), ("agent:*", 40)],
    "email": [("agent:*", 70), ("bot:mailparser", 30)],
    "import": [("import:csv", 70), ("import:xlsx", 20), ("import:hubspot", 10)],
    "api": [("api", 60), ("api:zapier", 25), ("api:shopify", 15)],
}
TIERS = [("Bronze", 40), ("Silver", 30), ("Gold", 20), ("Premium", 10)]
PRODUCTS = ["Product A", "Product B", "Product C", "Product D", "Product E"]

LOCALES = [("pt_BR", 30), ("en_US", 17), ("en_GB", 3), ("es_MX", 7), ("es_ES", 4.5), ("es_AR", 3.5), ("de", 8),
           ("fr", 7), ("ru", 6), ("ar", 5), ("zh", 4), ("ja", 3), ("it", 1.2), ("pl", 0.8)]
FAMILY = {"pt_BR": "pt_BR", "en_US": "en", "en_GB": "en", "es_MX": "es", "es_ES": "es", "es_AR": "es", "de": "de",
          "fr": "fr", "ru": "ru", "ar": "ar", "zh": "zh", "ja": "ja", "it": "it", "pl": "pl"}
POOLS = {"pt_BR": (PT_M, PT_F, PT_L), "en": (EN_M, EN_F, EN_L), "es": (ES_M, ES_F, ES_L), "de": (DE_M, DE_F, DE_L),
         "fr": (FR_M, FR_F, FR_L), "ru": (RU_M, RU_F, RU_L), "ar": (AR_M, AR_F, AR_L), "zh": (ZH_M, ZH_F, ZH_L),
         "ja": (JA_M, JA_F, JA_L), "it": (IT_M, IT_F, IT_L), "pl": (PL_M, PL_F, PL_L)}
EASTERN = {"zh", "ja"}

DUP_KINDS = [("channel_email_only", 12), ("channel_phone_only", 14), ("name_typo", 14), ("nickname", 10),
             ("accents_dropped", 10), ("name_swapped", 8), ("phone_reformatted", 14), ("email_variant", 10),
             ("reimport", 4)]
HARD_KINDS = [("namesake", 40), ("family_shared_phone", 30), ("colleague_shared_domain", 30)]

T_START = 1640995200  # 2022-01-01T00:00:00Z
T_END = 1761955199    # 2025-10-31T23:59:59Z
T_LAST = 1765670400   # 2025-12-14 (last_interaction_at upper bound)


_DAYS = [time.strftime("%Y-%m-%d", time.gmtime(1640995200 + d * 86400)) for d in range(4 * 366 + 30)]


_HMS = ["T%02d:%02d:%02dZ" % (s // 3600, s // 60 % 60, s % 60) for s in range(86400)]


def rfc3339(t):
    d, s = divmod(t - 1640995200, 86400)
    return _DAYS[d] + _HMS[s]


def gender_surname(fam, last, female):
    if not female:
        return last
    if fam == "ru":
        if last.endswith("ий"):
            return last[:-2] + "ая"
        if last.endswith(("ов", "ев", "ёв", "ин")):
            return last + "а"
    if fam == "pl":
        if last.endswith(("ski", "cki", "dzki")):
            return last[:-1] + "a"
    return last


# ----------------------------------------------------------------------------------------------

class Gen:
    def __init__(self, args):
        self.args = args
        self.rng = Random(args.seed)
        rng = self.rng
        self.bits = rng.getrandbits
        self.rand = rng.random
        self.n = args.n
        self.idw = max(7, len(str(args.n)))
        self.id_fmt = "c-%%0%dd" % self.idw
        self.t0 = T_START
        self.tstep = (T_END - T_START) / float(args.n)

        def pk(pairs):
            return make_table([p[0] for p in pairs], [p[1] for p in pairs])

        self.t_locale = pk(LOCALES)
        self.t_first = {}
        self.t_last = {}
        for fam, (m, f, l) in POOLS.items():
            s = 0.9 if fam in ("pt_BR", "en", "es") else 0.8
            self.t_first[fam] = (make_table(m, zipf_weights(len(m), s)), make_table(f, zipf_weights(len(f), s)))
            self.t_last[fam] = make_table(l, zipf_weights(len(l), 1.0 if fam in ("pt_BR", "zh", "es") else 0.85))
        self.t_city = {loc: make_table(list(range(len(c))), [x[1] for x in c]) for loc, c in CITIES.items()}
        self_check_formats()
        self.t_fmt = {r: make_table([(compile_template(t, REGION_CC[r]), nat) for _, t, nat in f], [w for w, _, _ in f])
                      for r, f in REGION_FMTS.items()}
        self.t_mail = {loc: pk(d) for loc, d in MAIL_DOMAINS.items()}
        self.t_company = {loc: make_table(c, zipf_weights(len(c), 0.7)) for loc, c in COMPANIES.items()}
        self.t_tag = pk(TAGS)
        self.t_ntags = make_table([0, 1, 2, 3], [30, 35, 25, 10])
        self.t_source = pk(SOURCES)
        self.t_status = pk(STATUSES)
        self.t_created_by = {s: pk(v) for s, v in CREATED_BY.items()}
        self.t_tier = pk(TIERS)
        subsets = []
        for a in range(5):
            subsets.append(([PRODUCTS[a]], 6))
            for b in range(a + 1, 5):
                subsets.append(([PRODUCTS[a], PRODUCTS[b]], 3))
                for c in range(b + 1, 5):
                    subsets.append(([PRODUCTS[a], PRODUCTS[b], PRODUCTS[c]], 1))
        self.t_products = pk(subsets)
        self.t_dup = pk(DUP_KINDS)
        self.t_hard = pk(HARD_KINDS)
        self.t_emoji = make_table(EMOJI, zipf_weights(len(EMOJI), 0.6))
        self.dates = [time.strftime("%Y-%m-%d", time.gmtime(1704067200 + d * 86400)) for d in range(1461)]
        self.build_attr_tables(Random(args.seed * 1000003 + 99))
        self.used_emails = set()
        self.email_collisions = {}
        # reservoirs of earlier fresh contacts (originals for duplicates and hard negatives)
        self.res_cap = 100000
        self.res = []
        self.res_seen = 0
        self.res_company = []  # contacts with a company e-mail
        self.res_company_seen = 0
        # query sampling uses its own generator: asking for queries never changes the contacts
        self.qrng = Random(args.seed * 7919 + 17) if args.queries else None
        self.qres = []
        self.qres_seen = 0
        self.stats = {"rows": 0, "fresh": 0, "dups": {}, "hard": {}, "locale": {}, "with_phone": 0, "phones": 0,
                      "with_email": 0, "emails": 0, "messy": 0, "no_name": 0, "pairs": 0, "same_cluster": 0}

    def build_attr_tables(self, r):
        """Pre-drawn tables (2**17 entries) for per-row attributes: a row then costs one lookup each."""
        bits = r.getrandbits
        n = 1 << 16
        frag = {}
        tagsets = []
        for _ in range(n):
            nt = self.t_ntags[bits(TABLE_BITS)]
            tags = []
            for _ in range(nt):
                t = self.t_tag[bits(TABLE_BITS)]
                if t not in tags:
                    tags.append(t)
            key = tuple(tags)
            if key not in frag:
                frag[key] = (key, ',"tags":' + _dumps(tags)) if tags else (None, "")
            tagsets.append(frag[key])
        customs = []
        for _ in range(n):
            c = {}
            present = bits(5)
            if present & 1:
                c["customer_tier"] = self.t_tier[bits(TABLE_BITS)]
            if present & 2:
                x = r.random()
                if x < 0.05:
                    c["lifetime_value"] = 0
                elif x < 0.75:
                    c["lifetime_value"] = min(500000, int(r.lognormvariate(6.5, 1.6)))
                else:
                    c["lifetime_value"] = round(min(500000.0, r.lognormvariate(6.5, 1.6)), 2)
            if present & 4:
                c["contract_renewal_date"] = self.dates[r.randrange(1461)]
            if present & 8:
                c["newsletter"] = r.random() < 0.4
            if present & 16:
                c["preferred_products"] = self.t_products[bits(TABLE_BITS)]
            customs.append(_dumps(c)[1:-1])
        sss = []
        for _ in range(n):
            src = self.t_source[bits(TABLE_BITS)]
            cb = self.t_created_by[src][bits(TABLE_BITS)]
            if cb == "agent:*":
                cb = "agent:" + AGENTS[r.randrange(len(AGENTS))]
            key = (src, self.t_status[bits(TABLE_BITS)], cb)
            if key not in frag:
                frag[key] = (',"source":%s,"status":%s,"created_at":"' % (_dumps(src), _dumps(key[1])),
                             '","created_by":' + _dumps(cb))
            sss.append(frag[key])
        self.t_tagsets, self.t_customs, self.t_sss = tagsets, customs, sss

    # -- small helpers -------------------------------------------------------------------------
    def pick(self, table):
        return table[self.bits(TABLE_BITS)]

    def choice(self, seq):
        return seq[int(self.rand() * len(seq))]

    def below(self, n):
        return int(self.rand() * n)

    def fmt_phone(self, region, nsn, alen, want=None, avoid=None):
        """Write a number in one of its region's formats. want: None | 'intl' | 'national';
        avoid: a spelling not to return (to write a known number differently)."""
        t = self.t_fmt[region]
        if want is None and avoid is None:
            return t[self.bits(TABLE_BITS)][0](nsn, alen)
        for _ in range(20):
            fn, nat = t[self.bits(TABLE_BITS)]
            if (want == "intl" and nat) or (want == "national" and not nat):
                continue
            s = fn(nsn, alen)
            if s != avoid:
                return s
        s = "+" + REGION_CC[region] + nsn
        return s if s != avoid else "+" + REGION_CC[region] + " " + nsn

    def new_phone(self, key, city, loc):
        mobile, fixed = city[2], city[3]
        if fixed and self.rand() > P_MOBILE.get(loc, 1.0):
            o = fixed[0] if len(fixed) == 1 else fixed[self.bits(10) % len(fixed)]
        else:
            o = mobile[0] if len(mobile) == 1 else mobile[self.bits(10) % len(mobile)]
        nsn = phone_nsn(o, key)
        region, alen = o[0], o[4]
        text = self.fmt_phone(region, nsn, alen)
        r = self.rand()
        if loc == "ar" and r < 0.03:
            text = text.translate(ARABIC_DIGITS)
        elif loc == "ja" and r < 0.02:
            text = text.translate(FULLWIDTH_DIGITS)
        return [region, nsn, alen, text]

    def unique_email(self, local, domain):
        """local@domain, or local + random digits when taken; the digit count grows with the number of
        earlier collisions on that address, so a popular name costs ~1 attempt, not a scan."""
        used = self.used_emails
        # gmail ignores dots in the local part: maria.silva@ and mariasilva@ are one mailbox
        key = (local.replace(".", "") if domain == "gmail.com" else local) + "@" + domain
        if key not in used:
            used.add(key)
            return local + "@" + domain
        c = self.email_collisions.get(key, 0) + 1
        self.email_collisions[key] = c
        width = 2 if c < 25 else (3 if c < 250 else (4 if c < 2500 else 6))
        rand = self.rand
        while True:
            p10 = 10 ** width
            for _ in range(3):
                suffix = "%0*d@%s" % (width, int(rand() * p10), domain)
                if key[:-len(domain) - 1] + suffix not in used:
                    used.add(key[:-len(domain) - 1] + suffix)
                    return local + suffix
            width += 1

    def email_local(self, first, last):
        f = ascii_token(first.split(" ")[0].split("-")[0]) or "contato"
        l = ascii_token(last.split(" ")[-1] if last else "") or "x"
        r = self.rand()
        if r < 0.25:
            return f + "." + l
        if r < 0.40:
            return f + l
        if r < 0.45:
            return f + "_" + l
        if r < 0.55:
            return f[0] + l
        if r < 0.65:
            return "%s.%s%02d" % (f, l, self.below(100))
        if r < 0.73:
            return "%s%d" % (f, 1960 + self.below(46))
        if r < 0.77:
            return l + "." + f
        if r < 0.80:
            return f
        return "%s%s%s%d" % (self.choice(HANDLE_A), self.choice(["", "_", "."]), self.choice(HANDLE_B),
                             self.below(1000))

    def make_email(self, p, company_ok=True):
        loc = p["loc"]
        first, last = p["first"], p["last"]
        if company_ok and p["company"] and self.rand() < 0.5:
            domain = p["company"][1]
            r = self.rand()
            f = ascii_token(first.split(" ")[0].split("-")[0]) or "contato"
            l = ascii_token(last.split(" ")[-1] if last else "") or "x"
            local = f + "." + l if r < 0.5 else (f[0] + l if r < 0.75 else f)
            e = self.unique_email(local, domain)
            return e, True
        domain = self.pick(self.t_mail[loc])
        if domain == "qq.com" and self.rand() < 0.7:
            local = str(10000 + self.below(3999990000))
        else:
            local = self.email_local(first, last)
        return self.unique_email(local, domain), False

    def case_variant(self, e):
        local, _, dom = e.partition("@")
        r = self.rand()
        if r < 0.5:
            return ".".join(x[:1].upper() + x[1:] for x in local.split(".")) + "@" + dom.capitalize()
        if r < 0.8:
            return e.upper()
        return local + "@" + dom.upper()

    # -- names ---------------------------------------------------------------------------------
    def new_name(self, loc, female=None, last=None):
        fam = FAMILY[loc]
        bits = self.bits
        if female is None:
            female = bits(1) == 1
        first = self.t_first[fam][1 if female else 0][bits(16)]
        given_last = last
        if last is None:
            last = self.t_last[fam][bits(16)]
            r = self.rand()
            if fam == "pt_BR":
                if r < 0.25:
                    l2 = self.pick(self.t_last[fam])
                    if l2 != last:
                        last = last + " " + l2
                elif r < 0.35 and last in PT_PARTICLE:
                    last = PT_PARTICLE[last] + " " + last
            elif fam == "es" and r < 0.5:
                l2 = self.pick(self.t_last[fam])
                if l2 != last:
                    last = last + " " + l2
            last = gender_surname(fam, last, female)
        elif fam == "ru":
            last = gender_surname(fam, last[:-1] if last.endswith(("ова", "ева", "ёва", "ина")) else last, female)
        elif fam == "pl":
            last = gender_surname(fam, last[:-1] + "i" if last.endswith(("ska", "cka", "dzka")) else last, female)
        middle = ""
        if given_last is None:
            r = self.rand()
            if fam == "en" and r < 0.08:
                middle = chr(65 + self.below(26)) + "."
            elif fam == "ru" and r < 0.12:
                father = self.choice(list(RU_PATRONYMIC))
                middle = RU_PATRONYMIC[father] + ("на" if female else "ич")
                middle = middle.replace("ийна", "ьевна").replace("ийич", "ьевич")
            elif fam == "ar" and r < 0.2:
                middle = self.pick(self.t_first[fam][0])
        return fam, female, first, middle, last

    def compose(self, fam, first, middle, last, style=None):
        if fam in EASTERN:
            r = self.rand() if style is None else style
            if fam == "zh":
                if r < 0.85:
                    return last + first
                if r < 0.95:
                    return last + " " + first
                return (ROMAN[first].capitalize() + " " + ROMAN[last].capitalize())
            if r < 0.6:
                return last + first
            if r < 0.85:
                return last + " " + first
            if r < 0.9:
                return last + "\u3000" + first
            return ROMAN[first].capitalize() + " " + ROMAN[last].capitalize()
        if fam == "ru" and (self.rand() if style is None else style) < 0.2:
            return " ".join(x for x in (last, first, middle) if x)
        return " ".join(x for x in (first, middle, last) if x)

    def messy(self, p, name):
        """Messy display name (~15 % of fresh contacts)."""
        loc, fam, first = p["loc"], p["fam"], p["first"]
        r = self.rand()
        if r < 0.28:
            e = self.pick(self.t_emoji)
            if self.rand() < 0.2:
                e += self.pick(self.t_emoji)
            return (name + " " + e) if self.rand() < 0.85 else (e + " " + name)
        if r < 0.36:
            comp = p["company"][0] if p["company"] else self.pick(self.t_company[loc])[0]
            return first + " | " + comp
        if r < 0.44:
            return first + " - " + self.choice(DEPARTMENTS.get(loc, DEPARTMENTS.get(fam, DEPARTMENTS["en"])))
        if r < 0.55 and fam not in EASTERN and fam != "ar":
            return name.upper()
        if r < 0.66 and fam not in EASTERN and fam != "ar":
            return name.lower()
        if r < 0.80:
            return first
        if r < 0.86:
            return self.choice(TITLES[loc if loc in TITLES else fam][1 if p["female"] else 0]) + name
        if r < 0.92 and first in NICKNAMES:
            return self.choice(NICKNAMES[first]) + (" " + p["last"] if self.rand() < 0.5 else "")
        if r < 0.96:
            return name + " " + self.choice(SUFFIX_NOTES.get(fam, SUFFIX_NOTES["en"]))
        return " " + name.replace(" ", "  ", 1) + " "

    def typo(self, s, edits):
        chars = list(s)
        done = 0
        for _ in range(edits * 4):
            if done >= edits:
                break
            pos = [k for k, c in enumerate(chars) if c.isalpha()]
            if len(pos) < 3:
                break
            k = pos[1 + self.below(len(pos) - 1)]
            c = chars[k]
            op = self.rand()
            cl = c.lower()
            if op < 0.45 or ord(c) >= 0x3000:  # substitute
                if ord(c) >= 0x3000:
                    if c in ZH_HOMOPHONE:
                        rep = ZH_HOMOPHONE[c]
                    else:
                        rep = self.choice(KANA)
                elif "\u0400" <= c <= "\u04ff":
                    rep = self.choice(CYR_LETTERS)
                elif "\u0600" <= c <= "\u06ff":
                    rep = self.choice(AR_LETTERS)
                else:
                    base = fold(cl)
                    nb = NEIGHBORS.get(base)
                    if not nb:
                        continue
                    rep = self.choice(nb)
                if c != cl:
                    rep = rep.upper()
                if rep == c:
                    continue
                chars[k] = rep
            elif op < 0.7:
                del chars[k]
            elif op < 0.88:
                if k + 1 < len(chars) and chars[k + 1].isalpha() and chars[k + 1] != c:
                    chars[k], chars[k + 1] = chars[k + 1], chars[k]
                else:
                    continue
            else:
                chars.insert(k, c)
            done += 1
        out = "".join(chars)
        return out if out != s else s + s[-1]

    # -- a fresh person ------------------------------------------------------------------------
    def new_person(self, i, loc=None, last=None, female=None, city_idx=None, company=None):
        rand = self.rand
        bits = self.bits
        if loc is None:
            loc = self.t_locale[bits(16)]
        fam, female, first, middle, lastn = self.new_name(loc, female=female, last=last)
        base = self.compose(fam, first, middle, lastn)
        cities = CITIES[loc]
        if city_idx is None:
            city_idx = self.t_city[loc][bits(16)]
        city = cities[city_idx]
        if company is None and bits(1):
            company = self.t_company[loc][bits(16)]
        p = {"loc": loc, "fam": fam, "female": female, "first": first, "middle": middle, "last": lastn,
             "base": base, "city_idx": city_idx, "company": company, "phones": [], "emails": [], "company_email": None}
        # phones: 10 % none, 70 % one, 20 % two -- keys 2i, 2i+1 are unique to this row
        r = rand()
        nph = 0 if r < 0.10 else (1 if r < 0.80 else 2)
        for j in range(nph):
            p["phones"].append(self.new_phone(2 * i + j, city, loc))
        # e-mails: ~70 %
        r = rand()
        if r < 0.70:
            e, is_company = self.make_email(p)
            p["emails"].append(e)
            if is_company:
                p["company_email"] = e
            if rand() < 0.12:
                e2, is_c2 = self.make_email(p, company_ok=not is_company)
                if e2 != e:
                    p["emails"].append(e2)
                    if is_c2 and not p["company_email"]:
                        p["company_email"] = e2
        if p["emails"] and rand() < 0.08:
            p["emails"][0] = self.case_variant(p["emails"][0])
        # display name
        r = rand()
        if r < 0.02:
            name = None
            self.stats["no_name"] += 1
        elif r < 0.025 and p["phones"]:
            name = p["phones"][0][3]
        elif r < 0.175:
            name = self.messy(p, base)
            self.stats["messy"] += 1
        else:
            name = base
        p["name"] = name
        return p

    # -- serialisation -------------------------------------------------------------------------
    def record(self, i, p, name=None, phones=None, emails=None, rid=None):
        """One contact as a JSON line, written from pre-encoded fragments (same bytes as
        json.dumps(obj, ensure_ascii=False, separators=(",", ":")) with keys in contract order).
        Returns (line, name, phone texts, emails, tags)."""
        bits = self.bits
        enc = _enc
        nm = p["name"] if name is None else name
        if phones is None:
            pp = p["phones"]
            ph = [pp[0][3]] if len(pp) == 1 else [x[3] for x in pp]
        else:
            ph = phones
        em = p["emails"] if emails is None else emails
        parts = ['{"id":"', rid or self.id_fmt % (i + 1), '"']
        if nm:
            parts.append(',"name":' + enc(nm))
        if ph:
            parts.append(',"phones":[' + (enc(ph[0]) if len(ph) == 1 else ",".join(map(enc, ph))) + "]")
        if em:
            parts.append(',"emails":[' + (enc(em[0]) if len(em) == 1 else ",".join(map(enc, em))) + "]")
        tags, tfrag = self.t_tagsets[bits(16)]
        if tags:
            parts.append(tfrag)
        custom = self.t_customs[bits(16)]
        company = p["company"]
        if bits(1):  # city ~50 %
            city = CITY_JSON[p["loc"]][p["city_idx"]]
            if company:
                custom = (custom + ',"company":' + enc(company[0]) + city) if custom else \
                    ('"company":' + enc(company[0]) + city)
            else:
                custom = (custom + city) if custom else city[1:]
        elif company:
            custom = (custom + ',"company":' + enc(company[0])) if custom else ('"company":' + enc(company[0]))
        if custom:
            parts.append(',"custom":{' + custom + "}")
        ss, cb = self.t_sss[bits(16)]
        t = self.t0 + int(self.tstep * i) + bits(18)  # + up to ~3 days
        if t > T_END:
            t = T_END
        parts.append(ss + rfc3339(t) + cb)
        r = self.rand()
        if r < 0.88:
            r /= 0.88
            li = t + int((T_LAST - t) * (1.0 - r * r))
            parts.append(',"last_interaction_at":"' + rfc3339(li if li > t + 60 else t + 60) + '"}')
        else:
            parts.append("}")
        return "".join(parts), nm, ph, em, tags

    # -- reservoirs ----------------------------------------------------------------------------
    def remember(self, p, rid):
        p["id"] = rid
        p["dups"] = []
        if p["phones"] or p["emails"]:
            self.res_seen += 1
            if len(self.res) < self.res_cap:
                self.res.append(p)
            else:
                j = self.below(self.res_seen)
                if j < self.res_cap:
                    self.res[j] = p
        if p["company_email"]:
            self.res_company_seen += 1
            if len(self.res_company) < 10000:
                self.res_company.append(p)
            else:
                j = self.below(self.res_company_seen)
                if j < 10000:
                    self.res_company[j] = p

    def sample_for_queries(self, rec, p):
        _, name, _, emails, tags = rec
        q = self.qrng
        self.qres_seen += 1
        cap = max(4000, self.args.n_queries * 2)
        item = (name, p["base"], p["first"], p["last"], [(x[0], x[1], x[2]) for x in p["phones"]],
                emails or [], tags or [], p["company"], p["loc"])
        if len(self.qres) < cap:
            self.qres.append(item)
        else:
            j = q.randrange(self.qres_seen)
            if j < cap:
                self.qres[j] = item

    # -- duplicates ----------------------------------------------------------------------------
    def make_dup(self, i, o, kind):
        """Return (record dict, kind actually used) for a duplicate of original o, or None."""
        rand = self.rand
        base = o["base"]
        name = o["name"] if (o["name"] and rand() < 0.5) else base
        phones = [x[3] for x in o["phones"]]
        emails = list(o["emails"])
        fam = o["fam"]

        def keep_contact_points():
            # keep at least one shared phone or e-mail
            ph, em = list(phones), list(emails)
            if ph and em:
                r = rand()
                if r < 0.3:
                    em = []
                elif r < 0.5:
                    ph = []
            if len(ph) > 1 and rand() < 0.5:
                ph = ph[:1]
            return ph, em

        if kind == "channel_email_only":
            if not emails:
                return None
            nm = o["first"] if rand() < 0.3 else name
            em = [self.choice(emails)]
            if rand() < 0.3:
                em = [self.case_variant(em[0])]
            return self.record(i, o, name=nm, phones=[], emails=em), kind
        if kind == "channel_phone_only":
            if not o["phones"]:
                return None
            ph = self.choice(o["phones"])
            txt = ph[3] if rand() < 0.4 else self.fmt_phone(ph[0], ph[1], ph[2])
            r = rand()
            nm = o["first"] if r < 0.25 else (None if r < 0.35 else name)
            return self.record(i, o, name=nm or "", phones=[txt], emails=[]), kind
        if kind == "name_typo":
            ph, em = keep_contact_points()
            nm = self.typo(base, 1 if rand() < 0.7 else 2)
            return self.record(i, o, name=nm, phones=ph, emails=em), kind
        if kind == "nickname":
            if o["first"] not in NICKNAMES:
                return None
            nick = self.choice(NICKNAMES[o["first"]])
            ph, em = keep_contact_points()
            if rand() < 0.2:
                nm = nick
            elif fam in EASTERN:
                nm = o["last"] + nick
            else:
                nm = nick + " " + o["last"]
            return self.record(i, o, name=nm, phones=ph, emails=em), kind
        if kind == "accents_dropped":
            if fam == "ru" and "ё" in base.lower():
                nm = base.replace("ё", "е").replace("Ё", "Е")
            elif has_accents(base):
                nm = fold(base)
                if rand() < 0.3:
                    nm = nm.lower()
            else:
                return None
            ph, em = keep_contact_points()
            return self.record(i, o, name=nm, phones=ph, emails=em), kind
        if kind == "name_swapped":
            if not o["last"]:
                return None
            if fam in EASTERN:
                nm = o["first"] + " " + o["last"]
            elif rand() < 0.25:
                nm = o["last"] + ", " + o["first"]
            else:
                nm = o["last"] + " " + o["first"]
            ph, em = keep_contact_points()
            return self.record(i, o, name=nm, phones=ph, emails=em), kind
        if kind == "phone_reformatted":
            if not o["phones"]:
                return None
            ph = []
            for x in o["phones"]:
                ph.append(self.fmt_phone(x[0], x[1], x[2], want="national" if rand() < 0.5 else None, avoid=x[3]))
            if len(ph) > 1 and rand() < 0.5:
                ph = ph[:1]
            em = emails if rand() < 0.4 else []
            nm = name if rand() < 0.7 else (base.upper() if fam not in EASTERN else base)
            return self.record(i, o, name=nm, phones=ph, emails=em), kind
        if kind == "email_variant":
            if not emails:
                return None
            e = emails[0]
            local, _, dom = e.partition("@")
            r = rand()
            if dom == "gmail.com" and r < 0.7:
                if rand() < 0.5 and len(local.replace(".", "")) > 3:
                    plain = local.replace(".", "")
                    k = 1 + self.below(len(plain) - 1)
                    nl = plain[:k] + "." + plain[k:]
                    if nl == local:
                        nl = plain
                    ev = nl + "@" + dom
                else:
                    ev = local + "+" + self.choice(["shop", "promo", "news", "work", "2024", "crm"]) + "@" + dom
                if rand() < 0.2:
                    ev = ev.upper()
            else:
                ev = self.case_variant(e)
            ph = phones[:1] if rand() < 0.4 else []
            return self.record(i, o, name=name, phones=ph, emails=[ev]), kind
        if kind == "reimport":
            return self.record(i, o, name=name, phones=phones, emails=emails), kind
        return None

    def make_hard(self, i, kind):
        rand = self.rand
        if kind == "colleague_shared_domain":
            if not self.res_company:
                return None
            o = self.res_company[self.below(len(self.res_company))]
            p = self.new_person(i, loc=o["loc"], company=o["company"], city_idx=o["city_idx"])
            if p["first"] == o["first"] or p["last"] == o["last"]:
                return None
            # make sure the colleague's mail is on the company domain
            dom = o["company"][1]
            if not any(e.lower().endswith("@" + dom) for e in p["emails"]):
                f = ascii_token(p["first"].split(" ")[0].split("-")[0]) or "contato"
                l = ascii_token(p["last"].split(" ")[-1]) or "x"
                e = self.unique_email(f + "." + l if rand() < 0.6 else f, dom)
                p["emails"] = [e] + p["emails"][:1]
            p["company_email"] = p["emails"][0]
            return o, p, None
        if not self.res:
            return None
        o = self.res[self.below(len(self.res))]
        if kind == "namesake":
            if not o["last"]:
                return None
            p = self.new_person(i, loc=o["loc"], female=o["female"])
            p["first"], p["middle"], p["last"], p["base"] = o["first"], o["middle"], o["last"], o["base"]
            if rand() < 0.2 and o["name"]:
                p["name"] = o["name"]
            else:
                p["name"] = o["base"]
            # its own e-mails must not accidentally look derived from the other contact: regenerate
            p["emails"] = []
            if rand() < 0.7:
                e, _ = self.make_email(p)
                p["emails"].append(e)
            return o, p, None
        if kind == "family_shared_phone":
            if not o["phones"] or not o["last"]:
                return None
            fam = o["fam"]
            last = o["last"]
            p = self.new_person(i, loc=o["loc"], last=last, city_idx=o["city_idx"])
            if p["first"] == o["first"] or p["first"] in NICKNAMES.get(o["first"], []):
                return None
            shared = o["phones"][0]
            txt = shared[3] if rand() < 0.5 else self.fmt_phone(shared[0], shared[1], shared[2])
            own = p["phones"][:1] if rand() < 0.5 else []
            p["phones"] = [[shared[0], shared[1], shared[2], txt]] + own
            p["base"] = self.compose(fam, p["first"], "", last)
            p["name"] = p["base"]
            return o, p, None
        return None

    # -- main loop -----------------------------------------------------------------------------
    def run(self, out, labels):
        rand = self.rand
        n = self.n
        dup_rate = self.args.dup_rate
        hard_rate = self.args.hard_rate
        st = self.stats
        loc_count = {loc: 0 for loc, _ in LOCALES}
        buf = []
        lab = []
        chunk = 10000
        for i in range(n):
            r = rand()
            rec = None
            rid = self.id_fmt % (i + 1)
            if r < dup_rate and len(self.res) >= 20:
                kind = self.t_dup[self.bits(TABLE_BITS)]
                for _ in range(6):
                    o = self.res[self.below(len(self.res))]
                    got = self.make_dup(i, o, kind)
                    if got:
                        break
                    kind = self.t_dup[self.bits(TABLE_BITS)]
                if got:
                    rec, kind = got
                    st["dups"][kind] = st["dups"].get(kind, 0) + 1
                    if labels is not None:
                        lab.append("%s,%s,%s,1\n" % (o["id"], rid, kind))
                        for d in o["dups"]:
                            lab.append("%s,%s,same_cluster,1\n" % (d, rid))
                            st["same_cluster"] += 1
                    o["dups"].append(rid)
                    if self.qrng is not None:
                        self.sample_for_queries(rec, o)
            elif r < dup_rate + hard_rate and len(self.res) >= 20:
                kind = self.t_hard[self.bits(TABLE_BITS)]
                got = None
                for _ in range(6):
                    got = self.make_hard(i, kind)
                    if got:
                        break
                if got:
                    o, p, _ = got
                    rec = self.record(i, p)
                    st["hard"][kind] = st["hard"].get(kind, 0) + 1
                    if labels is not None:
                        lab.append("%s,%s,%s,0\n" % (o["id"], rid, kind))
                    ph, em = rec[2], rec[3]
                    if ph:
                        st["with_phone"] += 1
                        st["phones"] += len(ph)
                    if em:
                        st["with_email"] += 1
                        st["emails"] += len(em)
                    if self.qrng is not None:
                        self.sample_for_queries(rec, p)
            if rec is None:
                p = self.new_person(i)
                rec = self.record(i, p, rid=rid)
                self.remember(p, rid)
                loc_count[p["loc"]] += 1
                ph, em = rec[2], rec[3]
                if ph:
                    st["with_phone"] += 1
                    st["phones"] += len(ph)
                if em:
                    st["with_email"] += 1
                    st["emails"] += len(em)
                if self.qrng is not None:
                    self.sample_for_queries(rec, p)
            buf.append(rec[0])
            if len(buf) >= chunk:
                out.write("\n".join(buf))
                out.write("\n")
                buf.clear()
                if lab:
                    labels.write("".join(lab))
                    lab.clear()
        if buf:
            out.write("\n".join(buf))
            out.write("\n")
        if lab:
            labels.write("".join(lab))
        st["rows"] = n
        st["fresh"] = sum(loc_count.values())
        st["locale"] = {k: v for k, v in loc_count.items() if v}
        st["pairs"] = sum(st["dups"].values()) + sum(st["hard"].values()) + st["same_cluster"]

    # -- queries -------------------------------------------------------------------------------
    def write_queries(self, f, nq):
        q = self.qrng
        pool = self.qres
        if not pool:
            return 0
        kinds = make_table(["name_prefix", "full_name", "name_typo", "first_last_prefix", "phone_e164",
                            "phone_national", "phone_intl", "last4", "email_full", "email_domain", "tag",
                            "name_digits", "company"],
                           [20, 14, 10, 6, 7, 9, 4, 8, 8, 4, 4, 3, 3])
        saved = self.rng
        self.rng = q  # typo()/fmt_phone() draw from the query generator
        self.bits, self.rand = q.getrandbits, q.random
        out = []
        seen = {}
        tries = 0
        while len(out) < nq and tries < nq * 30:
            tries += 1
            kind = kinds[q.getrandbits(TABLE_BITS)]
            name, base, first, last, phones, emails, tags, company, loc = pool[q.randrange(len(pool))]
            fam = FAMILY[loc]
            s = None
            if kind == "name_prefix":
                tok = first if (q.random() < 0.6 or not last) else last.split(" ")[-1]
                if fam in EASTERN:
                    s = (last + first)[: 1 + q.randrange(2)]
                else:
                    s = tok[: 3 + q.randrange(3)]
                    if q.random() < 0.7:
                        s = s.lower()
                    if q.random() < 0.2:
                        s = fold(s)
            elif kind == "full_name":
                s = name if (name and q.random() < 0.4) else base
                r = q.random()
                if r < 0.3 and fam not in EASTERN:
                    s = s.lower()
                elif r < 0.4:
                    s = fold(s)
            elif kind == "name_typo":
                s = self.typo(base, 1)
                if q.random() < 0.5 and fam not in EASTERN:
                    s = s.lower()
            elif kind == "first_last_prefix":
                if not last or fam in EASTERN:
                    continue
                s = (first.split(" ")[0] + " " + last.split(" ")[0][: 3 + q.randrange(3)]).lower()
            elif kind in ("phone_e164", "phone_national", "phone_intl", "last4", "name_digits"):
                if not phones:
                    continue
                region, nsn, alen = phones[q.randrange(len(phones))]
                if kind == "phone_e164":
                    s = "+" + REGION_CC[region] + nsn
                elif kind == "phone_national":
                    s = self.fmt_phone(region, nsn, alen, want="national")
                elif kind == "phone_intl":
                    s = self.fmt_phone(region, nsn, alen, want="intl")
                elif kind == "last4":
                    s = nsn[-4:]
                else:
                    if fam in EASTERN:
                        continue
                    s = first.split(" ")[0].lower() + " " + phone_parts(nsn, alen)["r1"]
            elif kind == "email_full":
                if not emails:
                    continue
                s = emails[q.randrange(len(emails))]
                if q.random() < 0.8:
                    s = s.lower()
            elif kind == "email_domain":
                if not emails:
                    continue
                s = emails[q.randrange(len(emails))].partition("@")[2].lower()
            elif kind == "tag":
                s = tags[q.randrange(len(tags))] if tags else self.pick(self.t_tag)
            elif kind == "company":
                if not company:
                    continue
                s = company[0] if q.random() < 0.6 else company[0].split(" ")[0]
            if not s:
                continue
            s = " ".join(s.replace("\t", " ").split())
            # a few repeats are realistic for short generic queries ("vip", "gmail.com"), not for the rest
            if not s or seen.get(s, 0) >= (3 if kind in ("tag", "email_domain", "last4") else 1):
                continue
            seen[s] = seen.get(s, 0) + 1
            out.append(s)
        self.rng = saved
        self.bits, self.rand = saved.getrandbits, saved.random
        f.write("\n".join(out) + "\n")
        return len(out)


def main():
    import gc
    gc.disable()  # no reference cycles are made; the collector only costs time with the large reservoirs
    ap = argparse.ArgumentParser(description="Generate realistic multi-locale contacts as NDJSON (deterministic).")
    ap.add_argument("--n", type=int, required=True, help="number of contacts (rows)")
    ap.add_argument("--out", help="output NDJSON file (default: stdout)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dup-rate", type=float, default=0.05, help="fraction of rows that duplicate an earlier row")
    ap.add_argument("--hard-rate", type=float, default=0.02,
                    help="fraction of rows that are hard non-duplicates (namesake/family/colleague) of an earlier row")
    ap.add_argument("--labels", help="write planted pairs as CSV id_a,id_b,kind,is_duplicate")
    ap.add_argument("--queries", help="write an inbox-style query file (one query per line)")
    ap.add_argument("--n-queries", type=int, default=2000)
    ap.add_argument("--quiet", action="store_true", help="no summary on stderr")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("--n must be >= 1")
    if not (0 <= args.dup_rate <= 0.5) or not (0 <= args.hard_rate <= 0.3):
        ap.error("--dup-rate must be in [0, 0.5] and --hard-rate in [0, 0.3]")
    smallest = min(o[5] for cities in CITIES.values() for c in cities for o in c[2] + c[3])
    if 2 * args.n + 2 > smallest:
        print("note: above %d rows the smallest phone range (%d numbers) may repeat a number" % (smallest // 2 - 1, smallest),
              file=sys.stderr)

    t0 = time.time()
    g = Gen(args)
    out = open(args.out, "w", encoding="utf-8", newline="\n", buffering=1 << 20) if args.out else \
        open(sys.stdout.fileno(), "w", encoding="utf-8", newline="\n", buffering=1 << 20, closefd=False)
    labels = None
    if args.labels:
        labels = open(args.labels, "w", encoding="utf-8", newline="\n")
        labels.write("id_a,id_b,kind,is_duplicate\n")
    try:
        g.run(out, labels)
    except BrokenPipeError:
        return 1
    finally:
        try:
            out.flush()
        except BrokenPipeError:
            pass
        if args.out:
            out.close()
        if labels:
            labels.close()
    nq = 0
    if args.queries:
        with open(args.queries, "w", encoding="utf-8", newline="\n") as f:
            nq = g.write_queries(f, args.n_queries)
    wall = time.time() - t0
    if not args.quiet:
        st = g.stats
        n = st["rows"]
        pct = lambda x: "%.1f%%" % (100.0 * x / max(1, n))
        fh = st["fresh"] + sum(st["hard"].values())
        pfh = lambda x: "%.1f%%" % (100.0 * x / max(1, fh))
        fresh = max(1, st["fresh"])
        loc = ", ".join("%s %.1f%%" % (k, 100.0 * v / fresh) for k, v in sorted(st["locale"].items(), key=lambda kv: -kv[1]))
        print("gen_contacts: %d rows in %.1fs (%.0f rows/s), seed %d" % (n, wall, n / max(wall, 1e-9), args.seed),
              file=sys.stderr)
        print("  fresh %d, duplicates %d (%s), hard non-duplicates %d (%s)" % (
            st["fresh"], sum(st["dups"].values()), pct(sum(st["dups"].values())), sum(st["hard"].values()),
            pct(sum(st["hard"].values()))), file=sys.stderr)
        print("  duplicate kinds: " + ", ".join("%s %d" % kv for kv in sorted(st["dups"].items())), file=sys.stderr)
        print("  hard kinds: " + ", ".join("%s %d" % kv for kv in sorted(st["hard"].items())), file=sys.stderr)
        print("  same_cluster pairs %d; labelled pairs %d" % (st["same_cluster"], st["pairs"]), file=sys.stderr)
        print("  fresh+hard rows: with phone %s (%.2f phones each), with e-mail %s; messy names %s, no name %s" % (
            pfh(st["with_phone"]), st["phones"] / max(1, st["with_phone"]), pfh(st["with_email"]),
            pct(st["messy"]), pct(st["no_name"])), file=sys.stderr)
        print("  locales (fresh): " + loc, file=sys.stderr)
        if args.queries:
            print("  queries: %d -> %s" % (nq, args.queries), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
