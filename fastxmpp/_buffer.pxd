# A growable byte buffer for the compiled modules: it starts in memory the
# caller provides (usually a stack array) and moves to the heap when it grows.
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcpy


cdef struct Buffer:
    char *data
    Py_ssize_t len
    Py_ssize_t cap
    bint heap


cdef inline void buf_init(Buffer *b, char *initial, Py_ssize_t cap) noexcept:
    b.data = initial
    b.len = 0
    b.cap = cap
    b.heap = False


cdef inline void buf_free(Buffer *b) noexcept:
    if b.heap:
        PyMem_Free(b.data)
        b.heap = False


cdef inline int buf_grow(Buffer *b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need = b.len + extra
    cdef Py_ssize_t cap = b.cap * 2
    cdef char *new
    if cap < need:
        cap = need
    if b.heap:
        new = <char *>PyMem_Realloc(b.data, cap)
        if new == NULL:
            raise MemoryError()
    else:
        new = <char *>PyMem_Malloc(cap)
        if new == NULL:
            raise MemoryError()
        memcpy(new, b.data, b.len)
        b.heap = True
    b.data = new
    b.cap = cap
    return 0


cdef inline int buf_reserve(Buffer *b, Py_ssize_t extra) except -1:
    if b.len + extra > b.cap:
        buf_grow(b, extra)
    return 0


cdef inline int buf_put(Buffer *b, const char *s, Py_ssize_t n) except -1:
    if b.len + n > b.cap:
        buf_grow(b, n)
    memcpy(b.data + b.len, s, n)
    b.len += n
    return 0
