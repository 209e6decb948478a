# cython: language_level=3
"""Object and slot helpers shared by the compiled twins that build Python objects without
calling their ``__init__`` (:mod:`fastxmpp._presence_c`, :mod:`fastxmpp._muc_c`): they write
an object's slots directly, as ``object.__setattr__`` would.  All are static C functions in a
verbatim block, so each module that cimports them compiles its own copy; there is no
``_slots`` extension module.
"""
from cpython.ref cimport PyObject


cdef extern from *:
    """
    #include "structmember.h"   /* PyMemberDef before Python 3.12 */
    /* object.__new__(cls): the instance with every slot empty, no __init__ run. */
    static PyObject *fx_object_new(PyObject *cls, PyObject *empty) {
        return PyBaseObject_Type.tp_new((PyTypeObject *)cls, empty, NULL);
    }
    /* The offset of a slot (a member descriptor of an object field), or -1. */
    static Py_ssize_t fx_slot_offset(PyObject *descr) {
        PyMemberDef *m;
        if (Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type != 16 || (m->flags & 1)) return -1;   /* T_OBJECT_EX, not READONLY */
        return m->offset;
    }
    /* Store v in the slot at offset (a new reference; the old value released). */
    static inline void fx_slot_set(PyObject *o, Py_ssize_t offset, PyObject *v) {
        PyObject **p = (PyObject **)((char *)o + offset);
        PyObject *old = *p;
        Py_INCREF(v);
        *p = v;
        Py_XDECREF(old);
    }
    /* A borrowed reference, NULL when the slot is empty. */
    static inline PyObject *fx_slot_get(PyObject *o, Py_ssize_t offset) {
        return *(PyObject **)((char *)o + offset);
    }
    """
    object fx_object_new(object cls, object empty)
    Py_ssize_t fx_slot_offset(object descr)
    void fx_slot_set(object o, Py_ssize_t offset, object v)
    PyObject *fx_slot_get(object o, Py_ssize_t offset)
