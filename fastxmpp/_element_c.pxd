# C declarations shared by the compiled element, tokenizer and serializer.

cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define FX_GIL_BUILD 0
    #else
    #define FX_GIL_BUILD 1
    #endif
    """
    # False on free-threaded builds: no shared caches, stanzas built at once.
    const bint FX_GIL_BUILD

cdef class Element:
    cdef public str tag
    cdef str _text
    cdef public str tail
    cdef dict _attrib      # None until an attribute is set
    cdef list _children    # None until a child is added
    # A stanza from the tokenizer starts "lazy": only ``tag`` is set and the rest
    # is built from ``_raw`` (its well-formed bytes) on first use; see _materialize.
    cdef bytes _raw
    cdef tuple _ctx        # (default namespace, ((prefix, uri), ...)) as UTF-8 bytes


cdef int _materialize(Element el) except -1

cdef Element new_child(Element parent, str tag, str text)

cdef inline int ensure(Element el) except -1:
    """Build a lazy element's attributes, text and children (no-op otherwise)."""
    if el._raw is not None:
        return _materialize(el)
    return 0

cdef object intern_str(const char *s, Py_ssize_t n, bint clark)
