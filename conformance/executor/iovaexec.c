/*
 * iovaexec — iovamap's kernel executor.
 *
 * Reads a compiled scenario (see ../README.md, "Compiled scenario format"):
 * one operation per line, and performs each one against the real VFIO uAPI of
 * the running kernel, printing one CASE line per operation (plus HEX/CAP/RANGE
 * for GET_INFO dumps and GROUP/RESV for sysfs dumps). The line formats are the
 * ones of the oracle under /work/shared/oracle (and of `iovamap run`), so the
 * same text can be produced by the model and diffed.
 *
 * Usage: iovaexec FILE [g0=GROUP] [g1=GROUP] [d0=BDF] [d1=BDF]
 *   gN: IOMMU group number bound to group slot N (from the guest init)
 *   dN: PCI address of the device in slot N (for GROUP_GET_DEVICE_FD)
 *
 * Everything printed is deterministic for a given kernel and machine: no
 * timings, no pointers (user addresses are printed relative to the
 * executor's buffers).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/vfio.h>

#define MAXSLOT 4
#define MAXEFD 16
#define BUF_ADDR 0x7f0000000000ULL /* read-write anonymous buffer: "buf+OFF" */
#define BUF_BYTES (64ULL << 20)
#define RO_ADDR 0x7f1000000000ULL /* read-only anonymous buffer: "ro+OFF" */
#define RO_BYTES (1ULL << 20)
#define PAGE 0x1000ULL

static int containers[MAXSLOT] = { -1, -1, -1, -1 };
static int groups[MAXSLOT] = { -1, -1, -1, -1 };
static int devices[MAXSLOT] = { -1, -1, -1, -1 };
static int iommufds[MAXSLOT] = { -1, -1, -1, -1 }; /* /dev/iommu (iommufd-ops.inc.c) */
static int group_nr[MAXSLOT] = { -1, -1, -1, -1 };
static const char *bdf[MAXSLOT];
static int efds[MAXEFD];
static unsigned char *rwbuf, *robuf;
static int compact;      /* "format compact" */
static uint32_t last_argsz; /* argsz_out of the previous GET_INFO */
static const char *src_file;
static int src_line;

/* ------------------------------------------------------------------ */
/* errno names (the subset the VFIO paths return, plus a numeric fallback) */
static const char *ename(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" },
		{ EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" },
		{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" },
		{ ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { EFBIG, "EFBIG" },
		{ ENOSPC, "ENOSPC" }, { ERANGE, "ERANGE" }, { EDEADLK, "EDEADLK" }, { ENOSYS, "ENOSYS" },
		{ EOVERFLOW, "EOVERFLOW" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { EADDRINUSE, "EADDRINUSE" },
		{ EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { EMSGSIZE, "EMSGSIZE" }, { EBADFD, "EBADFD" },
	};
	static char other[16];
	if (e == 0)
		return "0";
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(other, sizeof(other), "E%d", e);
	return other;
}

static void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stdout, "ERROR %s:%d: ", src_file, src_line);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	exit(2);
}

/* ------------------------------------------------------------------ */
/* key=value fields of the current line */
#define MAXF 24
static int nf;
static char *fk[MAXF], *fv[MAXF];
static int fused[MAXF];

static const char *opt(const char *k)
{
	for (int i = 0; i < nf; i++)
		if (!strcmp(fk[i], k)) {
			fused[i] = 1;
			return fv[i];
		}
	return NULL;
}

static uint64_t num(const char *s, const char *k)
{
	char *end;
	int neg = 0;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	errno = 0;
	uint64_t v = strtoull(s, &end, 0);
	if (errno || *end || end == s)
		fatal("field %s: bad number '%s'", k, s);
	return neg ? (uint64_t)(-(int64_t)v) : v;
}

static uint64_t unum(const char *k, uint64_t def)
{
	const char *v = opt(k);
	return v ? num(v, k) : def;
}

static uint64_t req(const char *k)
{
	const char *v = opt(k);
	if (!v)
		fatal("missing field %s", k);
	return num(v, k);
}

static int slot(const char *k)
{
	uint64_t s = unum(k, 0);
	if (s >= MAXSLOT)
		fatal("field %s: slot out of range", k);
	return (int)s;
}

/* vaddr=buf+OFF | ro+OFF | abs+ADDR; printed back as given (never a pointer) */
static uint64_t vaddr_of(const char *spec)
{
	const char *plus = strchr(spec, '+');
	if (!plus)
		fatal("vaddr: expected buf+OFF, ro+OFF or abs+ADDR, got '%s'", spec);
	uint64_t off = num(plus + 1, "vaddr");
	if (!strncmp(spec, "buf+", 4))
		return (uint64_t)(uintptr_t)rwbuf + off;
	if (!strncmp(spec, "ro+", 3))
		return (uint64_t)(uintptr_t)robuf + off;
	if (!strncmp(spec, "abs+", 4))
		return off;
	fatal("vaddr: unknown base in '%s'", spec);
	return 0;
}

/*
 * vaddr_off as the oracle prints it: buf offsets and absolute addresses as
 * plain hex; read-only buffer offsets as ro+0x.. (the oracle printed a pointer)
 */
static void vaddr_text(const char *spec, char *out, size_t n)
{
	if (!strncmp(spec, "buf+", 4))
		snprintf(out, n, "0x%" PRIx64, num(spec + 4, "vaddr"));
	else if (!strncmp(spec, "abs+", 4))
		snprintf(out, n, "0x%" PRIx64, num(spec + 4, "vaddr"));
	else
		snprintf(out, n, "ro+0x%" PRIx64, num(spec + 3, "vaddr"));
}

static void done_fields(const char *op)
{
	for (int i = 0; i < nf; i++)
		if (!fused[i])
			fatal("%s: unknown field '%s'", op, fk[i]);
}

/* ------------------------------------------------------------------ */
static void hexdump(const unsigned char *b, size_t n)
{
	for (size_t off = 0; off < n; off += 16) {
		printf("HEX %04zx", off);
		for (size_t i = off; i < off + 16 && i < n; i++)
			printf(" %02x", b[i]);
		putchar('\n');
	}
}

/* walk the capability chain of a GET_INFO answer (kernel layout) */
static void caps(const unsigned char *b, uint32_t len, uint32_t off)
{
	for (int guard = 0; off && guard < 32; guard++) {
		if (off + sizeof(struct vfio_info_cap_header) > len) {
			printf("CAP off=%u error=beyond_buffer len=%u\n", off, len);
			return;
		}
		const struct vfio_info_cap_header *h = (const void *)(b + off);
		printf("CAP off=%u id=%u version=%u next=%u", off, h->id, h->version, h->next);
		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
			const struct vfio_iommu_type1_info_cap_iova_range *c = (const void *)h;
			printf(" name=IOVA_RANGE nr_iovas=%u reserved=%u\n", c->nr_iovas, c->reserved);
			for (uint32_t i = 0; i < c->nr_iovas; i++) {
				if (off + sizeof(*c) + (i + 1) * sizeof(c->iova_ranges[0]) > len)
					break;
				printf("RANGE idx=%u start=0x%016" PRIx64 " end=0x%016" PRIx64 "\n", i,
				       (uint64_t)c->iova_ranges[i].start, (uint64_t)c->iova_ranges[i].end);
			}
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
			const struct vfio_iommu_type1_info_cap_migration *c = (const void *)h;
			printf(" name=MIGRATION flags=0x%x pgsize_bitmap=0x%" PRIx64 " max_dirty_bitmap_size=0x%" PRIx64 "\n",
			       c->flags, (uint64_t)c->pgsize_bitmap, (uint64_t)c->max_dirty_bitmap_size);
		} else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
			const struct vfio_iommu_type1_info_dma_avail *c = (const void *)h;
			printf(" name=DMA_AVAIL avail=%u\n", c->avail);
		} else {
			printf(" name=UNKNOWN\n");
		}
		off = h->next;
	}
}

static void caserc(const char *name, int rc, int e)
{
	printf("CASE %s rc=%d errno=%s", name, rc, ename(e));
}

/* ------------------------------------------------------------------ */
/* operations */

static void op_get_info(const char *name)
{
	int c = slot("c");
	const char *a = opt("argsz");
	uint32_t argsz = !a ? 24 : !strcmp(a, "last") ? last_argsz : (uint32_t)num(a, "argsz");
	unsigned fill = (unsigned)unum("fill", 0);
	int dump = (int)unum("dump", 0);
	done_fields("get_info");
	size_t alloc = argsz < 24 ? 24 : argsz;
	unsigned char *b = malloc(alloc);
	memset(b, fill, alloc);
	memcpy(b, &argsz, 4);
	int rc = ioctl(containers[c], VFIO_IOMMU_GET_INFO, b);
	int e = rc ? errno : 0;
	struct vfio_iommu_type1_info *i = (void *)b;
	caserc(name, rc, e);
	if (!compact)
		printf(" op=GET_INFO argsz_in=%u", argsz);
	printf(" argsz_out=%u flags=0x%x iova_pgsizes=0x%" PRIx64 " cap_offset=%u\n", i->argsz, i->flags,
	       (uint64_t)i->iova_pgsizes, i->cap_offset);
	if (!rc)
		last_argsz = i->argsz;
	if (dump && !rc) {
		uint32_t len = argsz < i->argsz ? argsz : i->argsz;
		hexdump(b, len);
		if ((i->flags & VFIO_IOMMU_INFO_CAPS) && len >= 24 && i->cap_offset)
			caps(b, len, i->cap_offset);
	}
	free(b);
}

static void op_map(const char *name)
{
	struct vfio_iommu_type1_dma_map m;
	int c = slot("c");
	const char *vs = opt("vaddr");
	char vt[64];
	memset(&m, 0, sizeof(m));
	m.argsz = (uint32_t)unum("argsz", sizeof(m));
	m.flags = (uint32_t)unum("flags", VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE);
	m.iova = req("iova");
	m.size = req("size");
	if (!vs)
		vs = "buf+0";
	m.vaddr = vaddr_of(vs);
	vaddr_text(vs, vt, sizeof(vt));
	done_fields("map");
	struct vfio_iommu_type1_dma_map in = m;
	int rc = ioctl(containers[c], VFIO_IOMMU_MAP_DMA, &m);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	if (!compact)
		printf(" op=MAP flags=0x%x iova=0x%" PRIx64 " size=0x%" PRIx64 " vaddr_off=%s out_argsz=%u out_flags=0x%x out_iova=0x%" PRIx64
		       " out_size=0x%" PRIx64,
		       in.flags, (uint64_t)in.iova, (uint64_t)in.size, vt, m.argsz, m.flags, (uint64_t)m.iova, (uint64_t)m.size);
	putchar('\n');
}

/*
 * A user dirty bitmap: bitmap=buf+OFF|ro+OFF|abs+ADDR bsize=BYTES pgsize(4096), plus fill=BYTE (memset
 * of the dumped words first; buf only) and dump=WORDS (u64 words read back after the call; buf or ro).
 */
struct ubitmap {
	const char *spec;
	uint64_t addr, pgsize, size, dump;
	int fill;
};

static void bitmap_fields(struct ubitmap *m)
{
	m->spec = opt("bitmap");
	m->pgsize = unum("pgsize", PAGE);
	m->size = unum("bsize", 0);
	m->dump = unum("dump", 0);
	const char *f = opt("fill");
	m->fill = f ? (int)(num(f, "fill") & 0xff) : -1;
	if (!m->spec)
		fatal("missing field bitmap");
	m->addr = vaddr_of(m->spec);
	int inbuf = !strncmp(m->spec, "buf+", 4), inro = !strncmp(m->spec, "ro+", 3);
	uint64_t off = num(strchr(m->spec, '+') + 1, "bitmap");
	if ((m->dump || m->fill >= 0) && !inbuf && !inro)
		fatal("bitmap: dump/fill need buf+ or ro+");
	if (m->fill >= 0 && !inbuf)
		fatal("bitmap: fill needs buf+");
	if ((inbuf || inro) && (m->dump > 64 || off + m->dump * 8 > (inbuf ? BUF_BYTES : RO_BYTES)))
		fatal("bitmap: dump beyond the buffer");
	if (m->fill >= 0)
		memset((void *)(uintptr_t)m->addr, m->fill, m->dump * 8);
}

/* " bitmap=SPEC" and, with dump, " words=w0,w1,..." */
static void bitmap_print(const struct ubitmap *m)
{
	char vt[64];
	vaddr_text(m->spec, vt, sizeof(vt));
	printf(" bitmap=%s", vt);
	if (m->dump) {
		const unsigned char *b = (const unsigned char *)(uintptr_t)m->addr;
		printf(" words=");
		for (uint64_t i = 0; i < m->dump; i++) {
			uint64_t w;
			memcpy(&w, b + i * 8, 8);
			printf("%s0x%" PRIx64, i ? "," : "", w);
		}
	}
}

static void op_unmap(const char *name)
{
	struct {
		struct vfio_iommu_type1_dma_unmap u;
		struct vfio_bitmap b;
	} a;
	struct vfio_iommu_type1_dma_unmap *u = &a.u;
	struct ubitmap m = { 0 };
	int c = slot("c");
	int with = opt("bitmap") != NULL;
	memset(&a, 0, sizeof(a));
	u->argsz = (uint32_t)unum("argsz", with ? sizeof(a) : sizeof(*u));
	u->flags = (uint32_t)unum("flags", 0);
	u->iova = unum("iova", 0);
	u->size = unum("size", 0);
	if (with) {
		bitmap_fields(&m);
		a.b.pgsize = m.pgsize;
		a.b.size = m.size;
		a.b.data = (__u64 *)(uintptr_t)m.addr;
	}
	done_fields("unmap");
	struct vfio_iommu_type1_dma_unmap in = *u;
	int rc = ioctl(containers[c], VFIO_IOMMU_UNMAP_DMA, &a);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	if (!compact)
		printf(" op=UNMAP flags=0x%x iova=0x%" PRIx64 " size=0x%" PRIx64 " out_argsz=%u out_flags=0x%x out_iova=0x%" PRIx64
		       " out_size=0x%" PRIx64,
		       in.flags, (uint64_t)in.iova, (uint64_t)in.size, u->argsz, u->flags, (uint64_t)u->iova, (uint64_t)u->size);
	else
		printf(" out_size=0x%" PRIx64, (uint64_t)u->size);
	if (with)
		bitmap_print(&m);
	putchar('\n');
}

/* VFIO_IOMMU_DIRTY_PAGES without payload: START (1), STOP (2), or any flag word */
static void op_dirty(const char *name)
{
	struct vfio_iommu_type1_dirty_bitmap d;
	int c = slot("c");
	d.argsz = (uint32_t)unum("argsz", sizeof(d));
	d.flags = (uint32_t)req("flags");
	done_fields("dirty");
	uint32_t flags = d.flags;
	int rc = ioctl(containers[c], VFIO_IOMMU_DIRTY_PAGES, &d);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=DIRTY flags=0x%x\n", flags);
}

/* VFIO_IOMMU_DIRTY_PAGES with GET_BITMAP for [iova, iova + size) */
static void op_dirty_get(const char *name)
{
	struct {
		struct vfio_iommu_type1_dirty_bitmap d;
		struct vfio_iommu_type1_dirty_bitmap_get g;
	} a;
	struct ubitmap m;
	int c = slot("c");
	memset(&a, 0, sizeof(a));
	a.d.argsz = (uint32_t)unum("argsz", sizeof(a));
	a.d.flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
	a.g.iova = req("iova");
	a.g.size = req("size");
	bitmap_fields(&m);
	a.g.bitmap.pgsize = m.pgsize;
	a.g.bitmap.size = m.size;
	a.g.bitmap.data = (__u64 *)(uintptr_t)m.addr;
	done_fields("dirty_get");
	uint64_t iova = a.g.iova, size = a.g.size;
	int rc = ioctl(containers[c], VFIO_IOMMU_DIRTY_PAGES, &a);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=DIRTY_GET iova=0x%" PRIx64 " size=0x%" PRIx64 " pgsize=0x%" PRIx64 " bsize=0x%" PRIx64, iova, size,
	       m.pgsize, m.size);
	bitmap_print(&m);
	putchar('\n');
}

/* map one page at base, base+4K, ... until the kernel refuses or max entries */
static void op_fill(const char *name)
{
	int c = slot("c");
	uint64_t base = req("base");
	uint64_t max = unum("max", 1u << 20);
	const char *vs = opt("vaddr");
	uint64_t va = vaddr_of(vs ? vs : "buf+0");
	done_fields("fill");
	uint64_t n = 0;
	int rc = 0, e = 0;
	while (n < max) {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = va,
			.iova = base + n * PAGE,
			.size = PAGE,
		};
		rc = ioctl(containers[c], VFIO_IOMMU_MAP_DMA, &m);
		if (rc) {
			e = errno;
			break;
		}
		n++;
	}
	caserc(name, rc, e);
	printf(" op=MAP_FILL base=0x%" PRIx64 " mapped_ok=%" PRIu64, base, n);
	if (rc)
		printf(" failed_at_index=%" PRIu64 "\n", n);
	else
		printf(" stopped=max\n");
}

static void op_open_container(const char *name)
{
	int c = slot("c");
	done_fields("open_container");
	if (containers[c] >= 0)
		close(containers[c]);
	containers[c] = open("/dev/vfio/vfio", O_RDWR);
	int e = containers[c] < 0 ? errno : 0;
	caserc(name, containers[c] < 0 ? -1 : 0, e);
	putchar('\n');
}

static void op_close(const char *name, int *fds, const char *k, const char *op)
{
	int s = slot(k);
	done_fields(op);
	int rc = fds[s] >= 0 ? close(fds[s]) : (errno = EBADF, -1);
	int e = rc ? errno : 0;
	fds[s] = -1;
	caserc(name, rc, e);
	putchar('\n');
}

static void op_api_version(const char *name)
{
	int c = slot("c");
	done_fields("api_version");
	int rc = ioctl(containers[c], VFIO_GET_API_VERSION);
	int e = rc < 0 ? errno : 0;
	caserc(name, rc, e);
	printf(" expected=%d\n", VFIO_API_VERSION);
}

static void op_check_ext(const char *name)
{
	int c = slot("c");
	unsigned long ext = (unsigned long)req("ext");
	done_fields("check_ext");
	int rc = ioctl(containers[c], VFIO_CHECK_EXTENSION, ext);
	int e = rc < 0 ? errno : 0;
	caserc(name, rc, e);
	printf(" ext=%lu\n", ext);
}

static void op_open_group(const char *name)
{
	int g = slot("g");
	char path[64];
	done_fields("open_group");
	if (group_nr[g] < 0)
		fatal("open_group: no group number for slot g%d (pass g%d=N)", g, g);
	snprintf(path, sizeof(path), "/dev/vfio/%d", group_nr[g]);
	if (groups[g] >= 0)
		close(groups[g]);
	groups[g] = open(path, O_RDWR);
	int e = groups[g] < 0 ? errno : 0;
	caserc(name, groups[g] < 0 ? -1 : 0, e);
	printf(" path=%s\n", path);
}

static void op_group_status(const char *name)
{
	int g = slot("g");
	uint32_t argsz = (uint32_t)unum("argsz", sizeof(struct vfio_group_status));
	done_fields("group_status");
	struct vfio_group_status st = { .argsz = argsz };
	int rc = ioctl(groups[g], VFIO_GROUP_GET_STATUS, &st);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" flags=0x%x viable=%d container_set=%d\n", st.flags, !!(st.flags & VFIO_GROUP_FLAGS_VIABLE),
	       !!(st.flags & VFIO_GROUP_FLAGS_CONTAINER_SET));
}

static void op_set_container(const char *name)
{
	int g = slot("g"), c = slot("c");
	done_fields("set_container");
	int rc = ioctl(groups[g], VFIO_GROUP_SET_CONTAINER, &containers[c]);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	putchar('\n');
}

static void op_unset_container(const char *name)
{
	int g = slot("g");
	done_fields("unset_container");
	int rc = ioctl(groups[g], VFIO_GROUP_UNSET_CONTAINER);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	putchar('\n');
}

static void op_set_iommu(const char *name)
{
	int c = slot("c");
	unsigned long type = (unsigned long)unum("type", VFIO_TYPE1v2_IOMMU);
	done_fields("set_iommu");
	int rc = ioctl(containers[c], VFIO_SET_IOMMU, type);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	putchar('\n');
}

static void op_device_fd(const char *name)
{
	int g = slot("g"), d = slot("d");
	done_fields("device_fd");
	if (!bdf[d])
		fatal("device_fd: no PCI address for slot d%d (pass d%d=BDF)", d, d);
	if (devices[d] >= 0)
		close(devices[d]);
	devices[d] = ioctl(groups[g], VFIO_GROUP_GET_DEVICE_FD, bdf[d]);
	int e = devices[d] < 0 ? errno : 0;
	caserc(name, devices[d] < 0 ? -1 : 0, e);
	printf(" bdf=%s\n", bdf[d]);
}

static void op_device_info(const char *name)
{
	int d = slot("d");
	done_fields("device_info");
	struct vfio_device_info di = { .argsz = sizeof(di) };
	int rc = ioctl(devices[d], VFIO_DEVICE_GET_INFO, &di);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" flags=0x%x num_regions=%u num_irqs=%u\n", di.flags, di.num_regions, di.num_irqs);
}

static void op_irq_info(const char *name)
{
	int d = slot("d");
	uint32_t index = (uint32_t)req("index");
	done_fields("irq_info");
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = index };
	int rc = ioctl(devices[d], VFIO_DEVICE_GET_IRQ_INFO, &ii);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" index=%u flags=0x%x count=%u\n", index, ii.flags, ii.count);
}

/*
 * region_info d index argsz(32) fill(0) dump(0): VFIO_DEVICE_GET_REGION_INFO in a buffer of
 * max(argsz, 32) bytes filled with `fill`; prints the struct as it is afterwards (the kernel copies it
 * back only on success) and, with dump, the bytes up to min(argsz_in, argsz_out) (the capability chain).
 */
static void op_region_info(const char *name)
{
	int d = slot("d");
	uint32_t index = (uint32_t)req("index");
	uint32_t argsz = (uint32_t)unum("argsz", sizeof(struct vfio_region_info));
	int fill = (int)(unum("fill", 0) & 0xff);
	int dump = (int)unum("dump", 0);
	done_fields("region_info");
	size_t len = argsz > sizeof(struct vfio_region_info) ? argsz : sizeof(struct vfio_region_info);
	if (len > 4096)
		fatal("region_info: argsz above 4096");
	unsigned char *b = malloc(len);
	memset(b, fill, len);
	struct vfio_region_info *ri = (struct vfio_region_info *)b;
	ri->argsz = argsz;
	ri->index = index;
	int rc = ioctl(devices[d], VFIO_DEVICE_GET_REGION_INFO, b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=REGION_INFO index=%u argsz_in=%u argsz_out=%u flags=0x%x cap_offset=%u size=0x%" PRIx64
	       " offset=0x%" PRIx64 "\n",
	       index, argsz, ri->argsz, ri->flags, ri->cap_offset, (uint64_t)ri->size, (uint64_t)ri->offset);
	if (dump && rc == 0)
		hexdump(b, argsz < ri->argsz ? argsz : ri->argsz);
	free(b);
}

/*
 * device_feature d flags argsz(8): VFIO_DEVICE_FEATURE with `flags` (feature index | GET 1<<16 | SET
 * 1<<17 | PROBE 1<<18) and argsz - 8 zero bytes of data after the header.
 */
static void op_device_feature(const char *name)
{
	int d = slot("d");
	uint32_t flags = (uint32_t)req("flags");
	uint32_t argsz = (uint32_t)unum("argsz", 8);
	done_fields("device_feature");
	size_t len = argsz > 8 ? argsz : 8;
	if (len > 4096)
		fatal("device_feature: argsz above 4096");
	unsigned char *b = calloc(1, len);
	memcpy(b, &argsz, 4);
	memcpy(b + 4, &flags, 4);
	int rc = ioctl(devices[d], VFIO_DEVICE_FEATURE, b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=DEVICE_FEATURE flags=0x%x argsz=%u\n", flags, argsz);
	free(b);
}

/*
 * raw_ioctl c=|g=|d=|i=SLOT cmd=N len(64): ioctl(2) with command N on that slot's fd and a zeroed buffer
 * of `len` bytes (unknown numbers, and one kind of file's commands sent to another).
 */
static void op_raw_ioctl(const char *name)
{
	const char *cs = opt("c"), *gs = opt("g"), *ds = opt("d"), *is = opt("i");
	uint32_t cmd = (uint32_t)req("cmd");
	uint32_t len = (uint32_t)unum("len", 64);
	done_fields("raw_ioctl");
	if (!!cs + !!gs + !!ds + !!is != 1)
		fatal("raw_ioctl: exactly one of c=, g=, d=, i=");
	int s = (int)num(cs ? cs : gs ? gs : ds ? ds : is, "slot");
	if (s < 0 || s >= MAXSLOT)
		fatal("raw_ioctl: slot out of range");
	if (len < 8 || len > 4096)
		fatal("raw_ioctl: len must be 8..4096");
	int fd = cs ? containers[s] : gs ? groups[s] : ds ? devices[s] : iommufds[s];
	unsigned char *b = calloc(1, len);
	int rc = ioctl(fd, cmd, b);
	int e = rc < 0 ? errno : 0;
	caserc(name, rc < 0 ? -1 : rc, e);
	printf(" op=RAW_IOCTL file=%s cmd=0x%x\n", cs ? "container" : gs ? "group" : ds ? "device" : "iommufd", cmd);
	free(b);
}

static int efd(int k)
{
	if (k < 0 || k >= MAXEFD)
		fatal("eventfd slot %d out of range", k);
	if (!efds[k])
		efds[k] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return efds[k];
}

/*
 * A file descriptor named in a field: e:K (eventfd slot K), c:N / g:N / d:N / i:N (that slot's fd, -1 when
 * it is not open), bad (1000, never open), or a plain number (negative ones included).
 */
static int32_t fdspec(const char *s, const char *k)
{
	if (!strcmp(s, "bad"))
		return 1000;
	if (s[0] && s[1] == ':') {
		int n = (int)num(s + 2, k);
		if (s[0] == 'e')
			return efd(n);
		if (n < 0 || n >= MAXSLOT)
			fatal("%s: slot %d out of range", k, n);
		if (s[0] == 'c')
			return containers[n];
		if (s[0] == 'g')
			return groups[n];
		if (s[0] == 'd')
			return devices[n];
		if (s[0] == 'i')
			return iommufds[n];
		fatal("%s: unknown fd kind in '%s'", k, s);
	}
	return (int32_t)num(s, k);
}

/*
 * hot_reset_info d argsz(12) fill(0) dump(0): VFIO_DEVICE_GET_PCI_HOT_RESET_INFO in a buffer of
 * max(argsz, 12) bytes filled with `fill` (argsz in front); prints the header as it is afterwards and,
 * with dump after a success, the bytes of the devices it counts that fit in argsz.
 */
static void op_hot_reset_info(const char *name)
{
	int d = slot("d");
	uint32_t argsz = (uint32_t)unum("argsz", sizeof(struct vfio_pci_hot_reset_info));
	int fill = (int)(unum("fill", 0) & 0xff);
	int dump = (int)unum("dump", 0);
	done_fields("hot_reset_info");
	size_t len = argsz > sizeof(struct vfio_pci_hot_reset_info) ? argsz : sizeof(struct vfio_pci_hot_reset_info);
	if (len > 4096)
		fatal("hot_reset_info: argsz above 4096");
	unsigned char *b = malloc(len);
	memset(b, fill, len);
	struct vfio_pci_hot_reset_info *h = (struct vfio_pci_hot_reset_info *)b;
	h->argsz = argsz;
	int rc = ioctl(devices[d], VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=HOT_RESET_INFO argsz_in=%u argsz_out=%u flags=0x%x count=%u\n", argsz, h->argsz, h->flags,
	       h->count);
	if (dump && rc == 0) {
		size_t n = sizeof(*h) + (size_t)h->count * sizeof(struct vfio_pci_dependent_device);
		hexdump(b, n < argsz ? n : argsz);
	}
	free(b);
}

/*
 * hot_reset d fds=LIST(none) count(entries) flags(0) argsz(12 + 4 * entries): VFIO_DEVICE_PCI_HOT_RESET
 * with the comma-separated fds (see fdspec) as the group fd array.
 */
static void op_hot_reset(const char *name)
{
	int d = slot("d");
	const char *fds = opt("fds");
	const char *cs = opt("count"), *as = opt("argsz");
	uint32_t flags = (uint32_t)unum("flags", 0);
	int32_t list[64];
	uint32_t n = 0;
	if (fds && strcmp(fds, "none")) {
		char tmp[512];
		snprintf(tmp, sizeof(tmp), "%s", fds);
		for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ",")) {
			if (n == 64)
				fatal("hot_reset: more than 64 fds");
			list[n++] = fdspec(tok, "fds");
		}
	}
	done_fields("hot_reset");
	size_t hdr = sizeof(struct vfio_pci_hot_reset);
	uint32_t count = cs ? (uint32_t)num(cs, "count") : n;
	uint32_t argsz = as ? (uint32_t)num(as, "argsz") : (uint32_t)(hdr + 4 * n);
	size_t len = hdr + 4 * n > argsz ? hdr + 4 * n : argsz;
	if (len > 4096)
		fatal("hot_reset: argsz above 4096");
	unsigned char *b = calloc(1, len);
	struct vfio_pci_hot_reset *r = (struct vfio_pci_hot_reset *)b;
	r->argsz = argsz;
	r->flags = flags;
	r->count = count;
	memcpy(b + hdr, list, 4 * n);
	int rc = ioctl(devices[d], VFIO_DEVICE_PCI_HOT_RESET, b);
	int e = rc ? errno : 0;
	free(b);
	caserc(name, rc, e);
	printf(" op=HOT_RESET argsz=%u flags=0x%x count=%u fds=%u\n", argsz, flags, count, n);
}

/*
 * ioeventfd d flags index(0) pos(0) data(0) fd argsz(32): VFIO_DEVICE_IOEVENTFD for the write of
 * `data` at `pos` in region `index` (offset = index << 40 | pos); fd as in fdspec.
 */
static void op_ioeventfd(const char *name)
{
	int d = slot("d");
	uint32_t flags = (uint32_t)req("flags");
	uint64_t index = unum("index", 0), pos = unum("pos", 0), data = unum("data", 0);
	const char *fs = opt("fd");
	uint32_t argsz = (uint32_t)unum("argsz", sizeof(struct vfio_device_ioeventfd));
	if (!fs)
		fatal("missing field fd");
	int32_t fd = fdspec(fs, "fd");
	done_fields("ioeventfd");
	size_t len = argsz > sizeof(struct vfio_device_ioeventfd) ? argsz : sizeof(struct vfio_device_ioeventfd);
	if (len > 4096)
		fatal("ioeventfd: argsz above 4096");
	unsigned char *b = calloc(1, len);
	struct vfio_device_ioeventfd *io = (struct vfio_device_ioeventfd *)b;
	io->argsz = argsz;
	io->flags = flags;
	io->offset = index << 40 | pos;
	io->data = data;
	io->fd = fd;
	int rc = ioctl(devices[d], VFIO_DEVICE_IOEVENTFD, b);
	int e = rc ? errno : 0;
	free(b);
	caserc(name, rc, e);
	printf(" op=IOEVENTFD flags=0x%x index=0x%" PRIx64 " pos=0x%" PRIx64 " data=0x%" PRIx64 " fd=%s\n", flags,
	       index, pos, data, fs);
}

/*
 * ioeventfd_fill d flags index pos fd data(0) max: VFIO_DEVICE_IOEVENTFD for data, data+1, ... on the
 * same fd until one is refused or `max` are registered.
 */
static void op_ioeventfd_fill(const char *name)
{
	int d = slot("d");
	uint32_t flags = (uint32_t)req("flags");
	uint64_t index = unum("index", 0), pos = unum("pos", 0), data = unum("data", 0);
	uint64_t max = req("max");
	const char *fs = opt("fd");
	if (!fs)
		fatal("missing field fd");
	int32_t fd = fdspec(fs, "fd");
	done_fields("ioeventfd_fill");
	uint64_t i;
	int rc = 0, e = 0;
	for (i = 0; i < max; i++) {
		struct vfio_device_ioeventfd io = { .argsz = sizeof(io), .flags = flags, .offset = index << 40 | pos,
						    .data = data + i, .fd = fd };
		rc = ioctl(devices[d], VFIO_DEVICE_IOEVENTFD, &io);
		if (rc) {
			e = errno;
			break;
		}
	}
	caserc(name, rc, e);
	printf(" op=IOEVENTFD_FILL registered=%" PRIu64 "%s\n", i, rc ? "" : " stopped=max");
}

/* efd_write e value(1): write(2) of a u64 to eventfd slot e (signals it) */
static void op_efd_write(const char *name)
{
	int k = (int)req("e");
	uint64_t v = unum("value", 1);
	done_fields("efd_write");
	ssize_t r = write(efd(k), &v, sizeof(v));
	int e = r < 0 ? errno : 0;
	caserc(name, r < 0 ? -1 : 0, e);
	printf(" value=%" PRIu64 "\n", v);
}

/*
 * region_read d index pos len(4) wait_ms(0): pread(2) of len (1, 2, 4 or 8) bytes at region `index`,
 * `pos` of the device fd, after waiting wait_ms (for deferred writes); prints the little-endian value.
 */
static void op_region_read(const char *name)
{
	int d = slot("d");
	uint64_t index = unum("index", 0), pos = unum("pos", 0);
	uint32_t len = (uint32_t)unum("len", 4);
	int wait_ms = (int)unum("wait_ms", 0);
	done_fields("region_read");
	if (len != 1 && len != 2 && len != 4 && len != 8)
		fatal("region_read: len must be 1, 2, 4 or 8");
	if (wait_ms)
		poll(NULL, 0, wait_ms);
	uint64_t v = 0;
	ssize_t r = pread(devices[d], &v, len, (off_t)(index << 40 | pos));
	int e = r < 0 ? errno : 0;
	caserc(name, r < 0 ? -1 : (int)r, e);
	printf(" op=REGION_READ index=0x%" PRIx64 " pos=0x%" PRIx64 " value=0x%" PRIx64 "\n", index, pos, r < 0 ? 0 : v);
}

/* region_write d index pos len(4) value: pwrite(2) of len (1, 2 or 4) little-endian bytes of value */
static void op_region_write(const char *name)
{
	int d = slot("d");
	uint64_t index = unum("index", 0), pos = unum("pos", 0);
	uint32_t len = (uint32_t)unum("len", 4);
	uint64_t v = req("value");
	done_fields("region_write");
	if (len != 1 && len != 2 && len != 4)
		fatal("region_write: len must be 1, 2 or 4");
	ssize_t r = pwrite(devices[d], &v, len, (off_t)(index << 40 | pos));
	int e = r < 0 ? errno : 0;
	caserc(name, r < 0 ? -1 : (int)r, e);
	printf(" op=REGION_WRITE index=0x%" PRIx64 " pos=0x%" PRIx64 " value=0x%" PRIx64 "\n", index, pos, v);
}

/*
 * SET_IRQS. data=none | bool:B,B,... | efd:K,K,...  (K: eventfd slot, or -1,
 * or bad for an fd number that is not open). argsz defaults to header + data.
 */
static void op_set_irqs(const char *name)
{
	int d = slot("d");
	uint32_t index = (uint32_t)req("index");
	uint32_t start = (uint32_t)unum("start", 0);
	uint32_t count = (uint32_t)unum("count", 0);
	uint32_t flags = (uint32_t)req("flags");
	const char *data = opt("data");
	const char *as = opt("argsz");
	done_fields("set_irqs");
	unsigned char payload[256];
	size_t plen = 0;
	if (data && strcmp(data, "none")) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", data);
		char *colon = strchr(tmp, ':');
		if (!colon)
			fatal("set_irqs: data must be none, bool:.. or efd:..");
		*colon = 0;
		int isbool = !strcmp(tmp, "bool");
		if (!isbool && strcmp(tmp, "efd"))
			fatal("set_irqs: unknown data kind '%s'", tmp);
		for (char *tok = strtok(colon + 1, ","); tok; tok = strtok(NULL, ",")) {
			if (isbool) {
				if (plen + 1 > sizeof(payload))
					fatal("set_irqs: too much data");
				payload[plen++] = (unsigned char)num(tok, "data");
			} else {
				int32_t fd;
				if (!strcmp(tok, "bad"))
					fd = 1000;
				else {
					int64_t k = (int64_t)num(tok, "data");
					fd = k < 0 ? (int32_t)k : efd((int)k);
				}
				if (plen + 4 > sizeof(payload))
					fatal("set_irqs: too much data");
				memcpy(payload + plen, &fd, 4);
				plen += 4;
			}
		}
	}
	size_t hdr = sizeof(struct vfio_irq_set);
	uint32_t argsz = as ? (uint32_t)num(as, "argsz") : (uint32_t)(hdr + plen);
	size_t alloc = hdr + plen > argsz ? hdr + plen : argsz;
	unsigned char *b = calloc(1, alloc);
	struct vfio_irq_set *s = (void *)b;
	s->argsz = argsz;
	s->flags = flags;
	s->index = index;
	s->start = start;
	s->count = count;
	memcpy(b + hdr, payload, plen);
	int rc = ioctl(devices[d], VFIO_DEVICE_SET_IRQS, b);
	int e = rc ? errno : 0;
	free(b);
	caserc(name, rc, e);
	printf(" op=SET_IRQS index=%u start=%u count=%u flags=0x%x\n", index, start, count, flags);
}

/* non-blocking eventfd read: how many signals arrived since the last read */
static void op_efd_read(const char *name)
{
	int k = (int)req("e");
	int wait_ms = (int)unum("wait_ms", 0);
	done_fields("efd_read");
	int fd = efd(k);
	uint64_t v = 0;
	if (wait_ms) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, wait_ms);
	}
	ssize_t r = read(fd, &v, sizeof(v));
	int e = r < 0 ? errno : 0;
	caserc(name, 0, 0);
	printf(" count=%" PRIu64 "%s\n", r == 8 ? v : 0, e == EAGAIN ? " empty=1" : "");
}

/* p=NAME: vfio_iommu_type1's parameter NAME; p=MODULE.NAME: another module's (iommufd.allow_unsafe_interrupts) */
static const char *param_path(const char *p, char *buf, size_t n)
{
	const char *dot = strchr(p, '.');
	if (dot)
		snprintf(buf, n, "/sys/module/%.*s/parameters/%s", (int)(dot - p), p, dot + 1);
	else
		snprintf(buf, n, "/sys/module/vfio_iommu_type1/parameters/%s", p);
	return buf;
}

/* The first line of a file (without its newline) into val; 0 or the errno of the open. */
static int read_first_line(const char *path, char *val, size_t n)
{
	val[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno;
	if (fgets(val, (int)n, f))
		val[strcspn(val, "\n")] = 0;
	fclose(f);
	return 0;
}

static void op_param_get(const char *name)
{
	const char *p = opt("p");
	char path[160], val[64];
	done_fields("param_get");
	if (!p)
		fatal("param_get: missing p=");
	int e = read_first_line(param_path(p, path, sizeof(path)), val, sizeof(val));
	caserc(name, e ? -1 : 0, e);
	printf(" param=%s value=%s\n", p, val);
}

/* pci_attr d attr wait_ms(0): a line of /sys/bus/pci/devices/<bdf of slot d>/<attr> (power_state, ...) */
static void op_pci_attr(const char *name)
{
	int d = slot("d");
	const char *a = opt("attr");
	int wait_ms = (int)unum("wait_ms", 0);
	char path[200], val[64];
	done_fields("pci_attr");
	if (!a || strchr(a, '/') || !bdf[d])
		fatal("pci_attr: needs attr= (a file name) and a bdf for slot d");
	if (wait_ms)
		usleep((useconds_t)wait_ms * 1000);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf[d], a);
	int e = read_first_line(path, val, sizeof(val));
	caserc(name, e ? -1 : 0, e);
	printf(" op=PCI_ATTR attr=%s value=%s\n", a, val);
}

static void op_param_set(const char *name)
{
	const char *p = opt("p"), *v = opt("value");
	char path[160];
	done_fields("param_set");
	if (!p || !v)
		fatal("param_set: needs p= and value=");
	int fd = open(param_path(p, path, sizeof(path)), O_WRONLY);
	int rc = -1, e = 0;
	if (fd >= 0) {
		ssize_t w = write(fd, v, strlen(v));
		rc = w < 0 ? -1 : 0;
		e = w < 0 ? errno : 0;
		close(fd);
	} else {
		e = errno;
	}
	caserc(name, rc, e);
	printf(" param=%s value=%s\n", p, v);
}

/* ---- locked memory: what type1 charges for pinned pages (mm->locked_vm against RLIMIT_MEMLOCK) ---- */

/* rlimit_memlock value=BYTES|inf: the soft RLIMIT_MEMLOCK (the hard one unlimited) */
static void op_rlimit_memlock(const char *name)
{
	const char *v = opt("value");
	done_fields("rlimit_memlock");
	if (!v)
		fatal("rlimit_memlock: needs value=");
	struct rlimit r = { .rlim_cur = strcmp(v, "inf") ? num(v, "value") : RLIM_INFINITY, .rlim_max = RLIM_INFINITY };
	int rc = setrlimit(RLIMIT_MEMLOCK, &r);
	caserc(name, rc, rc ? errno : 0);
	printf(" op=RLIMIT_MEMLOCK value=%s\n", v);
}

/* cap_ipc_lock value=0|1: CAP_IPC_LOCK in the effective set (it stays permitted, so it can come back) */
static void op_cap_ipc_lock(const char *name)
{
	uint64_t on = unum("value", 1);
	done_fields("cap_ipc_lock");
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	int rc = (int)syscall(SYS_capget, &h, d);
	if (!rc) {
		if (on)
			d[0].effective |= 1u << CAP_IPC_LOCK;
		else
			d[0].effective &= ~(1u << CAP_IPC_LOCK);
		rc = (int)syscall(SYS_capset, &h, d);
	}
	caserc(name, rc, rc ? errno : 0);
	printf(" op=CAP_IPC_LOCK value=%" PRIu64 "\n", on);
}

/* mlock|munlock vaddr=SPEC size=N: the process locks (or unlocks) its own pages, which count in VmLck too */
static void op_mlock_common(const char *name, int lock)
{
	const char *vs = opt("vaddr");
	uint64_t size = unum("size", PAGE);
	done_fields(lock ? "mlock" : "munlock");
	if (!vs)
		fatal("%s: needs vaddr=", lock ? "mlock" : "munlock");
	char vt[64];
	uint64_t va = vaddr_of(vs);
	vaddr_text(vs, vt, sizeof(vt));
	int rc = lock ? mlock((void *)(uintptr_t)va, size) : munlock((void *)(uintptr_t)va, size);
	caserc(name, rc, rc ? errno : 0);
	printf(" op=%s vaddr_off=%s size=0x%" PRIx64 "\n", lock ? "MLOCK" : "MUNLOCK", vt, size);
}

static void op_mlock(const char *name)
{
	op_mlock_common(name, 1);
}

static void op_munlock(const char *name)
{
	op_mlock_common(name, 0);
}

/* vmlck: the process's locked memory as /proc/self/status shows it (VmLck, kB) */
static void op_vmlck(const char *name)
{
	done_fields("vmlck");
	FILE *f = fopen("/proc/self/status", "r");
	int e = f ? 0 : errno;
	long kb = -1;
	char line[256];
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmLck:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	caserc(name, f ? 0 : -1, e);
	printf(" op=VMLCK kb=%ld\n", kb);
}

/* ---- sysfs evidence ---- */
static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static void cat_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f) {
		printf("ERRFILE %s errno=%s\n", path, ename(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
}

static void read_small(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	out[0] = 0;
	if (!f) {
		snprintf(out, n, "?");
		return;
	}
	if (fgets(out, (int)n, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

/*
 * group_type g=SLOT | nr=N value=TEXT: echo TEXT > /sys/kernel/iommu_groups/<group>/type (the newline
 * included, as echo writes it), then read the type back. rc is write(2)'s answer (bytes written).
 */
static void op_group_type(const char *name)
{
	const char *v = opt("value");
	const char *nrs = opt("nr");
	int g = nrs ? (int)num(nrs, "nr") : group_nr[slot("g")];
	char path[128], buf[80], t[64];
	done_fields("group_type");
	if (!v)
		fatal("group_type: needs value=");
	if (g < 0)
		fatal("group_type: no group number for that slot");
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/type", g);
	snprintf(buf, sizeof(buf), "%s\n", v);
	int fd = open(path, O_WRONLY);
	int rc = -1, e = 0;
	if (fd >= 0) {
		ssize_t w = write(fd, buf, strlen(buf));
		rc = w < 0 ? -1 : (int)w;
		e = w < 0 ? errno : 0;
		close(fd);
	} else {
		e = errno;
	}
	read_small(path, t, sizeof(t));
	caserc(name, rc, e);
	printf(" op=GROUP_TYPE group=%d value=%s type=%s\n", g, v, t);
}

static void dump_group(int g, int with_devices)
{
	char path[256], t[64];
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/type", g);
	read_small(path, t, sizeof(t));
	printf("GROUP %d type=%s\n", g, t);
	if (with_devices) {
		snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", g);
		struct dirent **ents;
		int n = scandir(path, &ents, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			const char *dn = ents[i]->d_name;
			if (dn[0] != '.') {
				char base[600], v[32], dv[32], cl[32], link[700], drv[300] = "none";
				snprintf(base, sizeof(base), "%s/%s", path, dn);
				snprintf(link, sizeof(link), "%s/vendor", base);
				read_small(link, v, sizeof(v));
				snprintf(link, sizeof(link), "%s/device", base);
				read_small(link, dv, sizeof(dv));
				snprintf(link, sizeof(link), "%s/class", base);
				read_small(link, cl, sizeof(cl));
				char dpath[700], target[256];
				snprintf(dpath, sizeof(dpath), "%s/driver", base);
				ssize_t r = readlink(dpath, target, sizeof(target) - 1);
				if (r > 0) {
					target[r] = 0;
					const char *slash = strrchr(target, '/');
					snprintf(drv, sizeof(drv), "%s", slash ? slash + 1 : target);
				}
				printf("GROUP %d device=%s vendor=%s devid=%s class=%s driver=%s\n", g, dn, v, dv, cl, drv);
			}
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
	}
	printf("RESV_BEGIN %d\n", g);
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/reserved_regions", g);
	cat_file(path);
	printf("RESV_END %d\n", g);
}

static void op_groups(const char *name)
{
	done_fields("groups");
	int nrs[256], n = 0;
	DIR *d = opendir("/sys/kernel/iommu_groups");
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && n < 256)
			nrs[n++] = atoi(de->d_name);
	if (d)
		closedir(d);
	qsort(nrs, n, sizeof(int), cmp_int);
	printf("CASE %s rc=0 errno=0 op=GROUPS count=%d\n", name, n);
	for (int i = 0; i < n; i++)
		dump_group(nrs[i], 1);
}

static void op_resv(const char *name)
{
	int g = slot("g");
	done_fields("resv");
	printf("CASE %s rc=0 errno=0 op=RESV group=%d\n", name, group_nr[g]);
	dump_group(group_nr[g], 0);
}

/* ---- MSI evidence: the MSI capability as the device holds it (host sysfs) ---- */
static int read_config(int d, unsigned char *cfg, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf[d]);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t r = pread(fd, cfg, n, 0);
	close(fd);
	return r < 0 ? -errno : (int)r;
}

static void op_msi_read(const char *name)
{
	int d = slot("d");
	done_fields("msi_read");
	unsigned char cfg[256];
	if (!bdf[d])
		fatal("msi_read: no PCI address for slot d%d", d);
	int r = read_config(d, cfg, sizeof(cfg));
	if (r < 256) {
		caserc(name, -1, r < 0 ? -r : EIO);
		putchar('\n');
		return;
	}
	unsigned pos = cfg[0x34] & 0xfc;
	for (int guard = 0; pos && guard < 48; guard++) {
		if (cfg[pos] == 0x05) { /* PCI_CAP_ID_MSI */
			uint16_t ctl = cfg[pos + 2] | cfg[pos + 3] << 8;
			uint32_t lo = cfg[pos + 4] | cfg[pos + 5] << 8 | cfg[pos + 6] << 16 | (uint32_t)cfg[pos + 7] << 24;
			uint32_t hi = 0;
			unsigned doff = pos + 8;
			if (ctl & 0x80) { /* 64-bit address */
				hi = cfg[pos + 8] | cfg[pos + 9] << 8 | cfg[pos + 10] << 16 | (uint32_t)cfg[pos + 11] << 24;
				doff = pos + 12;
			}
			uint16_t data = cfg[doff] | cfg[doff + 1] << 8;
			caserc(name, 0, 0);
			printf(" op=MSI_READ enable=%d addr=0x%" PRIx64 " data=0x%x\n", ctl & 1, (uint64_t)hi << 32 | lo, data);
			return;
		}
		pos = cfg[pos + 1] & 0xfc;
	}
	caserc(name, -1, ENOENT);
	printf(" op=MSI_READ\n");
}

/*
 * Make the e1000e raise an interrupt cause (a real MSI write from the device,
 * through the IOMMU): enable memory + bus mastering in the VFIO config view,
 * clear/unmask through BAR0 (region 0) and set the cause. The delivery is
 * observed with efd_read.
 */
#define E1000_ICR 0x00c0
#define E1000_ITR 0x00c4
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
static int region_off(int d, uint32_t index, uint64_t *off)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };
	if (ioctl(devices[d], VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	*off = ri.offset;
	return 0;
}

static int reg_write(int d, uint64_t bar0, uint32_t reg, uint32_t v)
{
	return pwrite(devices[d], &v, 4, (off_t)(bar0 + reg)) == 4 ? 0 : -errno;
}

static void op_msi_fire(const char *name)
{
	int d = slot("d");
	uint32_t cause = (uint32_t)unum("cause", 0x1000000); /* ICR.RXQ0 */
	done_fields("msi_fire");
	uint64_t cfgoff = 0, bar0 = 0;
	int r = region_off(d, VFIO_PCI_CONFIG_REGION_INDEX, &cfgoff);
	if (!r)
		r = region_off(d, VFIO_PCI_BAR0_REGION_INDEX, &bar0);
	if (!r) {
		uint16_t cmd;
		if (pread(devices[d], &cmd, 2, (off_t)(cfgoff + 4)) != 2)
			r = -errno;
		cmd |= 0x6; /* MEMORY | MASTER */
		if (!r && pwrite(devices[d], &cmd, 2, (off_t)(cfgoff + 4)) != 2)
			r = -errno;
	}
	if (!r)
		r = reg_write(d, bar0, E1000_IMC, 0xffffffff);
	if (!r) {
		uint32_t icr;
		if (pread(devices[d], &icr, 4, (off_t)(bar0 + E1000_ICR)) != 4)
			r = -errno;
	}
	if (!r)
		r = reg_write(d, bar0, E1000_ITR, 0);
	if (!r)
		r = reg_write(d, bar0, E1000_IMS, cause);
	if (!r)
		r = reg_write(d, bar0, E1000_ICS, cause);
	/* let the emulated device deliver (and QEMU's throttle timer expire) */
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	if (!r)
		r = reg_write(d, bar0, E1000_IMC, 0xffffffff);
	caserc(name, r ? -1 : 0, r ? -r : 0);
	printf(" op=MSI_FIRE cause=0x%x\n", cause);
}

#include "iommufd-ops.inc.c"

/* ------------------------------------------------------------------ */
static void run_line(char *line)
{
	char *toks[MAXF + 2];
	int nt = 0;
	for (char *t = strtok(line, " \t\r\n"); t && nt < MAXF + 2; t = strtok(NULL, " \t\r\n"))
		toks[nt++] = t;
	if (!nt || toks[0][0] == '#')
		return;
	const char *op = toks[0];
	if (!strcmp(op, "format")) {
		if (nt != 2 || (strcmp(toks[1], "full") && strcmp(toks[1], "compact")))
			fatal("format: full or compact");
		compact = !strcmp(toks[1], "compact");
		return;
	}
	if (!strcmp(op, "section")) {
		if (nt != 2)
			fatal("section: one name");
		printf("SECTION %s\n", toks[1]);
		return;
	}
	if (!strcmp(op, "scenario")) {
		if (nt != 2)
			fatal("scenario: one name");
		printf("SCENARIO %s\n", toks[1]);
		return;
	}
	if (nt < 2)
		fatal("%s: missing case name", op);
	const char *name = toks[1];
	nf = 0;
	for (int i = 2; i < nt; i++) {
		char *eq = strchr(toks[i], '=');
		if (!eq)
			fatal("field '%s' is not key=value", toks[i]);
		*eq = 0;
		fk[nf] = toks[i];
		fv[nf] = eq + 1;
		fused[nf] = 0;
		nf++;
	}
	static const struct { const char *op; void (*fn)(const char *); } ops[] = {
		{ "open_container", op_open_container }, { "api_version", op_api_version },
		{ "check_ext", op_check_ext }, { "open_group", op_open_group },
		{ "group_status", op_group_status }, { "set_container", op_set_container },
		{ "unset_container", op_unset_container }, { "set_iommu", op_set_iommu },
		{ "get_info", op_get_info }, { "map", op_map }, { "unmap", op_unmap }, { "fill", op_fill },
		{ "device_fd", op_device_fd }, { "device_info", op_device_info }, { "irq_info", op_irq_info },
		{ "set_irqs", op_set_irqs }, { "efd_read", op_efd_read }, { "param_get", op_param_get },
		{ "param_set", op_param_set }, { "groups", op_groups }, { "resv", op_resv },
		{ "msi_read", op_msi_read }, { "msi_fire", op_msi_fire }, { "dirty", op_dirty },
		{ "dirty_get", op_dirty_get }, { "group_type", op_group_type }, { "region_info", op_region_info },
		{ "device_feature", op_device_feature }, { "raw_ioctl", op_raw_ioctl },
		{ "hot_reset_info", op_hot_reset_info }, { "hot_reset", op_hot_reset }, { "ioeventfd", op_ioeventfd },
		{ "ioeventfd_fill", op_ioeventfd_fill }, { "efd_write", op_efd_write }, { "region_read", op_region_read },
		{ "region_write", op_region_write }, { "rlimit_memlock", op_rlimit_memlock },
		{ "cap_ipc_lock", op_cap_ipc_lock }, { "vmlck", op_vmlck }, { "mlock", op_mlock },
		{ "munlock", op_munlock }, { "open_iommufd", op_open_iommufd }, { "close_iommufd", op_close_iommufd },
		{ "ioas_alloc", op_ioas_alloc }, { "destroy", op_iommu_destroy }, { "ioas_ranges", op_ioas_ranges },
		{ "ioas_map", op_ioas_map }, { "ioas_unmap", op_ioas_unmap }, { "ioas_allow", op_ioas_allow },
		{ "option", op_iommu_option }, { "open_cdev", op_open_cdev }, { "bind_iommufd", op_bind_iommufd },
		{ "attach_pt", op_attach_pt }, { "detach_pt", op_detach_pt }, { "hwpt_alloc", op_hwpt_alloc },
		{ "hw_info", op_hw_info }, { "ioas_copy", op_ioas_copy }, { "vfio_ioas", op_vfio_ioas },
		{ "compat_container", op_compat_container }, { "pci_attr", op_pci_attr },
	};
	if (!strcmp(op, "close_container"))
		return op_close(name, containers, "c", op);
	if (!strcmp(op, "close_group"))
		return op_close(name, groups, "g", op);
	if (!strcmp(op, "close_device"))
		return op_close(name, devices, "d", op);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].op, op)) {
			ops[i].fn(name);
			fflush(stdout);
			return;
		}
	fatal("unknown operation '%s'", op);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE [g0=N] [g1=N] [d0=BDF] [d1=BDF]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		if ((a[0] == 'g' || a[0] == 'd') && a[1] >= '0' && a[1] < '0' + MAXSLOT && a[2] == '=') {
			if (a[0] == 'g')
				group_nr[a[1] - '0'] = atoi(a + 3);
			else
				bdf[a[1] - '0'] = a + 3;
		} else {
			fprintf(stderr, "bad argument %s\n", a);
			return 2;
		}
	}
	/*
	 * Fixed addresses (the model's EXEC_MEMORY): the layout, and so what lies next to each buffer, is
	 * the same on every machine and in the model; nothing else is mapped near them.
	 */
	rwbuf = mmap((void *)BUF_ADDR, BUF_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	robuf = mmap((void *)RO_ADDR, RO_BYTES, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (rwbuf != (void *)BUF_ADDR || robuf != (void *)RO_ADDR) {
		printf("ERROR cannot map the executor buffers at their fixed addresses\n");
		return 1;
	}
	memset(rwbuf, 0x5a, BUF_BYTES);
	src_file = argv[1];
	FILE *f = !strcmp(argv[1], "-") ? stdin : fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	char line[4096];
	while (fgets(line, sizeof(line), f)) {
		src_line++;
		run_line(line);
	}
	printf("END lines=%d\n", src_line);
	return 0;
}
