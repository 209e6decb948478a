# C declaration of the element type shared by the compiled tokenizer and serializer.
cdef class Element:
    cdef public str tag
    cdef public str text
    cdef public str tail
    cdef dict _attrib      # None until an attribute is set
    cdef list _children    # None until a child is added
