"""The translation catalogs: every UI message has English, the catalogs are current with the
sources, the compiled .mo say what the .po say, no t("中文", "English") pair is left, and real
pages speak English on ?lang=en and Chinese by default."""

from __future__ import annotations

import ast
import gettext
import html as htmllib
import re
import tomllib
from pathlib import Path

import pytest
from anju.registry.core import failures
from anju.registry.core.capabilities import CAPABILITIES
from anju.registry.review import checks, progress
from anju.registry.review import decisions as queue_mod
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.collector_helpers import login, make_app

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "collector" / "translations"
POT = TRANSLATIONS / "messages.pot"
CJK = re.compile(r"[\u4e00-\u9fff]+")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _po(lang: str):
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def _ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def _key(msgid) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def test_every_message_has_english_with_the_same_placeholders():
    pot, en = read_po(POT.open("rb")), _po("en")
    missing, wrong = [], []
    for m in pot:
        if not m.id:
            continue
        t = en.get(m.id)
        strings = (t.string if isinstance(t.string, tuple) else (t.string,)) if t else ("",)
        if not all(strings) or (t is not None and t.fuzzy):
            missing.append(_key(m.id))
            continue
        # Placeholders are checked here, independently of babel: a translator dropping or
        # renaming one would raise KeyError at render time in English only.
        wanted = set(PLACEHOLDER.findall(_key(m.id)))
        wrong += [(_key(m.id), s) for s in strings if set(PLACEHOLDER.findall(s)) != wanted]
    assert not missing, f"{len(missing)} messages without English, e.g. {missing[:5]}"
    assert not wrong, wrong[:5]


def test_catalogs_are_current_with_the_sources():
    """The .pot is what extraction gives today, and both .po hold exactly its messages: a
    message added in code without re-running `make catalogs` fails here."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "N_": None}):
        if message and (message[0] if isinstance(message, tuple) else message):
            found.add(message if isinstance(message, str) else tuple(message))
    pot_ids = _ids(read_po(POT.open("rb")))
    assert found - pot_ids == set(), f"not in the .pot: {sorted(map(_key, found - pot_ids))[:5]}"
    assert pot_ids - found == set(), f"no longer used: {sorted(map(_key, pot_ids - found))[:5]}"
    for lang in ("zh", "en"):
        assert _ids(_po(lang)) == pot_ids, lang


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_compiled_catalogs_match_the_po(lang):
    """The committed .mo (what wheels and editable installs use) says what the .po says, read
    with the standard library's gettext, not babel's own writer."""
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        mo = gettext.GNUTranslations(f)
    for m in _po(lang):
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            for n, form in ((1, 0), (5, -1)):
                want = m.string[form] or (m.id[0] if n == 1 else m.id[1])
                assert mo.ngettext(m.id[0], m.id[1], n) == want, m.id
        else:
            assert mo.gettext(m.id) == (m.string or m.id), m.id


def test_translations_are_package_data():
    """pyproject ships collector/translations in the wheel (package-data of anju.collector)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["anju.collector"]
    shipped = {p for pattern in patterns for p in (ROOT / "collector").glob(pattern)}
    for lang in ("zh", "en"):
        mo = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo"
        assert mo in shipped and mo.stat().st_size > 0


def _t_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        (isinstance(n.func, ast.Name) and n.func.id == "t")
        or (isinstance(n.func, ast.Attribute) and n.func.attr == "t"
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "i18n"))]


def test_no_pair_calls_remain():
    left = [f"{p.relative_to(ROOT)}:{line}" for p in sorted((ROOT / "collector").rglob("*.py"))
            for line in _t_calls(p)]
    call = re.compile(r"(?<![\w.])t\(")
    for p in sorted((ROOT / "collector" / "templates").rglob("*.html")):
        text = p.read_text(encoding="utf-8")
        left += [f"{p.relative_to(ROOT)}:{text[:m.start()].count(chr(10)) + 1}"
                 for m in call.finditer(text)]
    assert not left, left
    from anju.collector import i18n
    assert not hasattr(i18n, "t")


def test_registry_tables_shown_in_the_web_app_are_in_the_catalog():
    """The message tables the web app translates with _(pair[0]) are marked for extraction."""
    pot_ids = {_key(i) for i in _ids(read_po(POT.open("rb")))}
    tables = {"capabilities": [v[0] for v in CAPABILITIES.values()],
              "check kinds": [v[0] for v in checks.KINDS.values()],
              "review decisions": [v[0] for v in queue_mod.DECISIONS.values()],
              "progress stages": [v[0] for v in progress.LABELS.values()],
              "machine failures": [f.zh for f in vars(failures).values()
                                   if isinstance(f, failures.Failure)]}
    for name, zh in tables.items():
        assert set(zh) <= pot_ids, (name, sorted(set(zh) - pot_ids))


@given(st.data())
@settings(max_examples=60, deadline=None)
def test_english_formats_with_the_chinese_arguments(data):
    """Any message with placeholders formats in English with exactly the arguments the code
    passes for the Chinese (whatever their text)."""
    en = _po("en")
    messages = [m for m in en if m.id and PLACEHOLDER.search(_key(m.id))]
    m = data.draw(st.sampled_from(messages))
    names = set(PLACEHOLDER.findall(_key(m.id)))
    args = {n: data.draw(st.integers(0, 10**6)) for n in names}
    strings = m.string if isinstance(m.string, tuple) else (m.string,)
    for s in strings:
        out = s % args
        assert all(str(v) in out for v in args.values())


# Pages whose every UI text has English: on ?lang=en no Chinese is left but the data, the
# brand and the language switch (which names Chinese in Chinese).
ENGLISH_PAGES = ["/households", "/households/new", "/sync", "/review", "/progress", "/devices",
                 "/completion"]
DATA = {"测试项目", "东关片区A地块", "东关街12号", "张伟", "安居", "中文"}


def _visible(page: str) -> str:
    body = page.split("<body", 1)[-1]
    body = re.sub(r"<(script|style|textarea)\b.*?</\1>", " ", body, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.fixture
def client(registry, household):
    client = make_app(registry).test_client()
    login(client, "boss")
    client.household = household
    return client


def test_english_pages_have_no_chinese_but_data(client):
    for path in ENGLISH_PAGES:
        url = path.format(hid=client.household)
        response = client.get(url + "?lang=en")
        assert response.status_code == 200, url
        left = set(CJK.findall(_visible(response.text))) - DATA
        # Data values contain the data's own words, e.g. 东关街 inside 东关街12号.
        left = {w for w in left if not any(w in d for d in DATA)}
        assert not left, (url, sorted(left))


def test_chinese_is_the_default_and_the_choice_sticks(client):
    page = _visible(client.get("/households").text)
    assert "住户列表" in page and "Households" not in page
    english = _visible(client.get("/households?lang=en").text)
    assert "住户列表" not in english
    # Every navigation entry a supervisor sees, in the words its module gives.
    for _endpoint, zh, en, role in client.application.config["NAV"]:
        if role in ("surveyor", "supervisor"):
            assert zh in page and f" {en} " in english, (zh, en)
    # The choice is kept for the session, and ?lang=zh switches back.
    assert "Households" in _visible(client.get("/sync").text)
    assert "住户列表" in _visible(client.get("/households?lang=zh").text)


def test_login_page_in_both_languages(registry):
    client = make_app(registry).test_client()
    assert "登录" in client.get("/login").text
    english = client.get("/login?lang=en").text
    assert "Log in" in english and "登录" not in _visible(english).replace("中文", "")


def test_counts_use_plural_forms():
    """ngettext messages have a singular and a plural English form, and gettext picks them."""
    en = _po("en")
    plural = [m for m in en if isinstance(m.id, tuple)]
    assert plural, "no ngettext message in the catalog"
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        mo = gettext.GNUTranslations(f)
    for m in plural:
        assert mo.ngettext(m.id[0], m.id[1], 1) == m.string[0]
        assert mo.ngettext(m.id[0], m.id[1], 2) == m.string[1]
        assert m.string[0] != m.string[1]


# The lawful path and the household page on a demo project (its lawful path played): on
# ?lang=en the only Chinese left is data, i.e. text found in the registry's own rows.
DEMO_DATA_TABLES = ("household", "member", "objection", "valuation", "compensation_decision",
                    "agreement", "publication_round", "attachment", "user", "fixture")
GENERATED = {"publication_round": {"title"}, "agreement": {"breakdown"},
             "compensation_decision": {"breakdown"}}  # written by the code, not by people


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo project of 160 households with its lawful path played."""
    from anju.registry.field.demo import build_demo
    return build_demo(tmp_path_factory.mktemp("i18n-demo"), households=160, seed=11)


def _demo_data(path) -> list[str]:
    """Every text people entered (or the demo generated as data) in the demo registry."""
    import json
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        texts = []
        for table in DEMO_DATA_TABLES:
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                       if r[1] not in GENERATED.get(table, ())]
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                texts += [v for v in row if isinstance(v, str) and CJK.search(v)]
        for (value,) in conn.execute("SELECT value FROM meta"):
            texts.append(value if not value.startswith(("{", "[")) else
                         json.dumps(json.loads(value), ensure_ascii=False))
        rules = conn.execute("SELECT text FROM rules_version").fetchall()
        texts += [r[0] for r in rules if r[0]]
    finally:
        conn.close()
    return texts + ["安居", "中文"]  # the brand and the language switch


def _chinese_not_in(text: str, data: list[str]) -> set[str]:
    return {w for w in CJK.findall(text) if not any(w in d for d in data)}


@pytest.fixture
def demo_client(demo):
    from anju.collector import create_app
    client = create_app(demo, {"TESTING": True, "SECRET_KEY": "test"}).test_client()
    login(client, "admin", "anju-demo")
    return client


def _demo_households(demo) -> dict[str, str]:
    from anju.registry.core.store import Registry
    from anju.registry.legal import decisions
    with Registry.open(demo) as reg:
        served = next(d for d in decisions.all_decisions(reg) if d["served_on"])
        signed = reg.conn.execute(
            "SELECT a.household_id FROM agreement a JOIN valuation v USING (household_id) "
            "WHERE a.deleted IS NULL AND v.delivered_on IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM publication_round r WHERE r.households LIKE "
            "'%' || a.household_id || '%') LIMIT 1").fetchone()[0]
        objected = reg.conn.execute(
            "SELECT household_id FROM objection WHERE replied_on IS NOT NULL LIMIT 1"
        ).fetchone()[0]
    return {"decision": served["household_id"], "agreement": signed, "objection": objected}


def test_the_lawful_path_room_speaks_english_but_data(demo, demo_client):
    data = _demo_data(demo)
    page = demo_client.get("/legal?lang=en")
    assert page.status_code == 200
    text = _visible(page.text)
    assert not _chinese_not_in(text, data), sorted(_chinese_not_in(text, data))
    # The figures, kinds and default round titles are worded, not left out.
    for words in ("Objections open", "Decisions served", "Round 2: Survey results",
                  "Survey results"):
        assert words in text, words
    chinese = _visible(demo_client.get("/legal?lang=zh").text)
    assert "异议待答复" in chinese and "第2轮 调查结果公示" in chinese


def test_the_lawful_path_box_speaks_english_but_data(demo, demo_client):
    data = _demo_data(demo)
    for why, hid in _demo_households(demo).items():
        page = demo_client.get(f"/households/{hid}?lang=en")
        assert page.status_code == 200, why
        box = _visible(page.text.split('id="legal"')[1].split("</section>")[0])
        left = _chinese_not_in(box, data)
        assert not left, (why, sorted(left))
        assert "Lawful path" in _visible(page.text), why
    box = _visible(demo_client.get(f"/households/{_demo_households(demo)['decision']}"
                                   "?lang=en").text)
    for words in ("Compensation decision", "drafted", "issued", "served",
                  "administrative review until", "Valuation report"):
        assert words in box, words


HOSTILE = "<script>alert(1)</script>"


def test_unknown_table_keys_render_escaped(tmp_path, demo):
    """A kind or basis no table knows (a hostile pack, a hand-edited database) is shown as
    itself, escaped, in both languages: never as markup."""
    import sqlite3

    from anju.collector import create_app
    copy = tmp_path / "registry.db"
    with sqlite3.connect(demo) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    conn = sqlite3.connect(copy)
    with conn:
        hid = conn.execute("SELECT household_id FROM objection WHERE outcome IS NULL "
                           "AND deleted IS NULL LIMIT 1").fetchone()[0]
        conn.execute("UPDATE objection SET kind = ? WHERE household_id = ?", (HOSTILE, hid))
        conn.execute("UPDATE valuation SET basis = ? WHERE household_id = ?", (HOSTILE, hid))
        conn.execute("UPDATE publication_round SET kind = ?", (HOSTILE,))
    conn.close()
    client = create_app(copy, {"TESTING": True, "SECRET_KEY": "test"}).test_client()
    login(client, "admin", "anju-demo")
    for lang in ("en", "zh"):
        for url in ("/legal", f"/households/{hid}"):
            page = client.get(f"{url}?lang={lang}")
            assert page.status_code == 200, (url, lang)
            assert HOSTILE not in page.text, (url, lang)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, (url, lang)


def test_breakdown_lines_and_modes_are_named_in_english(demo, demo_client):
    """The compensation breakdown on the household page names its lines and modes in English
    (frozen agreements too: the name follows the line's key, not its stored Chinese label)."""
    from anju.registry.compensation.calculation import ITEM_LABELS
    data = _demo_data(demo)
    hid = _demo_households(demo)["agreement"]
    page = demo_client.get(f"/households/{hid}?lang=en").text
    cells = [_visible(c) for c in re.findall(r'<td class="item">(.*?)</td>', page, flags=re.S)]
    assert cells
    left = {w for c in cells for w in _chinese_not_in(c, data)}
    assert not left, sorted(left)
    english = {en for _zh, en in ITEM_LABELS.values()}
    assert {"Value of the house", "Moving"} <= {c.split("<br>")[0].strip() for c in cells}
    assert any(c.strip() in english for c in cells)
    chinese = demo_client.get(f"/households/{hid}?lang=zh").text
    assert "被征收房屋价值补偿" in chinese and "Value of the house" not in chinese


def test_the_settlement_is_worded_in_english(demo, demo_client):
    """The breakdown's settlement and swap difference say who pays whom in English; the
    capital-numeral line (a Chinese legal form) is left to the Chinese page."""
    hid = _demo_households(demo)["agreement"]
    page = demo_client.get(f"/households/{hid}?lang=en").text
    totals = [_visible(t) for t in re.findall(r'<tr class="total">(.*?)</tr>', page, flags=re.S)]
    totals = [t for t in totals if "Settlement" in t]  # not the after-handover table's sum
    assert totals
    for row in totals:
        assert not CJK.search(row), row
        assert "Pay the household" in row or "The household pays" in row, row
    basis = [_visible(t) for t in re.findall(r'<tr class="basis">(.*?)</tr>', page, flags=re.S)]
    assert basis and all("Compensation rules version" in b and not CJK.search(b) for b in basis)
    chinese = demo_client.get(f"/households/{hid}?lang=zh").text
    rows = [_visible(t) for t in re.findall(r'<tr class="total">(.*?)</tr>', chinese, flags=re.S)]
    rows = [r for r in rows if "结算" in r]
    assert rows
    for row in rows:
        assert "人民币" in row and ("应支付被征收人" in row or "被征收人应补缴" in row), row


def test_no_template_calls_a_pair_function():
    """`t(a, b)` with variables slips past the literal check above; the templates have no `t`."""
    pattern = re.compile(r"(?<![\w.])t\(")
    templates = (ROOT / "collector" / "templates").rglob("*.html")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in templates
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if pattern.search(line)]
    assert not found, found
