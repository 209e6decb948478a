"""Element: every test runs on both twins (``impl`` = c / py)."""
from __future__ import annotations

import copy
import pickle
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import load

NS = "jabber:client"
MSG = "{jabber:client}message"
BODY = "{jabber:client}body"
RECEIPT = "{urn:xmpp:receipts}request"


@pytest.fixture
def E(impl):
    return load(impl, "element").Element


def bare(impl, E, tag):
    """An element made the way the tokenizers make them: no __init__ call."""
    el = E.__new__(E)
    el.tag = tag
    el.text = None
    el.tail = None
    if impl == "py":
        el._attrib = None
        el._children = None
    return el


def sample(E):
    m = E(MSG, {"to": "romeo@example.net", "type": "chat"})
    m.subelement(BODY, text="hi")
    r = m.subelement(RECEIPT)
    r.tail = "after"
    x = m.subelement("{urn:x}x", text="one")
    x.subelement("{urn:x}y", {"a": "1"}, text="two").tail = "t2"
    x.subelement("bare")
    return m


# -- construction and fields ---------------------------------------------------


def test_construct(E):
    a = {"to": "x"}
    el = E(MSG, a, text="t", tail="u")
    a["to"] = "changed"
    assert el.tag == MSG and el.text == "t" and el.tail == "u"
    assert el.attrib == {"to": "x"}
    assert len(el) == 0


def test_construct_defaults(E):
    el = E("a")
    assert el.text is None and el.tail is None and el.attrib == {} and len(el) == 0


def test_construct_attrib_positional_only(E):
    with pytest.raises(TypeError):
        E("a", attrib={"x": "1"})
    with pytest.raises(TypeError):
        E(tag="a")


def test_construct_text_keyword_only(E):
    with pytest.raises(TypeError):
        E("a", None, "text")


def test_construct_type_checks(E):
    with pytest.raises(TypeError):
        E(1)
    with pytest.raises(TypeError):
        E(None)
    with pytest.raises(TypeError):
        E("a", text=1)


def test_fields_writable(E):
    el = E("a")
    el.tag = "b"
    el.text = "x"
    el.tail = "y"
    assert (el.tag, el.text, el.tail) == ("b", "x", "y")
    el.text = None
    assert el.text is None


def test_attrib_lazy_and_live(E):
    el = E("a")
    d = el.attrib
    d["k"] = "v"
    assert el.get("k") == "v"
    assert el.attrib is d
    el.attrib = {"z": "1"}
    assert el.items() == [("z", "1")]
    el.attrib = None
    assert el.attrib == {}
    el.attrib = [("p", "q")]
    assert el.attrib == {"p": "q"}


def test_get_set_keys_items(E):
    el = E("a")
    assert el.get("x") is None
    assert el.get("x", "d") == "d"
    assert el.keys() == [] and el.items() == []
    el.set("x", "1")
    el.set("{urn:y}z", "2")
    assert el.get("x") == "1"
    assert el.keys() == ["x", "{urn:y}z"]
    assert el.items() == [("x", "1"), ("{urn:y}z", "2")]
    el.set("x", "3")
    assert el.get("x") == "3"


def test_bool_always_true(E):
    assert bool(E("a"))
    el = E("a")
    el.append(E("b"))
    assert bool(el)


# -- children ----------------------------------------------------------------


def test_children_sequence(E):
    el = E("r")
    a, b, c = E("a"), E("b"), E("c")
    el.append(a)
    el.extend([b, c])
    assert len(el) == 3
    assert el[0] is a and el[-1] is c
    assert el[1:] == [b, c] and el[1:][0] is b
    assert list(el) == [a, b, c]
    with pytest.raises(IndexError):
        el[3]
    d = E("d")
    el.insert(1, d)
    assert [x.tag for x in el] == ["a", "d", "b", "c"]
    el[0] = E("z")
    assert el[0].tag == "z"
    el[0:2] = [E("p")]
    assert [x.tag for x in el] == ["p", "b", "c"]
    del el[0]
    assert [x.tag for x in el] == ["b", "c"]
    del el[:]
    assert len(el) == 0


def test_children_empty(E):
    el = E("r")
    assert list(el) == [] and el[:] == []
    with pytest.raises(IndexError):
        el[0]
    with pytest.raises(IndexError):
        del el[0]


def test_children_type_checks(E):
    el = E("r")
    with pytest.raises(TypeError):
        el.append("x")
    with pytest.raises(TypeError):
        el.append(None)
    with pytest.raises(TypeError):
        el.extend([E("a"), "x"])
    assert len(el) == 0  # extend is all or nothing
    with pytest.raises(TypeError):
        el.insert(0, 1)
    with pytest.raises(TypeError):
        el[0:0] = ["x"]
    el.append(E("a"))
    with pytest.raises(TypeError):
        el[0] = "x"


def test_remove_is_by_identity(E):
    el = E("r")
    first, second = E("same"), E("same")
    el.extend([first, second])
    assert first == second
    el.remove(second)
    assert len(el) == 1 and el[0] is first
    with pytest.raises(ValueError):
        el.remove(E("same"))
    with pytest.raises(ValueError):
        E("empty").remove(first)


def test_clear(E):
    el = E("r", {"a": "1"}, text="t", tail="u")
    el.append(E("c"))
    el.clear()
    assert el.tag == "r"
    assert el.text is None and el.tail is None and el.attrib == {} and len(el) == 0


def test_subelement(E):
    el = E(MSG)
    body = el.subelement(BODY, text="hello")
    assert body is el[0]
    assert body.tag == BODY and body.text == "hello" and body.tail is None
    x = el.subelement("{urn:x}x", {"k": "v"})
    assert x is el[1] and x.attrib == {"k": "v"}
    with pytest.raises(TypeError):
        el.subelement("a", None, "text")
    with pytest.raises(TypeError):
        el.subelement(5)


# -- search ------------------------------------------------------------------


def test_find_child(E):
    m = sample(E)
    assert m.find(BODY) is m[0]
    assert m.find("{urn:x}x") is m[2]
    assert m.find("body") is None  # bare name means no namespace
    assert m.find("{urn:x}y") is None  # not a direct child
    assert m.find("*") is m[0]
    assert m.find(".") is m
    assert m.find("./" + BODY) is m[0]


def test_findall_paths(E):
    m = sample(E)
    x = m[2]
    assert m.findall("*") == list(m)
    assert m.findall("*")[1] is m[1]
    assert m.findall("{urn:x}x/{urn:x}y") == [x[0]]
    assert m.findall("{urn:x}x/bare")[0] is x[1]
    assert m.findall("{urn:x}x/*") == [x[0], x[1]]
    assert m.findall("{urn:x}*") == [x]
    assert m.findall("{urn:x}x/{}*")[0] is x[1]
    assert m.findall("{urn:x}x/{}bare")[0] is x[1]
    assert m.findall("nothing") == []
    assert m.findall("./.")[0] is m
    assert m.findall("{*}body")[0] is m[0]
    assert m.findall("{urn:x}x/{*}bare")[0] is x[1]
    assert m.findall(".//{*}y")[0] is x[0]


def test_findall_descendants(E):
    m = sample(E)
    x = m[2]
    assert m.findall(".//{urn:x}y")[0] is x[0]
    assert m.findall("//bare")[0] is x[1]
    assert [e.tag for e in m.findall(".//*")] == [
        BODY, RECEIPT, "{urn:x}x", "{urn:x}y", "bare"
    ]
    assert m.find(".//" + MSG) is None  # self is not a descendant
    assert m.findall(".//{urn:x}x/bare")[0] is x[1]
    assert m.find(".//{urn:x}*") is x


def test_find_namespace_with_slash(E):
    el = E("r")
    child = el.subelement("{http://jabber.org/protocol/disco#info}query")
    assert el.find("{http://jabber.org/protocol/disco#info}query") is child
    assert el.find(".//{http://jabber.org/protocol/disco#info}query") is child


@pytest.mark.parametrize(
    "path",
    ["", "a[1]", "a//b", "/a", "a/", ".//", "..", "@x", "{ns}", "{ns", "a b", ".//.", "a[@x='1']",
     "{*}*", "{*}", "1a", "a:b"],
)
def test_bad_paths(E, path):
    with pytest.raises(ValueError):
        E("r").find(path)
    with pytest.raises(ValueError):
        E("r").findall(path)
    with pytest.raises(ValueError):
        E("r").findtext(path)


def test_findtext(E):
    m = sample(E)
    assert m.findtext(BODY) == "hi"
    assert m.findtext(RECEIPT) == ""  # found, without text
    assert m.findtext("missing") is None
    assert m.findtext("missing", "dflt") == "dflt"
    assert m.findtext(".//{urn:x}y") == "two"


def test_iter(E):
    m = sample(E)
    tags = [e.tag for e in m.iter()]
    assert tags == [MSG, BODY, RECEIPT, "{urn:x}x", "{urn:x}y", "bare"]
    assert [e.tag for e in m.iter("*")] == tags
    assert list(m.iter("{urn:x}y")) == [m[2][0]]
    assert list(m.iter(MSG))[0] is m
    assert list(m.iter("nothing")) == []


def test_itertext(E):
    m = sample(E)
    assert list(m.itertext()) == ["hi", "after", "one", "two", "t2"]
    el = E("a", text="", tail="top tail")
    assert list(el.itertext()) == []


# -- copies, comparison, pickling -------------------------------------------------


def test_copy_is_deep(E):
    m = sample(E)
    c = m.copy()
    assert c == m and c is not m
    assert c[2][0] is not m[2][0]
    assert c[1].tail == "after"
    c[2][0].set("a", "changed")
    c[0].text = "changed"
    c.set("to", "changed")
    assert m[2][0].get("a") == "1" and m[0].text == "hi" and m.get("to") == "romeo@example.net"
    assert type(c) is E


def test_copy_module(E):
    m = sample(E)
    shallow = copy.copy(m)
    assert shallow == m and shallow[0] is m[0]
    shallow.set("to", "x")
    assert m.get("to") == "romeo@example.net"
    shallow.append(E("new"))
    assert len(m) == 3
    deep = copy.deepcopy(m)
    assert deep == m and deep[0] is not m[0]


def test_pickle(E):
    m = sample(E)
    m.tail = "tail"
    back = pickle.loads(pickle.dumps(m))
    assert back == m and type(back) is E and back.tail == "tail"


def test_eq_normalises_none(E):
    a = E("x")
    b = E("x", {}, text="", tail="")
    assert a == b and not (a != b)
    b.set("k", "v")
    assert a != b
    assert E("x", text="t") != E("x")
    assert E("x", tail="t") != E("x")
    assert E("x") != E("y")


def test_eq_children(E):
    assert sample(E) == sample(E)
    a, b = sample(E), sample(E)
    b[2][0].text = "other"
    assert a != b
    b = sample(E)
    b[2].append(E("extra"))
    assert a != b
    b = sample(E)
    b[1].tail = None
    assert a != b


def test_eq_other_types(E):
    assert E("x") != "x"
    assert E("x").__eq__("x") is NotImplemented
    assert E("x") != ET.Element("x")


def test_unhashable(E):
    assert E.__hash__ is None
    with pytest.raises(TypeError):
        hash(E("x"))


def test_repr(E):
    assert repr(E("x")) == "<Element 'x'>"
    m = E(MSG, {"to": "a"})
    m.append(E("b"))
    assert repr(m) == "<Element '{jabber:client}message' {'to': 'a'} children=1>"


# -- names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag, ns, local",
    [
        ("{jabber:client}message", "jabber:client", "message"),
        ("{http://jabber.org/protocol/disco#info}query", "http://jabber.org/protocol/disco#info", "query"),
        ("bare", "", "bare"),
        ("{}empty", "", "empty"),
    ],
)
def test_namespace_localname(E, tag, ns, local):
    el = E(tag)
    assert el.namespace == ns
    assert el.localname == local


# -- ElementTree interoperability ----------------------------------------------


def test_to_etree(E):
    m = sample(E)
    t = m.to_etree()
    assert isinstance(t, ET.Element)
    assert t.tag == MSG and t.attrib == {"to": "romeo@example.net", "type": "chat"}
    assert t[0].text == "hi" and t[1].tail == "after" and t[2][0].attrib == {"a": "1"}
    assert ET.tostring(t[2][0]) == b'<ns0:y xmlns:ns0="urn:x" a="1">two</ns0:y>t2'


def test_from_etree_round_trip(E):
    m = sample(E)
    back = E.from_etree(m.to_etree())
    assert type(back) is E
    assert back == m


def test_from_etree_drops_comments_keeps_tails(E):
    t = ET.fromstring("<r>a<!--c1-->b<x/>c<!--c2-->d<?pi x?>e</r>", parser=ET.XMLParser(
        target=ET.TreeBuilder(insert_comments=True, insert_pis=True)))
    el = E.from_etree(t)
    assert el.text == "ab"
    assert len(el) == 1 and el[0].tag == "x" and el[0].tail == "cde"
    with pytest.raises(TypeError):
        E.from_etree(ET.Comment("x"))


# -- elements made without __init__ (how the tokenizers make them) ---------------


def test_bare_element_api(impl, E):
    el = bare(impl, E, "{urn:x}a")
    assert el.get("k") is None and el.keys() == [] and el.items() == []
    assert len(el) == 0 and list(el) == [] and el[:] == []
    assert el.find("b") is None and el.findall(".//b") == [] and el.findtext("b", "d") == "d"
    assert list(el.iter()) == [el] and list(el.itertext()) == []
    assert el == E("{urn:x}a") and el.copy() == el
    assert el.to_etree().tag == "{urn:x}a"
    assert el.namespace == "urn:x" and el.localname == "a"
    with pytest.raises(ValueError):
        el.remove(E("b"))
    assert repr(el) == "<Element '{urn:x}a'>"
    el.set("k", "v")
    assert el.attrib == {"k": "v"}
    el2 = bare(impl, E, "b")
    assert el2.attrib == {}
    el3 = bare(impl, E, "c")
    el3.insert(0, E("d"))
    assert el3[0].tag == "d"
    el4 = bare(impl, E, "c")
    el4.extend([E("d")])
    assert len(el4) == 1
    el5 = bare(impl, E, "c")
    el5.clear()
    assert el5.attrib == {}
    el6 = bare(impl, E, "c")
    assert el6.subelement("x").tag == "x"


# -- robustness --------------------------------------------------------------


def deep(E, depth):
    root = E("d0")
    el = root
    for i in range(depth):
        el = el.subelement("d", text="x")
    return root


def test_deep_tree_no_recursion(E):
    a = deep(E, 100_000)
    b = a.copy()
    assert a == b
    assert sum(1 for _ in a.iter()) == 100_001
    assert len(list(a.itertext())) == 100_000
    assert len(a.findall(".//d")) == 100_000
    t = a.to_etree()
    assert E.from_etree(t) == a


def test_memory_not_above_etree(E):
    assert sys.getsizeof(E("a")) <= sys.getsizeof(ET.Element("a"))


def test_c_twin_is_the_selected_one():
    from fastxmpp import _accel, element

    if _accel.USE_EXTENSIONS:
        from fastxmpp._element_c import Element
    else:
        from fastxmpp._element_py import Element
    assert element.Element is Element


def test_cycles_are_refused(impl):
    """Compiled elements are not GC-tracked, so tree operations must refuse cycles (both twins agree)."""
    E = load(impl, "element").Element
    root = E("{urn:a}root")
    child = root.subelement("{urn:a}child")
    grandchild = child.subelement("{urn:a}grandchild")
    for op in (lambda: root.append(root), lambda: grandchild.append(root),
               lambda: child.insert(0, root), lambda: grandchild.extend([child])):
        with pytest.raises(ValueError):
            op()
    assert len(grandchild) == 0 and len(root) == 1
