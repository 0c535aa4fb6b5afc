/* The inner loop of camscan's capture reader (capfile.py), in C.

   It walks packet records that lie whole in a buffer, counts them (packets, records cut by the
   snap length, earliest and latest time stamp) and stops at the first record the prefilter
   wants, or at anything it does not handle (a record crossing the buffer's end, a huge or
   damaged one, another pcapng block type), which the Python reader then reads as before. So
   irrelevant packets cost no Python call, in one pass over the file: libpcap's filter hides
   the records it drops, so counting them took libpcap a second pass (benchmarks/pcap.py).

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
   hearing.py builds it (_udp_key, _arp_key): IPv4 UDP b"u" + TTL + source address + source
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
    if (repeats == Py_None)
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

static int check_repeats(PyObject *repeats, PyObject *counts)
{
    if (repeats != Py_None && (!PyDict_Check(repeats) || !PyDict_Check(counts))) {
        PyErr_SetString(PyExc_TypeError, "repeats and counts must be dicts (or repeats None)");
        return -1;
    }
    return 0;
}

/* (next position, time stamp, link type, frame) for a wanted record; (position, 0.0, 0, None)
   where Python reads on. */
static PyObject *result(size_t pos, double ts, long link, const unsigned char *frame, size_t len)
{
    if (frame == NULL)
        return Py_BuildValue("(ndlO)", (Py_ssize_t)pos, 0.0, 0L, Py_None);
    return Py_BuildValue("(ndly#)", (Py_ssize_t)pos, ts, link, (const char *)frame, (Py_ssize_t)len);
}

static int check_filter(const Py_buffer *flt)
{
    if (flt->buf != NULL && flt->len != FILTER_BYTES) {
        PyErr_SetString(PyExc_ValueError, "filter bitmaps have the wrong size");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(pcap_doc,
             "pcap(buf, pos, big_endian, unit, link, filter, tcp_all, tally, repeats=None, "
             "counts=None) -> (pos, ts, link, frame)\n\nWalk pcap records whole in buf from "
             "pos, counting each into tally; return the first one the filter wants and repeats "
             "does not hold (frame bytes, pos after it), or stop where Python must read on "
             "(frame None, pos at that record, not counted).");

static PyObject *walk_pcap(PyObject *self, PyObject *args)
{
    Py_buffer b, flt = {0};
    Py_ssize_t pos;
    int big, tcp_all;
    long link;
    double unit;
    Tally *t;
    PyObject *repeats = Py_None, *counts = Py_None;
    if (!PyArg_ParseTuple(args, "y*npdlz*pO!|OO", &b, &pos, &big, &unit, &link, &flt, &tcp_all,
                          &TallyType, &t, &repeats, &counts))
        return NULL;
    PyObject *out = NULL;
    if (check_filter(&flt) < 0 || check_repeats(repeats, counts) < 0)
        goto done;
    if (pos < 0) {
        PyErr_SetString(PyExc_ValueError, "negative position");
        goto done;
    }
    const unsigned char *buf = b.buf, *fl = flt.buf;
    size_t n = (size_t)b.len, p = (size_t)pos;
    while (p + 16 <= n) {
        const unsigned char *h = buf + p;
        uint32_t caplen = u32(h + 8, big);
        if (caplen > MAX_FRAME || n - p - 16 < caplen)
            break;
        double ts = (double)u32(h, big) + (double)u32(h + 4, big) * unit;
        note(t, ts, caplen, u32(h + 12, big));
        p += 16 + (size_t)caplen;
        if (fl == NULL || wants(fl, tcp_all, h + 16, caplen)) {
            int r = link == 1 ? repeated(repeats, counts, t, h + 16, caplen) : 0;
            if (r < 0)
                goto done;
            if (r == 0) {
                out = result(p, ts, link, h + 16, caplen);
                goto done;
            }
        }
    }
    out = result(p, 0.0, 0, NULL, 0);
done:
    PyBuffer_Release(&b);
    PyBuffer_Release(&flt);
    return out;
}

PyDoc_STRVAR(epb_doc,
             "epb(buf, pos, big_endian, units, links, filter, tcp_all, tally, repeats=None, "
             "counts=None) -> (pos, ts, link, frame)\n\nThe same over pcapng enhanced packet blocks; units holds each "
             "interface's seconds per tick (doubles), links its link type (native int32); the "
             "filter applies to Ethernet (1) interfaces.");

static PyObject *walk_epb(PyObject *self, PyObject *args)
{
    Py_buffer b, units, links, flt = {0};
    Py_ssize_t pos;
    int big, tcp_all;
    Tally *t;
    PyObject *repeats = Py_None, *counts = Py_None;
    if (!PyArg_ParseTuple(args, "y*npy*y*z*pO!|OO", &b, &pos, &big, &units, &links, &flt,
                          &tcp_all, &TallyType, &t, &repeats, &counts))
        return NULL;
    PyObject *out = NULL;
    if (check_filter(&flt) < 0 || check_repeats(repeats, counts) < 0)
        goto done;
    if (pos < 0 || units.len % (Py_ssize_t)sizeof(double) ||
        links.len / (Py_ssize_t)sizeof(int32_t) != units.len / (Py_ssize_t)sizeof(double) ||
        links.len % (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "bad position or interface table");
        goto done;
    }
    const unsigned char *buf = b.buf, *fl = flt.buf;
    size_t n = (size_t)b.len, p = (size_t)pos, nif = (size_t)units.len / sizeof(double);
    while (p + 32 <= n) {
        const unsigned char *h = buf + p;
        uint32_t btype = u32(h, big), blen = u32(h + 4, big);
        if (btype != 6 || blen < 32 || n - p < blen)
            break;
        uint32_t iface = u32(h + 8, big), caplen = u32(h + 20, big);
        if (iface >= nif || caplen > blen - 32 || caplen > MAX_FRAME)
            break;
        double unit;
        int32_t link;
        memcpy(&unit, (const char *)units.buf + iface * sizeof unit, sizeof unit);
        memcpy(&link, (const char *)links.buf + iface * sizeof link, sizeof link);
        uint64_t ticks = (uint64_t)u32(h + 12, big) << 32 | u32(h + 16, big);
        double ts = (double)ticks * unit;
        note(t, ts, caplen, u32(h + 24, big));
        p += blen;
        if (fl == NULL || link != 1 || wants(fl, tcp_all, h + 28, caplen)) {
            int r = link == 1 ? repeated(repeats, counts, t, h + 28, caplen) : 0;
            if (r < 0)
                goto done;
            if (r == 0) {
                out = result(p, ts, link, h + 28, caplen);
                goto done;
            }
        }
    }
    out = result(p, 0.0, 0, NULL, 0);
done:
    PyBuffer_Release(&b);
    PyBuffer_Release(&units);
    PyBuffer_Release(&links);
    PyBuffer_Release(&flt);
    return out;
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
    if (PyType_Ready(&TallyType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TallyType);
    if (PyModule_AddObject(m, "Tally", (PyObject *)&TallyType) < 0) {
        Py_DECREF(&TallyType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
