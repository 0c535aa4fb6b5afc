/* The inner loop of camscan's capture reader (capfile.py), in C.

   A walk (pcap() or epb()) is an iterator over the packet records that lie whole in a buffer:
   it counts every record (packets, records cut by the snap length, earliest and latest time
   stamp) and yields only those the prefilter wants, stopping at anything it does not handle (a
   record crossing the buffer's end, a huge or damaged one, another pcapng block type), which
   the Python reader then reads as before. So irrelevant packets cost no Python call, in one
   pass over the file: libpcap's filter hides the records it drops, so counting them took
   libpcap a second pass (benchmarks/pcap.py). The walk reads the prefilter's state itself
   before each record it yields (the decoder widens and narrows it as it reads).

   The prefilter arrives as bitmaps (Prefilter.bitmaps: UDP ports, ethertypes, TCP source
   ports, first bytes of a TCP payload, IPv6 extension headers) and is the same test as
   Prefilter.wants, byte for byte;
   tests/passive/test_recwalk.py compares the two frame by frame.

   Devices repeat themselves (an SSDP NOTIFY every few seconds, DHIP and SADP announcements,
   ARP), and the decoder reads a repeat only to count it. So the walk also takes the decoder's
   table of what it has read (Hearing._repeats: key -> protocol), builds a wanted frame's key
   the way hearing.py builds it, and counts a frame found there under its protocol instead of
   handing it over. Only keys the decoder put there are found, so the walk never judges a
   frame the decoder has not judged the same way before. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_FRAME 262144u
#define MAP_BYTES 8192 /* one bit per 16-bit value */
#define FILTER_BYTES (3 * MAP_BYTES + 64)
#define ETH_IPV6 0x86DD

static inline int bit(const unsigned char *map, unsigned v) { return map[v >> 3] >> (v & 7) & 1; }

static inline uint32_t u32(const unsigned char *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The TCP rule of Prefilter.wants on a TCP header at f[l4:], the frame ending at n. */
static int wants_tcp(const unsigned char *flt, const unsigned char *f, size_t l4, size_t n)
{
    const unsigned char *tports = flt + 2 * MAP_BYTES, *first = flt + 3 * MAP_BYTES;
    if (n < l4 + 14)
        return 0;
    size_t pay = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
    return (f[l4 + 13] & 0x12) == 0x12 || bit(tports, (unsigned)f[l4] << 8 | f[l4 + 1]) ||
           (n > pay && bit(first, f[pay]));
}

/* Prefilter._wants_ipv6: UDP and TCP right after the fixed header; extension headers kept. */
static int wants_ipv6(const unsigned char *flt, int tcp_all, const unsigned char *f, size_t n)
{
    const unsigned char *udp = flt, *ext = flt + 3 * MAP_BYTES + 32;
    if (n < 21)
        return 0;
    unsigned nxt = f[20];
    if (nxt == 17)
        return n >= 58 && (bit(udp, (unsigned)f[54] << 8 | f[55]) || bit(udp, (unsigned)f[56] << 8 | f[57]));
    if (nxt == 6)
        return tcp_all || wants_tcp(flt, f, 54, n);
    return bit(ext, nxt);
}

/* Prefilter.wants on the Ethernet frame f[0:n]. */
static int wants(const unsigned char *flt, int tcp_all, const unsigned char *f, size_t n)
{
    const unsigned char *udp = flt, *eth = flt + MAP_BYTES;
    if (n < 14)
        return 0;
    if (f[12] != 8 || f[13] != 0) {
        unsigned etype = (unsigned)f[12] << 8 | f[13];
        if (etype == ETH_IPV6 && bit(eth, etype))
            return wants_ipv6(flt, tcp_all, f, n);
        return bit(eth, etype);
    }
    if (n < 24)
        return 0;
    unsigned proto = f[23];
    if ((f[20] & 0x3F) || f[21])
        return proto == 17;
    if (proto == 17)
        return n >= 38 && (bit(udp, (unsigned)f[34] << 8 | f[35]) || bit(udp, (unsigned)f[36] << 8 | f[37]));
    if (proto != 6)
        return 0;
    if (tcp_all)
        return 1;
    return wants_tcp(flt, f, 14 + (size_t)(f[14] & 0x0F) * 4, n);
}

/* What the walks counted, kept between calls: capfile adds it to the file's report. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t packets, cut, repeats;
    double tmin, tmax;
} Tally;

static PyMemberDef tally_members[] = {
    {"packets", T_PYSSIZET, offsetof(Tally, packets), 0, "records walked"},
    {"cut", T_PYSSIZET, offsetof(Tally, cut), 0, "records shorter than the frame on the wire"},
    {"repeats", T_PYSSIZET, offsetof(Tally, repeats), 0,
     "wanted records found in the decoder's repeats (counted, not handed over)"},
    {"tmin", T_DOUBLE, offsetof(Tally, tmin), 0, "earliest time stamp (when packets > 0)"},
    {"tmax", T_DOUBLE, offsetof(Tally, tmax), 0, "latest time stamp (when packets > 0)"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject TallyType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "camscan.passive._recwalk.Tally",
    .tp_basicsize = sizeof(Tally),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Records walked: packets, cut, repeats, tmin, tmax (all writable, to reset).",
    .tp_new = PyType_GenericNew,
    .tp_members = tally_members,
};

static inline void note(Tally *t, double ts, uint32_t caplen, uint32_t origlen)
{
    if (t->packets == 0 || ts < t->tmin)
        t->tmin = ts;
    if (t->packets == 0 || ts > t->tmax)
        t->tmax = ts;
    t->packets++;
    if (caplen < origlen)
        t->cut++;
}

/* The decoder's key for an untagged Ethernet frame it would only count if read again, as
   hearing.py's _udp_packet and _arp build it: IPv4 UDP b"u" + TTL + source address + source
   MAC + the datagram from its header to the IP length's end; ARP b"a" + opcode, sender MAC
   and sender address. NULL without an error when the frame has no such key. */
static PyObject *repeat_key(const unsigned char *f, size_t n)
{
    if (n < 14 || f[12] != 8)
        return NULL;
    if (f[13] == 6) {
        static const unsigned char arp[6] = {0, 1, 8, 0, 6, 4};
        if (n < 42 || memcmp(f + 14, arp, sizeof arp) != 0)
            return NULL;
        PyObject *key = PyBytes_FromStringAndSize(NULL, 13);
        if (key != NULL) {
            char *k = PyBytes_AS_STRING(key);
            k[0] = 'a';
            memcpy(k + 1, f + 20, 12);
        }
        return key;
    }
    if (f[13] != 0 || n < 34 || f[23] != 17 || (f[20] & 0x3F) || f[21])
        return NULL;
    size_t l4 = 14 + (size_t)(f[14] & 0x0F) * 4, end = 14 + ((size_t)f[16] << 8 | f[17]);
    if (end > n)
        end = n;
    if (end < l4 + 8)
        return NULL;
    PyObject *key = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(12 + end - l4));
    if (key != NULL) {
        char *k = PyBytes_AS_STRING(key);
        k[0] = 'u';
        k[1] = (char)f[22];
        memcpy(k + 2, f + 26, 4);
        memcpy(k + 6, f + 6, 6);
        memcpy(k + 12, f + l4, end - l4);
    }
    return key;
}

/* 1 when the frame is in `repeats` (and then counted under its protocol in `counts` unless
   that is ""), 0 when not, -1 on an error. */
static int repeated(PyObject *repeats, PyObject *counts, Tally *t, const unsigned char *f, size_t n)
{
    if (repeats == NULL || repeats == Py_None) /* no prefilter, or no decoder's table */
        return 0;
    PyObject *key = repeat_key(f, n);
    if (key == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *name = PyDict_GetItemWithError(repeats, key); /* borrowed */
    Py_DECREF(key);
    if (name == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (PyUnicode_Check(name) && PyUnicode_GET_LENGTH(name) > 0) {
        Py_INCREF(name);
        PyObject *old = PyDict_GetItemWithError(counts, name);
        long long v = 0;
        if (old != NULL)
            v = PyLong_AsLongLong(old);
        PyObject *new = (old == NULL && PyErr_Occurred()) || (v == -1 && PyErr_Occurred())
                            ? NULL
                            : PyLong_FromLongLong(v + 1);
        int bad = new == NULL || PyDict_SetItem(counts, name, new) < 0;
        Py_XDECREF(new);
        Py_DECREF(name);
        if (bad)
            return -1;
    }
    t->repeats++;
    return 1;
}

static int check_filter(const Py_buffer *flt)
{
    if (flt->buf != NULL && flt->len != FILTER_BYTES) {
        PyErr_SetString(PyExc_ValueError, "filter bitmaps have the wrong size");
        return -1;
    }
    return 0;
}

/* One walk over pcap records or pcapng enhanced packet blocks lying whole in a buffer. */
typedef struct {
    PyObject_HEAD
    Py_buffer b;       /* the buffer walked */
    Py_ssize_t pos;    /* where the next record starts */
    int epb, big;
    double unit;       /* pcap: seconds per time stamp fraction */
    long link;         /* pcap: the file's link type */
    Py_buffer units;   /* pcapng: each interface's seconds per tick (doubles) */
    Py_buffer links;   /* pcapng: each interface's link type (native int32) */
    PyObject *pf;      /* the Prefilter, or NULL: every record is wanted */
    PyObject *gen;     /* pf.generation when flt was fetched */
    Py_buffer flt;     /* pf.bitmaps() of that generation */
    PyObject *repeats; /* pf.repeats (a dict, or None) */
    PyObject *counts;  /* pf.counts */
    Tally *t;
} Walk;

static PyObject *s_generation, *s_bitmaps, *s_tcp_all, *s_repeats, *s_counts;

static int fetch_filter(Walk *w)
{
    PyObject *gen = PyObject_GetAttr(w->pf, s_generation);
    if (gen == NULL)
        return -1;
    int same = w->gen != NULL ? PyObject_RichCompareBool(gen, w->gen, Py_EQ) : 0;
    if (same != 0) {
        Py_DECREF(gen);
        return same < 0 ? -1 : 0;
    }
    PyObject *flt = PyObject_CallMethodNoArgs(w->pf, s_bitmaps);
    Py_buffer view;
    if (flt == NULL || PyObject_GetBuffer(flt, &view, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(flt);
        Py_DECREF(gen);
        return -1;
    }
    Py_DECREF(flt); /* the view holds it */
    if (check_filter(&view) < 0) {
        PyBuffer_Release(&view);
        Py_DECREF(gen);
        return -1;
    }
    PyBuffer_Release(&w->flt);
    Py_XSETREF(w->gen, gen);
    w->flt = view;
    return 0;
}

static PyObject *walk_next(Walk *w)
{
    const unsigned char *fl = NULL;
    int tcp_all = 0;
    if (w->pf != NULL) {
        if (fetch_filter(w) < 0)
            return NULL;
        PyObject *ta = PyObject_GetAttr(w->pf, s_tcp_all);
        if (ta == NULL)
            return NULL;
        tcp_all = PyObject_IsTrue(ta);
        Py_DECREF(ta);
        if (tcp_all < 0)
            return NULL;
        fl = w->flt.buf;
    }
    const unsigned char *buf = w->b.buf;
    size_t n = (size_t)w->b.len, p = (size_t)w->pos;
    if (!w->epb) {
        while (p + 16 <= n) {
            const unsigned char *h = buf + p;
            uint32_t caplen = u32(h + 8, w->big);
            if (caplen > MAX_FRAME || n - p - 16 < caplen)
                break;
            double ts = (double)u32(h, w->big) + (double)u32(h + 4, w->big) * w->unit;
            note(w->t, ts, caplen, u32(h + 12, w->big));
            p += 16 + (size_t)caplen;
            w->pos = (Py_ssize_t)p;
            if (fl == NULL || wants(fl, tcp_all, h + 16, caplen)) {
                int r = w->link == 1 ? repeated(w->repeats, w->counts, w->t, h + 16, caplen) : 0;
                if (r < 0)
                    return NULL;
                if (r == 0)
                    return Py_BuildValue("(dly#)", ts, w->link, (const char *)h + 16,
                                         (Py_ssize_t)caplen);
            }
        }
        return NULL; /* StopIteration: Python reads on from pos */
    }
    size_t nif = (size_t)w->units.len / sizeof(double);
    while (p + 32 <= n) {
        const unsigned char *h = buf + p;
        uint32_t btype = u32(h, w->big), blen = u32(h + 4, w->big);
        if (btype != 6 || blen < 32 || n - p < blen)
            break;
        uint32_t iface = u32(h + 8, w->big), caplen = u32(h + 20, w->big);
        if (iface >= nif || caplen > blen - 32 || caplen > MAX_FRAME)
            break;
        double unit;
        int32_t link;
        memcpy(&unit, (const char *)w->units.buf + iface * sizeof unit, sizeof unit);
        memcpy(&link, (const char *)w->links.buf + iface * sizeof link, sizeof link);
        uint64_t ticks = (uint64_t)u32(h + 12, w->big) << 32 | u32(h + 16, w->big);
        double ts = (double)ticks * unit;
        note(w->t, ts, caplen, u32(h + 24, w->big));
        p += blen;
        w->pos = (Py_ssize_t)p;
        if (fl == NULL || link != 1 || wants(fl, tcp_all, h + 28, caplen)) {
            int r = link == 1 ? repeated(w->repeats, w->counts, w->t, h + 28, caplen) : 0;
            if (r < 0)
                return NULL;
            if (r == 0)
                return Py_BuildValue("(dly#)", ts, (long)link, (const char *)h + 28,
                                     (Py_ssize_t)caplen);
        }
    }
    return NULL;
}

static void walk_dealloc(Walk *w)
{
    /* A view never taken holds no object: releasing it does nothing (see view()). */
    PyBuffer_Release(&w->b);
    PyBuffer_Release(&w->units);
    PyBuffer_Release(&w->links);
    PyBuffer_Release(&w->flt);
    Py_XDECREF(w->gen);
    Py_XDECREF(w->pf);
    Py_XDECREF(w->repeats);
    Py_XDECREF(w->counts);
    Py_XDECREF(w->t);
    Py_TYPE(w)->tp_free((PyObject *)w);
}

static PyMemberDef walk_members[] = {
    {"pos", T_PYSSIZET, offsetof(Walk, pos), READONLY,
     "where the next record starts: after the last one walked"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject WalkType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "camscan.passive._recwalk.Walk",
    .tp_basicsize = sizeof(Walk),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Iterator of (time stamp, link type, frame) over the wanted records; made by "
              "pcap() or epb().",
    .tp_dealloc = (destructor)walk_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)walk_next,
    .tp_members = walk_members,
};

/* The prefilter's tables, or none; the decoder's repeats and counts come with it. */
static int take_prefilter(Walk *w, PyObject *pf)
{
    if (pf == Py_None)
        return 0;
    Py_INCREF(pf);
    w->pf = pf;
    w->repeats = PyObject_GetAttr(pf, s_repeats);
    w->counts = w->repeats != NULL ? PyObject_GetAttr(pf, s_counts) : NULL;
    if (w->counts == NULL || fetch_filter(w) < 0)
        return -1;
    if (w->repeats != Py_None && (!PyDict_Check(w->repeats) || !PyDict_Check(w->counts))) {
        PyErr_SetString(PyExc_TypeError, "repeats and counts must be dicts (or repeats None)");
        return -1;
    }
    return 0;
}

/* A view of o's bytes, or -1 with an error; a failed view holds no object, so that the
   walk's dealloc may release every view, taken or not. */
static int view(PyObject *o, Py_buffer *v)
{
    if (PyObject_GetBuffer(o, v, PyBUF_SIMPLE) == 0)
        return 0;
    v->obj = NULL;
    return -1;
}

/* A walk over buf from pos, counting into tally; the caller adds its record layout. */
static Walk *new_walk(PyObject *buf, Py_ssize_t pos, int big, PyObject *tally)
{
    if (!PyObject_TypeCheck(tally, &TallyType)) {
        PyErr_SetString(PyExc_TypeError, "tally must be a Tally");
        return NULL;
    }
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        return NULL;
    }
    Walk *w = PyObject_New(Walk, &WalkType);
    if (w == NULL)
        return NULL;
    memset((char *)w + sizeof(PyObject), 0, sizeof(Walk) - sizeof(PyObject));
    Py_INCREF(tally);
    w->t = (Tally *)tally;
    w->pos = pos, w->big = big;
    if (view(buf, &w->b) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    return w;
}

PyDoc_STRVAR(pcap_doc,
             "pcap(buf, pos, big_endian, unit, link, prefilter, tally) -> Walk\n\nIterate the "
             "pcap records whole in buf from pos, counting each into tally, yielding (ts, link, "
             "frame) for those the prefilter (None: every record) wants and the decoder's "
             "repeats do not hold; it stops where Python must read on (a record crossing the "
             "buffer's end, a huge or damaged one), its pos there.");

static PyObject *walk_pcap(PyObject *self, PyObject *args)
{
    PyObject *bufobj, *pf, *tally;
    Py_ssize_t pos;
    int big;
    double unit;
    long link;
    if (!PyArg_ParseTuple(args, "OnpdlOO", &bufobj, &pos, &big, &unit, &link, &pf, &tally))
        return NULL;
    Walk *w = new_walk(bufobj, pos, big, tally);
    if (w == NULL)
        return NULL;
    w->unit = unit, w->link = link;
    if (take_prefilter(w, link == 1 ? pf : Py_None) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    return (PyObject *)w;
}

PyDoc_STRVAR(epb_doc,
             "epb(buf, pos, big_endian, units, links, prefilter, tally) -> Walk\n\nThe same over "
             "pcapng enhanced packet blocks; units holds each interface's seconds per tick "
             "(doubles), links its link type (native int32); the prefilter applies to Ethernet "
             "(1) interfaces.");

static PyObject *walk_epb(PyObject *self, PyObject *args)
{
    PyObject *bufobj, *units, *links, *pf, *tally;
    Py_ssize_t pos;
    int big;
    if (!PyArg_ParseTuple(args, "OnpOOOO", &bufobj, &pos, &big, &units, &links, &pf, &tally))
        return NULL;
    Walk *w = new_walk(bufobj, pos, big, tally);
    if (w == NULL)
        return NULL;
    w->epb = 1;
    if (view(units, &w->units) < 0 || view(links, &w->links) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    if (w->units.len % (Py_ssize_t)sizeof(double) || w->links.len % (Py_ssize_t)sizeof(int32_t) ||
        w->links.len / (Py_ssize_t)sizeof(int32_t) != w->units.len / (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "bad interface table");
        Py_DECREF(w);
        return NULL;
    }
    if (take_prefilter(w, pf) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    return (PyObject *)w;
}

PyDoc_STRVAR(wants_doc, "wants(frame, filter, tcp_all) -> bool: Prefilter.wants in C.");

static PyObject *wants_py(PyObject *self, PyObject *args)
{
    Py_buffer f, flt;
    int tcp_all;
    if (!PyArg_ParseTuple(args, "y*y*p", &f, &flt, &tcp_all))
        return NULL;
    PyObject *out = NULL;
    if (check_filter(&flt) == 0)
        out = PyBool_FromLong(wants(flt.buf, tcp_all, f.buf, (size_t)f.len));
    PyBuffer_Release(&f);
    PyBuffer_Release(&flt);
    return out;
}

static PyMethodDef methods[] = {
    {"pcap", walk_pcap, METH_VARARGS, pcap_doc},
    {"epb", walk_epb, METH_VARARGS, epb_doc},
    {"wants", wants_py, METH_VARARGS, wants_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_recwalk", .m_doc = "The capture reader's record walk, in C.",
    .m_size = -1, .m_methods = methods,
};

PyMODINIT_FUNC PyInit__recwalk(void)
{
    if (PyType_Ready(&TallyType) < 0 || PyType_Ready(&WalkType) < 0)
        return NULL;
    s_generation = PyUnicode_InternFromString("generation");
    s_bitmaps = PyUnicode_InternFromString("bitmaps");
    s_tcp_all = PyUnicode_InternFromString("tcp_all");
    s_repeats = PyUnicode_InternFromString("repeats");
    s_counts = PyUnicode_InternFromString("counts");
    if (!s_generation || !s_bitmaps || !s_tcp_all || !s_repeats || !s_counts)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Tally", (PyObject *)&TallyType) < 0 ||
        PyModule_AddObjectRef(m, "Walk", (PyObject *)&WalkType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
