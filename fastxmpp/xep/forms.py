"""XEP-0004 Data Forms, sans-IO: parse an ``<x xmlns='jabber:x:data'/>`` into a :class:`Form`,
build one, and fill the ``submit`` form answering a received ``form``
(:meth:`Form.submit`) with typed values (``bool`` for boolean fields, :class:`~fastxmpp.jid.JID`
for jid-single, lists for the ``-multi`` types).  ``result`` forms may carry a table
(``reported`` columns and ``items`` rows).

A malformed form from the network raises :class:`InvalidForm` (a
:class:`~fastxmpp.xep._iq.RemoteInvalidResult`); a value the caller gives that the form
does not allow raises :class:`FormValueError` (a :class:`ValueError`).

Used by multi-user chat room configuration, service discovery extensions (XEP-0128, hashed
into entity capabilities) and message archive queries.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence

from ..element import Element
from ..errors import XMPPError
from ..jid import JID, InvalidJID
from ._iq import RemoteInvalidResult

__all__ = ["NS_DATA", "X", "FORM_TYPE", "FORM_TYPES", "FIELD_TYPES", "InvalidForm", "FormValueError",
           "Option", "Field", "Form", "parse_form", "find_form", "find_forms"]

NS_DATA = "jabber:x:data"
X = "{%s}x" % NS_DATA
FORM_TYPE = "FORM_TYPE"
FORM_TYPES = frozenset(("form", "submit", "cancel", "result"))
FIELD_TYPES = frozenset(("boolean", "fixed", "hidden", "jid-multi", "jid-single", "list-multi",
                         "list-single", "text-multi", "text-private", "text-single"))
_MULTI = frozenset(("jid-multi", "list-multi", "text-multi"))
_FIELD = "{%s}field" % NS_DATA
_VALUE = "{%s}value" % NS_DATA
_OPTION = "{%s}option" % NS_DATA
_DESC = "{%s}desc" % NS_DATA
_REQUIRED = "{%s}required" % NS_DATA
_TITLE = "{%s}title" % NS_DATA
_INSTRUCTIONS = "{%s}instructions" % NS_DATA
_REPORTED = "{%s}reported" % NS_DATA
_ITEM = "{%s}item" % NS_DATA
_TRUE = frozenset(("1", "true"))
_BOOLEAN = frozenset(("0", "1", "true", "false"))


class InvalidForm(RemoteInvalidResult):
    """A data form XEP-0004 does not allow: an unknown form or field type, a field without
    ``var`` (other than ``fixed``), a var twice, several values in a single-valued field,
    a boolean that is not 0/1/true/false, an option without a value, an item whose fields
    are not the reported ones.  ``stanza`` is the ``<x/>`` element."""


class FormValueError(XMPPError, ValueError):
    """A value given to :meth:`Form.submit` (or :meth:`Field.set`) that the field does not
    take: an unknown var, a list for a single-valued field, a bad JID, a choice not among
    the options, a required field left empty."""


class Option(NamedTuple):
    """One ``<option/>`` of a list field: its ``value`` and ``label``."""

    value: str
    label: Optional[str] = None


class _SameSlots:
    """Structural equality of two objects of one slotted class (Field, Form)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in getattr(self, "__slots__"))


def _is_multi(kind: Optional[str], values: Sequence[str]) -> bool:
    return kind in _MULTI if kind is not None else len(values) > 1


class Field(_SameSlots):
    """One ``<field/>``: ``var``, ``type`` (None when the form does not say, as in most
    submitted forms: then it reads as text-single), ``label``, ``values`` (the raw strings),
    ``options``, ``required`` and ``desc``.  :attr:`value` is the typed value."""

    __slots__ = ("var", "type", "label", "values", "options", "required", "desc")

    def __init__(self, var: Optional[str] = None, type: Optional[str] = None, *, label: Optional[str] = None,
                 values: Iterable[str] = (), options: Iterable[Any] = (), required: bool = False,
                 desc: Optional[str] = None) -> None:
        if type is not None and type not in FIELD_TYPES:
            raise FormValueError(f"unknown data form field type {type!r}")
        self.var = var
        self.type = type
        self.label = label
        self.values: List[str] = list(values)
        self.options: List[Option] = [o if isinstance(o, Option) else Option(*o) if isinstance(o, tuple)
                                      else Option(str(o)) for o in options]
        self.required = required
        self.desc = desc

    def __repr__(self) -> str:
        return f"Field({self.var!r}, {self.type!r}, values={self.values!r})"

    @property
    def multi(self) -> bool:
        """True for the types that hold a list (jid-multi, list-multi, text-multi)."""
        return _is_multi(self.type, self.values)

    @property
    def value(self) -> Any:
        """The typed value: ``bool`` (boolean; False when empty), a :class:`JID` or a list
        of them (jid-single/-multi), a list of ``str`` (list-multi, text-multi), else the
        string, or None when there is no value."""
        kind, values = self.type, self.values
        if kind == "boolean":
            return bool(values) and values[0] in _TRUE
        if kind == "jid-single":
            return JID(values[0]) if values else None
        if kind == "jid-multi":
            return [JID(v) for v in values]
        if _is_multi(kind, values):
            return list(values)
        return values[0] if values else None

    def set(self, value: Any, *, strict: bool = True) -> None:
        """Set the value from a Python value of the field's type (see :attr:`value`);
        ``strict`` checks list choices against the options.  Raises :class:`FormValueError`."""
        self.values = self._encode(value, strict)

    def _encode(self, value: Any, strict: bool) -> List[str]:
        kind, var = self.type, self.var
        if value is None:
            return []
        many = isinstance(value, (list, tuple, set, frozenset))
        if kind in _MULTI:
            items = list(value) if many else (str(value).split("\n") if kind == "text-multi" else [value])
        elif many:
            raise FormValueError(f"field {var!r} ({kind or 'text-single'}) takes one value, not {value!r}")
        else:
            items = [value]
        if kind == "boolean":
            item = items[0]
            if isinstance(item, bool):
                return ["1" if item else "0"]
            if str(item).lower() not in _BOOLEAN:
                raise FormValueError(f"field {var!r} is boolean, not {item!r}")
            return [str(item).lower()]
        out = [str(v) for v in items]
        if kind in ("jid-single", "jid-multi"):
            try:
                out = [str(v if isinstance(v, JID) else JID(v)) for v in items]
            except InvalidJID as exc:
                raise FormValueError(f"field {var!r} takes JIDs: {exc}") from exc
        if strict and kind in ("list-single", "list-multi") and self.options:
            allowed = {o.value for o in self.options}
            bad = [v for v in out if v not in allowed]
            if bad:
                raise FormValueError(f"field {var!r}: {bad!r} not among the options {sorted(allowed)!r}")
        return out

    def to_element(self, *, bare: bool = False) -> Element:
        """The ``<field/>`` element; ``bare`` keeps only var and values (as in a submit form)."""
        attrs: Dict[str, str] = {}
        if self.var is not None:
            attrs["var"] = self.var
        if not bare:
            if self.type is not None:
                attrs["type"] = self.type
            if self.label is not None:
                attrs["label"] = self.label
        el = Element(_FIELD, attrs)
        if not bare:
            if self.desc is not None:
                el.subelement(_DESC, text=self.desc)
            if self.required:
                el.subelement(_REQUIRED)
        for v in self.values:
            el.subelement(_VALUE, text=v)
        if not bare:
            for o in self.options:
                option = el.subelement(_OPTION, {"label": o.label} if o.label is not None else None)
                option.subelement(_VALUE, text=o.value)
        return el


class Form(_SameSlots):
    """A data form: ``type`` (form, submit, cancel, result), ``title``, ``instructions``
    (a list of lines), ``fields`` in order, and for a result table ``reported`` (the
    column fields) and ``items`` (rows, each a list of fields).  ``form[var]`` is a field,
    ``form.get(var)`` its typed value, :attr:`form_type` the hidden FORM_TYPE."""

    __slots__ = ("type", "title", "instructions", "fields", "reported", "items")

    def __init__(self, type: str = "form", fields: Iterable[Field] = (), *, title: Optional[str] = None,
                 instructions: Iterable[str] = (), form_type: Optional[str] = None,
                 reported: Optional[Iterable[Field]] = None, items: Iterable[Iterable[Field]] = ()) -> None:
        if type not in FORM_TYPES:
            raise FormValueError(f"unknown data form type {type!r} (form, submit, cancel or result)")
        self.type = type
        self.title = title
        self.instructions = [instructions] if isinstance(instructions, str) else list(instructions)
        self.fields: List[Field] = list(fields)
        if form_type is not None:
            self.fields.insert(0, Field(FORM_TYPE, "hidden", values=[form_type]))
        self.reported: Optional[List[Field]] = list(reported) if reported is not None else None
        self.items: List[List[Field]] = [list(row) for row in items]

    def __repr__(self) -> str:
        return f"Form({self.type!r}, form_type={self.form_type!r}, fields={[f.var for f in self.fields]!r})"

    @property
    def form_type(self) -> Optional[str]:
        """The value of the hidden ``FORM_TYPE`` field (XEP-0068), or None."""
        for f in self.fields:
            if f.var == FORM_TYPE:
                return f.values[0] if f.values else None
        return None

    def field(self, var: str) -> Optional[Field]:
        """The field named ``var``, or None."""
        for f in self.fields:
            if f.var == var:
                return f
        return None

    def __getitem__(self, var: str) -> Field:
        found = self.field(var)
        if found is None:
            raise KeyError(var)
        return found

    def __contains__(self, var: object) -> bool:
        return any(f.var == var for f in self.fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def get(self, var: str, default: Any = None) -> Any:
        """The typed value of field ``var`` (:attr:`Field.value`), ``default`` when absent."""
        found = self.field(var)
        return default if found is None else found.value

    def values(self) -> Dict[str, Any]:
        """{var: typed value} of every field with a var but FORM_TYPE."""
        return {f.var: f.value for f in self.fields if f.var is not None and f.var != FORM_TYPE}

    def rows(self) -> List[Dict[str, Any]]:
        """The result table's items as {var: typed value} dicts (typed by the reported fields)."""
        kinds = {f.var: f.type for f in self.reported or ()}
        out = []
        for row in self.items:
            out.append({f.var or "": Field(f.var, f.type or kinds.get(f.var), values=f.values).value for f in row})
        return out

    def submit(self, values: Optional[Mapping[str, Any]] = None, *, strict: bool = True) -> "Form":
        """The ``submit`` form answering this one: every field with a var but ``fixed`` ones,
        with its default value unless ``values`` ({var: value or list}) gives one; hidden
        fields (FORM_TYPE among them) are sent back as received.  Values are typed as
        :meth:`Field.set` takes them.  An unknown var, a bad value or a required field
        without a value raises :class:`FormValueError`."""
        given = dict(values or {})
        out: List[Field] = []
        for f in self.fields:
            if f.var is None or f.type == "fixed":
                continue
            new = Field(f.var, f.type, values=f.values, options=f.options)
            if f.var in given and f.type != "hidden":
                new.set(given.pop(f.var), strict=strict)
            if f.required and not new.values:
                raise FormValueError(f"field {f.var!r} is required")
            new.options = []
            out.append(new)
        if given:
            raise FormValueError(f"no field {sorted(given)!r} in this form")
        return Form("submit", out)

    @staticmethod
    def cancel() -> "Form":
        """A ``cancel`` form (declining to fill one in)."""
        return Form("cancel")

    def to_element(self) -> Element:
        """The ``<x xmlns='jabber:x:data'/>`` element.  A submit form carries var and values
        only (and the type of a field that has one, so that it can be hashed and parsed back
        the same), the others every attribute."""
        x = Element(X, {"type": self.type})
        if self.title is not None:
            x.subelement(_TITLE, text=self.title)
        for line in self.instructions:
            x.subelement(_INSTRUCTIONS, text=line)
        bare = self.type == "submit"
        for f in self.fields:
            el = f.to_element(bare=bare)
            if bare and f.type is not None:
                el.set("type", f.type)
            x.append(el)
        if self.reported is not None:
            reported = x.subelement(_REPORTED)
            for f in self.reported:
                reported.append(f.to_element())
            for row in self.items:
                item = x.subelement(_ITEM)
                for f in row:
                    item.append(f.to_element(bare=True))
        return x


def _parse_field(el: Element, x: Element, form_type: str) -> Field:
    kind = el.get("type")
    if kind is not None and kind not in FIELD_TYPES:
        raise InvalidForm(f"data form field of unknown type {kind!r}", x)
    var = el.get("var")
    if var is None and kind != "fixed" and form_type != "result":
        raise InvalidForm("data form field without 'var'", x)
    values: List[str] = []
    options: List[Option] = []
    label, desc, required = el.get("label"), None, False
    for child in el:
        tag = child.tag
        if tag == _VALUE:
            values.append(child.text or "")
        elif tag == _OPTION:
            value = child.find(_VALUE)
            if value is None:
                raise InvalidForm(f"option without a value in field {var!r}", x)
            options.append(Option(value.text or "", child.get("label")))
        elif tag == _REQUIRED:
            required = True
        elif tag == _DESC:
            desc = child.text or ""
    if kind is not None and kind not in _MULTI and len(values) > 1:
        raise InvalidForm(f"field {var!r} of type {kind} with {len(values)} values", x)
    if kind == "boolean" and values and values[0] not in _BOOLEAN:
        raise InvalidForm(f"boolean field {var!r} with value {values[0]!r}", x)
    if kind in ("jid-single", "jid-multi"):
        for v in values:
            try:
                JID(v)
            except InvalidJID as exc:
                raise InvalidForm(f"field {var!r} with an invalid JID {v!r}: {exc}", x) from exc
    return Field(var, kind, label=label, values=values, options=options, required=required, desc=desc)


def _parse_fields(parent: Element, x: Element, form_type: str) -> List[Field]:
    fields = [_parse_field(el, x, form_type) for el in parent if el.tag == _FIELD]
    seen = set()
    for f in fields:
        if f.var is not None:
            if f.var in seen:
                raise InvalidForm(f"data form with field {f.var!r} twice", x)
            seen.add(f.var)
    return fields


def parse_form(x: Element) -> Form:
    """The :class:`Form` in ``x`` (an ``<x xmlns='jabber:x:data'/>`` element); a malformed
    one raises :class:`InvalidForm`."""
    if x.tag != X:
        raise InvalidForm(f"not a data form: {x.tag!r}", x)
    kind = x.get("type")
    if kind not in FORM_TYPES:
        raise InvalidForm(f"data form of unknown type {kind!r}", x)
    title = x.findtext(_TITLE)
    instructions = [el.text or "" for el in x if el.tag == _INSTRUCTIONS]
    fields = _parse_fields(x, x, kind)
    reported_el = x.find(_REPORTED)
    reported: Optional[List[Field]] = None
    items: List[List[Field]] = []
    if reported_el is not None:
        reported = _parse_fields(reported_el, x, "form")
        columns = {f.var for f in reported}
        for item in x.findall(_ITEM):
            row = _parse_fields(item, x, "form")
            if {f.var for f in row} - columns:
                raise InvalidForm("data form item with fields not in <reported/>", x)
            items.append(row)
    elif x.find(_ITEM) is not None:
        raise InvalidForm("data form items without <reported/>", x)
    return Form(kind, fields, title=title, instructions=instructions, reported=reported, items=items)


def find_forms(parent: Element) -> List[Form]:
    """Every data form directly inside ``parent`` (malformed ones raise :class:`InvalidForm`)."""
    return [parse_form(x) for x in parent if x.tag == X]


def find_form(parent: Element, form_type: Optional[str] = None) -> Optional[Form]:
    """The first data form directly inside ``parent`` (with that FORM_TYPE, if given), or None."""
    for form in find_forms(parent):
        if form_type is None or form.form_type == form_type:
            return form
    return None

