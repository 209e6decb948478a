"""XEP-0004 data forms, sans-IO: forms parsed from scripted stanzas (the XEP's own examples),
built, filled in (typed values) and sent back; malformed forms raise InvalidForm."""
from __future__ import annotations

import pytest

from fastxmpp.element import Element
from fastxmpp.jid import JID
from fastxmpp.serializer import serialize
from fastxmpp.xep import RemoteInvalidResult
from fastxmpp.xep.forms import (FORM_TYPE, NS_DATA, Field, Form, FormValueError, InvalidForm, Option,
                                find_form, find_forms, parse_form)
from test_xep_basic import X


def roundtrip(x: Element) -> Element:
    """``x`` sent inside a message and parsed back."""
    msg = Element("{jabber:client}message")
    msg.append(x)
    return X(serialize(msg).decode()).find("{%s}x" % NS_DATA)


def form_el(body: str, kind: str = "form") -> Element:
    return X(f"<message><x xmlns='{NS_DATA}' type='{kind}'>{body}</x></message>").find("{%s}x" % NS_DATA)


# XEP-0004 example 2, shortened (a bot configuration form)
CONFIG = """
<title>Bot Configuration</title>
<instructions>Fill out this form to configure your new bot!</instructions>
<field type='hidden' var='FORM_TYPE'><value>jabber:bot</value></field>
<field type='fixed'><value>Section 1: Bot Info</value></field>
<field type='text-single' label='The name of your bot' var='botname'/>
<field type='text-multi' label='Helpful description of your bot' var='description'/>
<field type='boolean' label='Public bot?' var='public'><required/></field>
<field type='text-private' label='Password for special access' var='password'/>
<field type='list-multi' label='What features will the bot support?' var='features'>
  <option label='Contests'><value>contests</value></option>
  <option label='News'><value>news</value></option>
  <option label='Polls'><value>polls</value></option>
  <option label='Reminders'><value>reminders</value></option>
  <option label='Search'><value>search</value></option>
  <value>news</value><value>search</value>
</field>
<field type='list-single' label='Maximum number of subscribers' var='maxsubs'>
  <value>20</value>
  <option label='10'><value>10</value></option>
  <option label='20'><value>20</value></option>
  <option label='30'><value>30</value></option>
</field>
<field type='jid-multi' label='People to invite' var='invitelist'>
  <desc>Tell all your friends about your new bot!</desc>
</field>
<field type='jid-single' label='Your JID' var='owner'/>
"""


def test_parse_form():
    form = parse_form(form_el(CONFIG))
    assert form.type == "form" and form.title == "Bot Configuration"
    assert form.instructions == ["Fill out this form to configure your new bot!"]
    assert form.form_type == "jabber:bot"
    assert [f.var for f in form] == [FORM_TYPE, None, "botname", "description", "public", "password",
                                     "features", "maxsubs", "invitelist", "owner"]
    assert form["public"].required and not form["botname"].required
    assert form["features"].options[1] == Option("news", "News")
    assert form["invitelist"].desc == "Tell all your friends about your new bot!"
    assert form.get("features") == ["news", "search"]
    assert form.get("maxsubs") == "20"
    assert form.get("public") is False and form.get("owner") is None and form.get("invitelist") == []
    assert form.get("botname") is None and form.get("nope", 7) == 7
    assert "botname" in form and "nope" not in form
    with pytest.raises(KeyError):
        form["nope"]


def test_submit_typed_values():
    form = parse_form(form_el(CONFIG))
    filled = form.submit({"botname": "The Jabber Google Bot", "public": True,
                          "description": "one\ntwo", "features": ["news", "polls"],
                          "invitelist": ["juliet@example.com", JID("romeo@example.net")],
                          "owner": "bot-owner@example.com", "password": "v3r0na"})
    assert filled.type == "submit"
    assert filled.form_type == "jabber:bot"
    assert None not in [f.var for f in filled]          # fixed fields are not sent back
    assert filled["public"].values == ["1"] and filled.get("public") is True
    assert filled["description"].values == ["one", "two"]
    assert filled["maxsubs"].values == ["20"]            # the default stays
    assert filled.get("invitelist") == [JID("juliet@example.com"), JID("romeo@example.net")]
    assert filled.get("owner") == JID("bot-owner@example.com")
    x = filled.to_element()
    assert x.get("type") == "submit"
    assert all(f.find("{%s}option" % NS_DATA) is None for f in x)
    again = parse_form(roundtrip(x))
    assert again.values() == filled.values()


def test_submit_errors():
    form = parse_form(form_el(CONFIG))
    with pytest.raises(FormValueError, match="required"):
        form.submit({})
    with pytest.raises(FormValueError, match="no field"):
        form.submit({"public": False, "colour": "red"})
    with pytest.raises(FormValueError, match="one value"):
        form.submit({"public": False, "botname": ["a", "b"]})
    with pytest.raises(FormValueError, match="boolean"):
        form.submit({"public": "maybe"})
    with pytest.raises(FormValueError, match="JIDs"):
        form.submit({"public": False, "owner": "@bad"})
    with pytest.raises(FormValueError, match="options"):
        form.submit({"public": False, "maxsubs": "25"})
    assert form.submit({"public": "true", "maxsubs": "25"}, strict=False).get("maxsubs") == "25"
    assert isinstance(FormValueError("x"), ValueError)
    with pytest.raises(FormValueError):
        Form("bogus")
    with pytest.raises(FormValueError):
        Field("a", "colour")


def test_build_and_parse_back():
    form = Form("form", [Field("muc#roomconfig_roomname", "text-single", label="Name"),
                         Field("muc#roomconfig_persistentroom", "boolean", values=["0"]),
                         Field("muc#roomconfig_whois", "list-single", values=["moderators"],
                               options=[("moderators", "Moderators only"), ("anyone", "Anyone")])],
                title="Room", instructions="Configure", form_type="http://jabber.org/protocol/muc#roomconfig")
    msg = Element("{jabber:client}message")
    msg.append(form.to_element())
    again = find_form(X(serialize(msg).decode()))
    assert again == form
    assert again.form_type == "http://jabber.org/protocol/muc#roomconfig"
    assert again["muc#roomconfig_whois"].options == [Option("moderators", "Moderators only"), Option("anyone", "Anyone")]
    assert find_form(X(serialize(msg).decode()), "other") is None
    assert len(find_forms(X(serialize(msg).decode()))) == 1
    assert Form.cancel().to_element().get("type") == "cancel"


def test_result_table():
    form = parse_form(form_el("""
      <title>Joogle Search: verona</title>
      <reported><field var='name' label='Name'/><field var='url' type='text-single'/>
        <field var='seen' type='boolean'/></reported>
      <item><field var='name'><value>Comune di Verona</value></field>
        <field var='url'><value>http://www.comune.verona.it/</value></field>
        <field var='seen'><value>true</value></field></item>
      <item><field var='name'><value>Verona</value></field>
        <field var='url'><value>http://www.verona.it/</value></field></item>
    """, "result"))
    assert [f.var for f in form.reported] == ["name", "url", "seen"]
    assert form.rows() == [{"name": "Comune di Verona", "url": "http://www.comune.verona.it/", "seen": True},
                           {"name": "Verona", "url": "http://www.verona.it/"}]
    x = form.to_element()
    assert len(x.findall("{%s}item" % NS_DATA)) == 2


@pytest.mark.parametrize("body, kind, why", [
    ("<field var='a' type='colour'/>", "form", "unknown type"),
    ("<field type='text-single'/>", "form", "without 'var'"),
    ("<field var='a'/><field var='a'/>", "form", "twice"),
    ("<field var='a' type='text-single'><value>1</value><value>2</value></field>", "form", "2 values"),
    ("<field var='a' type='boolean'><value>yes</value></field>", "form", "boolean"),
    ("<field var='a' type='jid-single'><value>@x</value></field>", "form", "invalid JID"),
    ("<field var='a' type='list-single'><option label='x'/></field>", "form", "option without"),
    ("<item><field var='a'><value>1</value></field></item>", "result", "without <reported/>"),
    ("<reported><field var='a'/></reported><item><field var='b'/></item>", "result", "not in <reported/>"),
    ("", "bogus", "unknown type"),
])
def test_malformed_forms(body, kind, why):
    with pytest.raises(InvalidForm, match=why) as info:
        parse_form(form_el(body, kind))
    assert isinstance(info.value, RemoteInvalidResult) and isinstance(info.value, ValueError)
    assert info.value.stanza is not None


def test_not_a_form():
    with pytest.raises(InvalidForm):
        parse_form(Element("{jabber:x:oob}x"))


def test_lenient_parts():
    # a result field may lack a var; a submitted field may lack a type (read as text-single,
    # several values as a list); an empty boolean is False
    form = parse_form(form_el("<field type='fixed'><value>note</value></field><field var='t'><value>a</value>"
                              "<value>b</value></field><field var='u'><value>x</value></field>"
                              "<field var='b' type='boolean'/>", "submit"))
    assert form.get("t") == ["a", "b"] and form.get("u") == "x" and form.get("b") is False
    assert form.values() == {"t": ["a", "b"], "u": "x", "b": False}
    f = Field("x", "text-multi")
    f.set(None)
    assert f.values == [] and f.multi and not Field("y", "text-single").multi
    assert "Field('x'" in repr(f) and "Form('submit'" in repr(form)
