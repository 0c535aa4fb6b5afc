/* The inner loop of camscan's capture reader (capfile.py), in C.

   It walks packet records that lie whole in a buffer, counts them (packets, records cut by the
   snap length, earliest and latest time stamp) and stops at the first record the prefilter
   wants, or at anything it does not handle (a record crossing the buffer's end, a huge or
   damaged one, another pcapng block type), which the Python reader then reads as before. So
   irrelevant packets cost no Python call, in one pass over the file: libpcap's filter hides
   the records it drops, so counting them took libpcap a second pass (benchmarks/pcap.py).

   The prefilter arrives as bitmaps (Prefilter.bitmaps: UDP ports, ethertypes, TCP source
   ports, first bytes of a TCP payload) and is the same test as Prefilter.wants, byte for byte;
   tests/passive/test_recwalk.py compares the two frame by frame. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FRAME 262144u
#define MAP_BYTES 8192 /* one bit per 16-bit value */
#define FILTER_BYTES (3 * MAP_BYTES + 32)

static inline int bit(const unsigned char *map, unsigned v) { return map[v >> 3] >> (v & 7) & 1; }

static inline uint32_t u32(const unsigned char *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* Prefilter.wants on the Ethernet frame f[0:n]. */
static int wants(const unsigned char *flt, int tcp_all, const unsigned char *f, size_t n)
{
    const unsigned char *udp = flt, *eth = flt + MAP_BYTES, *tports = flt + 2 * MAP_BYTES,
                        *first = flt + 3 * MAP_BYTES;
    if (n < 14)
        return 0;
    if (f[12] != 8 || f[13] != 0)
        return bit(eth, (unsigned)f[12] << 8 | f[13]);
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
    size_t l4 = 14 + (size_t)(f[14] & 0x0F) * 4;
    if (n < l4 + 14)
        return 0;
    size_t pay = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
    return (f[l4 + 13] & 0x07) || bit(tports, (unsigned)f[l4] << 8 | f[l4 + 1]) ||
           (n > pay && bit(first, f[pay]));
}

typedef struct {
    Py_ssize_t count, cut;
    double tmin, tmax;
} Tally;

static inline void note(Tally *t, double ts, uint32_t caplen, uint32_t origlen)
{
    if (t->count == 0 || ts < t->tmin)
        t->tmin = ts;
    if (t->count == 0 || ts > t->tmax)
        t->tmax = ts;
    t->count++;
    if (caplen < origlen)
        t->cut++;
}

static PyObject *result(Py_ssize_t pos, int wanted, const Tally *t)
{
    return Py_BuildValue("(nnnndd)", pos, (Py_ssize_t)wanted, t->count, t->cut, t->tmin, t->tmax);
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
             "pcap(buf, pos, big_endian, unit, filter, tcp_all) -> (pos, wanted, packets, cut, "
             "tmin, tmax)\n\nWalk pcap records whole in buf from pos; stop at a wanted one "
             "(counted, pos at its header) or at one to read in Python (not counted).");

static PyObject *walk_pcap(PyObject *self, PyObject *args)
{
    Py_buffer b, flt = {0};
    Py_ssize_t pos;
    int big, tcp_all;
    double unit;
    if (!PyArg_ParseTuple(args, "y*npdz*p", &b, &pos, &big, &unit, &flt, &tcp_all))
        return NULL;
    if (check_filter(&flt) < 0 || pos < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "negative position");
        PyBuffer_Release(&b);
        PyBuffer_Release(&flt);
        return NULL;
    }
    const unsigned char *buf = b.buf, *fl = flt.buf;
    size_t n = (size_t)b.len, p = (size_t)pos;
    Tally t = {0, 0, 0.0, 0.0};
    int wanted = 0;
    while (p + 16 <= n) {
        const unsigned char *h = buf + p;
        uint32_t caplen = u32(h + 8, big);
        if (caplen > MAX_FRAME || n - p - 16 < caplen)
            break;
        note(&t, (double)u32(h, big) + (double)u32(h + 4, big) * unit, caplen, u32(h + 12, big));
        if (fl == NULL || wants(fl, tcp_all, h + 16, caplen)) {
            wanted = 1;
            break;
        }
        p += 16 + (size_t)caplen;
    }
    PyBuffer_Release(&b);
    PyBuffer_Release(&flt);
    return result((Py_ssize_t)p, wanted, &t);
}

PyDoc_STRVAR(epb_doc,
             "epb(buf, pos, big_endian, units, ethernet, filter, tcp_all) -> (pos, wanted, "
             "packets, cut, tmin, tmax)\n\nThe same over pcapng enhanced packet blocks; units "
             "holds each interface's seconds per tick (doubles), ethernet a byte per interface "
             "(1: the filter applies).");

static PyObject *walk_epb(PyObject *self, PyObject *args)
{
    Py_buffer b, units, eth, flt = {0};
    Py_ssize_t pos;
    int big, tcp_all;
    if (!PyArg_ParseTuple(args, "y*npy*y*z*p", &b, &pos, &big, &units, &eth, &flt, &tcp_all))
        return NULL;
    PyObject *out = NULL;
    if (check_filter(&flt) < 0)
        goto done;
    if (pos < 0 || units.len != eth.len * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "bad position or interface table");
        goto done;
    }
    const unsigned char *buf = b.buf, *fl = flt.buf, *ethernet = eth.buf;
    size_t n = (size_t)b.len, p = (size_t)pos, nif = (size_t)eth.len;
    Tally t = {0, 0, 0.0, 0.0};
    int wanted = 0;
    while (p + 32 <= n) {
        const unsigned char *h = buf + p;
        uint32_t btype = u32(h, big), blen = u32(h + 4, big);
        if (btype != 6 || blen < 32 || n - p < blen)
            break;
        uint32_t iface = u32(h + 8, big), caplen = u32(h + 20, big);
        if (iface >= nif || caplen > blen - 32 || caplen > MAX_FRAME)
            break;
        double unit;
        memcpy(&unit, (const char *)units.buf + iface * sizeof(double), sizeof unit);
        uint64_t ticks = (uint64_t)u32(h + 12, big) << 32 | u32(h + 16, big);
        note(&t, (double)ticks * unit, caplen, u32(h + 24, big));
        if (fl == NULL || !ethernet[iface] || wants(fl, tcp_all, h + 28, caplen)) {
            wanted = 1;
            break;
        }
        p += blen;
    }
    out = result((Py_ssize_t)p, wanted, &t);
done:
    PyBuffer_Release(&b);
    PyBuffer_Release(&units);
    PyBuffer_Release(&eth);
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
    PyModuleDef_HEAD_INIT, "_recwalk", "The capture reader's record walk, in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__recwalk(void) { return PyModule_Create(&module); }
