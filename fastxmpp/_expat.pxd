# Declarations of the expat API as pyexpat exports it in its C API capsule
# (CPython Include/pyexpat.h).  Written out here so that building needs no
# expat headers and no libexpat: every call goes through the capsule.

cdef extern from *:
    """
    typedef void *FX_XML_Parser;
    typedef void (*FX_StartElementHandler)(void *, const char *, const char **);
    typedef void (*FX_EndElementHandler)(void *, const char *);
    typedef void (*FX_CharacterDataHandler)(void *, const char *, int);
    typedef void (*FX_CommentHandler)(void *, const char *);
    typedef void (*FX_ProcessingInstructionHandler)(void *, const char *, const char *);
    typedef void (*FX_StartNamespaceDeclHandler)(void *, const char *, const char *);
    typedef void (*FX_EndNamespaceDeclHandler)(void *, const char *);
    typedef void (*FX_StartDoctypeDeclHandler)(void *, const char *, const char *, const char *, int);

    struct FX_PyExpat_CAPI {
        char *magic;
        int size;
        int MAJOR_VERSION;
        int MINOR_VERSION;
        int MICRO_VERSION;
        const char *(*ErrorString)(int code);
        int (*GetErrorCode)(FX_XML_Parser parser);
        unsigned long (*GetErrorColumnNumber)(FX_XML_Parser parser);
        unsigned long (*GetErrorLineNumber)(FX_XML_Parser parser);
        int (*Parse)(FX_XML_Parser parser, const char *s, int len, int isFinal);
        FX_XML_Parser (*ParserCreate_MM)(const char *encoding, const void *memsuite,
                                         const char *namespaceSeparator);
        void (*ParserFree)(FX_XML_Parser parser);
        void (*SetCharacterDataHandler)(FX_XML_Parser parser, FX_CharacterDataHandler handler);
        void (*SetCommentHandler)(FX_XML_Parser parser, FX_CommentHandler handler);
        void (*SetDefaultHandlerExpand)(FX_XML_Parser parser, void *handler);
        void (*SetElementHandler)(FX_XML_Parser parser, FX_StartElementHandler start,
                                  FX_EndElementHandler end);
        void (*SetNamespaceDeclHandler)(FX_XML_Parser parser, FX_StartNamespaceDeclHandler start,
                                        FX_EndNamespaceDeclHandler end);
        void (*SetProcessingInstructionHandler)(FX_XML_Parser parser,
                                                FX_ProcessingInstructionHandler handler);
        void (*SetUnknownEncodingHandler)(FX_XML_Parser parser, void *handler, void *data);
        void (*SetUserData)(FX_XML_Parser parser, void *userData);
        void (*SetStartDoctypeDeclHandler)(FX_XML_Parser parser, FX_StartDoctypeDeclHandler start);
        int (*SetEncoding)(FX_XML_Parser parser, const char *encoding);
        void *DefaultUnknownEncodingHandler;
        void *SetHashSalt;
        unsigned char (*SetReparseDeferralEnabled)(FX_XML_Parser parser, unsigned char enabled);
    };
    #define FX_CAPI_MAGIC "pyexpat.expat_CAPI 1.1"
    #define FX_CAPI_MIN_SIZE ((int)offsetof(struct FX_PyExpat_CAPI, SetReparseDeferralEnabled))
    #define FX_CAPI_HAS_REPARSE(c) ((c)->size >= (int)(offsetof(struct FX_PyExpat_CAPI, SetReparseDeferralEnabled) + sizeof(void *)) && (c)->SetReparseDeferralEnabled != NULL)
    """
    ctypedef void *FX_XML_Parser
    ctypedef void (*FX_StartElementHandler)(void *, const char *, const char **) noexcept
    ctypedef void (*FX_EndElementHandler)(void *, const char *) noexcept
    ctypedef void (*FX_CharacterDataHandler)(void *, const char *, int) noexcept
    ctypedef void (*FX_CommentHandler)(void *, const char *) noexcept
    ctypedef void (*FX_ProcessingInstructionHandler)(void *, const char *, const char *) noexcept
    ctypedef void (*FX_StartNamespaceDeclHandler)(void *, const char *, const char *) noexcept
    ctypedef void (*FX_EndNamespaceDeclHandler)(void *, const char *) noexcept
    ctypedef void (*FX_StartDoctypeDeclHandler)(void *, const char *, const char *, const char *, int) noexcept

    struct FX_PyExpat_CAPI:
        char *magic
        int size
        int MAJOR_VERSION
        int MINOR_VERSION
        int MICRO_VERSION
        const char *(*ErrorString)(int code) noexcept
        int (*GetErrorCode)(FX_XML_Parser parser) noexcept
        unsigned long (*GetErrorColumnNumber)(FX_XML_Parser parser) noexcept
        unsigned long (*GetErrorLineNumber)(FX_XML_Parser parser) noexcept
        int (*Parse)(FX_XML_Parser parser, const char *s, int len, int isFinal) noexcept
        FX_XML_Parser (*ParserCreate_MM)(const char *encoding, const void *memsuite, const char *sep) noexcept
        void (*ParserFree)(FX_XML_Parser parser) noexcept
        void (*SetCharacterDataHandler)(FX_XML_Parser parser, FX_CharacterDataHandler handler) noexcept
        void (*SetCommentHandler)(FX_XML_Parser parser, FX_CommentHandler handler) noexcept
        void (*SetElementHandler)(FX_XML_Parser parser, FX_StartElementHandler start, FX_EndElementHandler end) noexcept
        void (*SetNamespaceDeclHandler)(FX_XML_Parser parser, FX_StartNamespaceDeclHandler start, FX_EndNamespaceDeclHandler end) noexcept
        void (*SetProcessingInstructionHandler)(FX_XML_Parser parser, FX_ProcessingInstructionHandler handler) noexcept
        void (*SetUserData)(FX_XML_Parser parser, void *userData) noexcept
        void (*SetStartDoctypeDeclHandler)(FX_XML_Parser parser, FX_StartDoctypeDeclHandler start) noexcept
        unsigned char (*SetReparseDeferralEnabled)(FX_XML_Parser parser, unsigned char enabled) noexcept

    const char *FX_CAPI_MAGIC
    int FX_CAPI_MIN_SIZE
    bint FX_CAPI_HAS_REPARSE(FX_PyExpat_CAPI *capi)
